//! GEMM against the float64 triple loop and its scalar twin, at sizes that leave partial tiles and blocks.

mod common;
use common::*;
use tnn_kernels::f16::{f16_bits_to_f32, f32_to_f16_bits};
use tnn_kernels::gemm::*;

/// (m, k, n): ones, sizes off every tile/block multiple (MR = 2, NR = 4, KC = 512, NC = 32, MC = 64, packing from m = 8), and both across KC.
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
