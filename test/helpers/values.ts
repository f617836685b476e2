/** Deterministic values in [-1, 1) (xorshift32), so failures reproduce. */
export function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}
