// The threaded simd128 build with a pool of three threads (more than this machine's cores is fine: results do not
// depend on the count), through the same kernel checks as the single-threaded builds.
import { describeKernelChecks } from "./runtimes/kernel-checks.js";

describeKernelChecks("simd", { threads: 3 });
