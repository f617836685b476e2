// The single-threaded simd128 build (the one Cloudflare Workers and pages without cross-origin isolation run),
// through the same kernel checks as the other builds (test/runtime-kernels-scalar.test.ts,
// test/runtime-kernels-threads.test.ts).
import { describeKernelChecks } from "./runtimes/kernel-checks.js";

describeKernelChecks("simd", { threads: 1 });
