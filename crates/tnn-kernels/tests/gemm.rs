//! GEMM against the float64 triple loop and its scalar twin, at sizes that leave partial tiles and blocks.

mod common;
use common::*;
use tnn_kernels::f16::{f16_bits_to_f32, f32_to_f16_bits};
use tnn_kernels::gemm::*;
use tnn_kernels::simd::F32x4;

/// (m, k, n): ones, sizes off every tile/block multiple (few-row tiles MR = 2, NR = 4; packed tiles 4 × 8; KC = 512, NC = 32,
/// MC = 128; packing from m = 8), and both across KC and MC.
const SIZES: [(usize, usize, usize); 16] = [
    (1, 1, 1),
    (1, 7, 1),
    (1, 64, 5),
    (2, 3, 3),
    (3, 5, 7),
    (5, 4, 4),
    (4, 4, 4),
    (7, 13, 33),
    (9, 64, 70),
    (6, 511, 35),
    (5, 513, 9),
    (3, 1100, 37),
    (17, 1025, 66),
    (4, 0, 6),
    (70, 33, 5),
    (130, 600, 13),
];

fn reference(x: &[f32], w: &[f64], b: Option<&[f32]>, m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    // Also returns Σ|x·w| per output: the scale of the f32 rounding error.
    let mut y = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = b.map_or(0.0, |b| b[j] as f64);
            let mut a = s.abs();
            for p in 0..k {
                let t = x[i * k + p] as f64 * w[j * k + p];
                s += t;
                a += t.abs();
            }
            y[i * n + j] = s;
            mag[i * n + j] = a;
        }
    }
    (y, mag)
}

fn assert_close(got: &[f32], want: &[f64], mag: &[f64], k: usize, what: &str) {
    for i in 0..want.len() {
        let tol = 2.0 * (k as f64 + 2.0) * f32::EPSILON as f64 * mag[i] + 1e-30;
        assert!((got[i] as f64 - want[i]).abs() <= tol, "{what}: [{i}] {} vs {} (tol {tol})", got[i], want[i]);
    }
}

#[test]
fn gemm_matches_float64_at_awkward_sizes() {
    for (s, &(m, k, n)) in SIZES.iter().enumerate() {
        let mut rng = Rng::new(s as u64);
        let x = rng.vec(m * k, -1.0, 1.0);
        let w = rng.vec(n * k, -1.0, 1.0);
        let b = rng.vec(n, -1.0, 1.0);
        let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        for bias in [Some(&b[..]), None] {
            let (want, mag) = reference(&x, &w64, bias, m, k, n);
            let mut y = vec![f32::NAN; m * n];
            gemm(&x, &w, bias, &mut y, m, k, n);
            assert_close(&y, &want, &mag, k, &format!("gemm {m}x{k}x{n} bias={}", bias.is_some()));
            let mut ys = vec![f32::NAN; m * n];
            gemm_scalar(&x, &w, bias, &mut ys, m, k, n);
            assert_close(&ys, &want, &mag, k, "gemm_scalar");
        }
    }
}

#[test]
fn gemm_writes_only_its_output() {
    let (m, k, n) = (3, 9, 5);
    let mut rng = Rng::new(5);
    let x = rng.vec(m * k, -1.0, 1.0);
    let w = rng.vec(n * k, -1.0, 1.0);
    let mut y = vec![7.0f32; m * n + 3];
    gemm(&x, &w, None, &mut y, m, k, n);
    assert_eq!(&y[m * n..], &[7.0, 7.0, 7.0]);
}

#[test]
fn gemm_f16_matches_float64_of_the_widened_weights() {
    for (s, &(m, k, n)) in SIZES.iter().enumerate() {
        let mut rng = Rng::new(50 + s as u64);
        let x = rng.vec(m * k, -1.0, 1.0);
        let w16: Vec<u16> = rng.vec(n * k, -1.0, 1.0).iter().map(|&v| f32_to_f16_bits(v)).collect();
        let b = rng.vec(n, -1.0, 1.0);
        let w64: Vec<f64> = w16.iter().map(|&h| f16_bits_to_f32(h) as f64).collect();
        for bias in [Some(&b[..]), None] {
            let (want, mag) = reference(&x, &w64, bias, m, k, n);
            let mut y = vec![f32::NAN; m * n];
            gemm_f16(&x, &w16, bias, &mut y, m, k, n);
            assert_close(&y, &want, &mag, k, &format!("gemm_f16 {m}x{k}x{n}"));
            let mut ys = vec![f32::NAN; m * n];
            gemm_f16_scalar(&x, &w16, bias, &mut ys, m, k, n);
            assert_close(&ys, &want, &mag, k, "gemm_f16_scalar");
        }
    }
}

/// What the scalar conversion gives, compared bit for bit (so ±0 differ), any NaN matching any NaN.
fn same_widening(got: f32, h: u16) -> bool {
    let want = f16_bits_to_f32(h);
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

#[test]
fn load_f16x8_widens_every_half_exactly_in_every_lane() {
    let all: Vec<u16> = (0..=u16::MAX).chain(0..8).collect();
    // Eight offsets put each bit pattern once in each lane.
    for off in 0..8 {
        for i in (off..=u16::MAX as usize + 1 - 8 + off).step_by(8) {
            // SAFETY: i + 8 <= all.len().
            let (lo, hi) = unsafe { F32x4::load_f16x8_ptr(all.as_ptr().add(i)) };
            let (lo, hi) = (lo.to_array(), hi.to_array());
            for l in 0..8 {
                let got = if l < 4 { lo[l] } else { hi[l - 4] };
                let h = all[i + l];
                assert!(same_widening(got, h), "{h:#06x} in lane {l}: {got:e} ({:#010x})", got.to_bits());
            }
        }
    }
}

/// Random halves of either sign, 15% of them subnormal and 5% zeros (of either sign); never inf or NaN.
fn finite_halves(rng: &mut Rng, len: usize) -> Vec<u16> {
    (0..len)
        .map(|_| {
            let u = rng.next_u64();
            let sign = (u as u16) & 0x8000;
            let mag = match (u >> 16) % 20 {
                0 => 0,
                1..=3 => ((u >> 32) % 0x3ff) as u16 + 1,
                // Magnitudes below 4: with x in [-1, 1] the sums stay far from f32 overflow.
                _ => ((u >> 32) % 0x43ff) as u16 + 1,
            };
            sign | mag
        })
        .collect()
}

/// Float64 reference that also takes infinities: NaN wherever +inf meets -inf (or 0 · inf).
fn assert_close_or_same_special(got: &[f32], want: &[f64], mag: &[f64], k: usize, what: &str) {
    for i in 0..want.len() {
        if want[i].is_nan() {
            assert!(got[i].is_nan(), "{what}: [{i}] {} vs NaN", got[i]);
        } else if want[i].is_infinite() {
            assert_eq!(got[i] as f64, want[i], "{what}: [{i}]");
        } else {
            assert_close(&got[i..i + 1], &want[i..i + 1], &mag[i..i + 1], k, what);
        }
    }
}

#[test]
fn gemm_f16_few_rows_match_float64_with_subnormals_zeros_and_infinities() {
    // m = 1..4 read the halves in place (m = 4 in one tile), m = 5 widens them into panels; k crosses the 8-wide step
    // and the 512-element block of the panel path, n the 4-row tile of the f32 microkernel.
    let mut s = 0;
    for m in [1, 2, 3, 4, 5] {
        for k in [1, 3, 8, 17, 512, 513] {
            for n in [1, 5, 67, 1536] {
                s += 1;
                let mut rng = Rng::new(900 + s);
                let x = rng.vec(m * k, -1.0, 1.0);
                let mut w16 = finite_halves(&mut rng, n * k);
                // A few rows get +inf, -inf or both (NaN), so that most outputs stay finite and comparable.
                for j in 0..n {
                    let p = (rng.next_u64() % k as u64) as usize;
                    let q = (rng.next_u64() % k as u64) as usize;
                    match j % 13 {
                        3 => w16[j * k + p] = 0x7c00,
                        7 => w16[j * k + p] = 0xfc00,
                        11 if p != q => {
                            w16[j * k + p] = 0x7c00;
                            w16[j * k + q] = 0xfc00;
                        }
                        _ => {}
                    }
                }
                let b = rng.vec(n, -1.0, 1.0);
                let w64: Vec<f64> = w16.iter().map(|&h| f16_bits_to_f32(h) as f64).collect();
                for bias in [Some(&b[..]), None] {
                    let (want, mag) = reference(&x, &w64, bias, m, k, n);
                    let what = format!("gemm_f16 {m}x{k}x{n} bias={}", bias.is_some());
                    let mut y = vec![f32::NAN; m * n];
                    gemm_f16(&x, &w16, bias, &mut y, m, k, n);
                    assert_close_or_same_special(&y, &want, &mag, k, &what);
                    let mut ys = vec![f32::NAN; m * n];
                    gemm_f16_scalar(&x, &w16, bias, &mut ys, m, k, n);
                    assert_close_or_same_special(&ys, &want, &mag, k, "gemm_f16_scalar");
                }
            }
        }
    }
}

#[test]
fn gemm_f16_few_rows_decode_every_half_exactly() {
    // Row j of w holds bit pattern j at column p and finite halves elsewhere; the rows of x are the unit vector e_p, so
    // y[i][j] is the widened pattern itself, the other terms being zeros (a -0 pattern reads back as +0: sums start
    // from +0).
    // k = 17 puts p in every lane of the 8-wide step (twice) and in the scalar tail; m = 1..4 takes each tile size.
    let (k, n) = (17, 1 << 16);
    let mut rng = Rng::new(77);
    let base = finite_halves(&mut rng, n * k);
    for m in [1, 2, 3, 4] {
        for p in 0..k {
            let mut w16 = base.clone();
            for j in 0..n {
                w16[j * k + p] = j as u16;
            }
            let mut x = vec![0.0f32; m * k];
            for i in 0..m {
                x[i * k + p] = 1.0;
            }
            let mut y = vec![f32::NAN; m * n];
            gemm_f16(&x, &w16, None, &mut y, m, k, n);
            for i in 0..m {
                for j in 0..n {
                    let h = j as u16;
                    let got = y[i * n + j];
                    let ok = if h == 0x8000 { got.to_bits() == 0 } else { same_widening(got, h) };
                    assert!(ok, "m={m} p={p} row {i}: {h:#06x} -> {got:e}");
                }
            }
        }
    }
}
