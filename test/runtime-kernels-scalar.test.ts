// The scalar build (for engines without simd128) must pass the same kernel checks as the simd128 build.
import { describeKernelChecks } from "./runtimes/kernel-checks.js";

describeKernelChecks("scalar");
