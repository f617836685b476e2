// The simd128 build, through the same kernel checks as the scalar build (test/runtime-kernels-scalar.test.ts).
import { describeKernelChecks } from "./runtimes/kernel-checks.js";

describeKernelChecks("simd");
