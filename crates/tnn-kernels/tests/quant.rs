//! Int8 weights: quantisation bounds, GEMM against float64 of the dequantised matrix and against its scalar twin,
//! embedding gather, and the shape checks.

mod common;
use common::*;
use tnn_kernels::quant::*;

fn quantize(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0x55i8; rows * cols];
    let mut s = vec![f32::NAN; rows];
    quantize_rows_i8(w, rows, cols, &mut q, &mut s);
    (q, s)
}

/// Half a step, plus what rounding `w / scale` (≤ 127.5 · 2^-24 steps) and `scale` itself can add.
fn assert_within_half_step(w: &[f32], q: &[i8], s: &[f32], rows: usize, cols: usize) {
    for r in 0..rows {
        for c in 0..cols {
            let (wv, qv) = (w[r * cols + c] as f64, q[r * cols + c]);
            assert!((-127..=127).contains(&qv), "[{r}][{c}] code {qv}");
            let err = (wv - s[r] as f64 * qv as f64).abs();
            assert!(err <= s[r] as f64 * (0.5 + 1e-5), "[{r}][{c}] w={wv} scale={} q={qv} err={err}", s[r]);
        }
    }
}

#[test]
fn quantisation_is_within_half_a_step() {
    let mut rng = Rng::new(1);
    let (rows, cols) = (37, 129);
    let mut w = rng.vec(rows * cols, -3.0, 3.0);
    // Rows of very different magnitudes: the scale is per row.
    for r in 0..rows {
        let f = 10f32.powi(r as i32 % 9 - 4);
        w[r * cols..(r + 1) * cols].iter_mut().for_each(|v| *v *= f);
    }
    let (q, s) = quantize(&w, rows, cols);
    assert_within_half_step(&w, &q, &s, rows, cols);
    for r in 0..rows {
        let max = w[r * cols..(r + 1) * cols].iter().fold(0.0f32, |a, v| a.max(v.abs()));
        assert_eq!(s[r], max / 127.0, "row {r} scale");
        // The largest magnitude lands on ±127.
        assert_eq!(q[r * cols..(r + 1) * cols].iter().map(|v| v.unsigned_abs()).max(), Some(127), "row {r}");
    }
}

#[test]
fn quantisation_of_zero_negative_and_tied_rows() {
    let cols = 6;
    let w = [
        [0.0, 0.0, -0.0, 0.0, 0.0, 0.0],
        // Maximum magnitude is negative: it gets -127, never -128, and the positive side stays symmetric.
        [-2.54, 1.0, 0.0, 2.54, -0.02, 0.01],
        [-5.0, -1.0, -0.5, -3.0, -4.99, -0.0],
        // Steps of 1/127: k + 1/2 steps are exact ties in the quotient, and go to the even code.
        [127.0, 0.5, 1.5, 2.5, -0.5, -1.5],
    ];
    let flat: Vec<f32> = w.iter().flatten().copied().collect();
    let (q, s) = quantize(&flat, 4, cols);
    assert_eq!(s[0], 0.0);
    assert_eq!(&q[0..6], &[0; 6]);
    assert_eq!(s[1], 2.54 / 127.0);
    assert_eq!(q[6], -127);
    assert_eq!(q[9], 127);
    assert_eq!(q[12], -127);
    assert!(q[13..18].iter().all(|&v| v <= 0));
    assert_eq!(s[3], 1.0);
    assert_eq!(&q[18..24], &[127, 0, 2, 2, 0, -2]);
    assert_within_half_step(&flat, &q, &s, 4, cols);
}

#[test]
fn quantisation_never_yields_minus_128() {
    let mut rng = Rng::new(2);
    let (rows, cols) = (64, 64);
    let mut w = rng.vec(rows * cols, -1.0, 1.0);
    // Each row's extreme is negative and exactly representable as -127·scale or just beyond it.
    for r in 0..rows {
        w[r * cols + r] = -1.0 - r as f32 * 1e-3;
    }
    let (q, s) = quantize(&w, rows, cols);
    assert!(q.iter().all(|&v| v != i8::MIN));
    for r in 0..rows {
        assert_eq!(q[r * cols + r], -127);
    }
    assert_within_half_step(&w, &q, &s, rows, cols);
}

#[test]
#[should_panic(expected = "quantize_rows_i8: non-finite weight")]
fn quantisation_rejects_nan() {
    let w = [1.0, f32::NAN, 0.0, 2.0];
    quantize(&w, 2, 2);
}

#[test]
#[should_panic(expected = "quantize_rows_i8: non-finite weight")]
fn quantisation_rejects_infinity() {
    let w = [1.0, 0.0, f32::NEG_INFINITY, 2.0];
    quantize(&w, 2, 2);
}

#[test]
#[should_panic(expected = "quantize_rows_i8: buffers too small for rows=2 cols=3")]
fn quantisation_checks_shapes() {
    let mut q = [0i8; 6];
    let mut s = [0.0f32; 1];
    quantize_rows_i8(&[0.0; 6], 2, 3, &mut q, &mut s);
}

/// `y` in float64 from the dequantised weights `scales[j] · q[j][p]`, and the largest `‖x[i] ∘ w[j]‖₂` (how large
/// `y` is when the terms' signs are random: the scale of the rounding error when one output happens to cancel).
fn reference(x: &[f64], q: &[i8], s: &[f32], b: Option<&[f32]>, m: usize, k: usize, n: usize) -> (Vec<f64>, f64) {
    let mut y = vec![0.0; m * n];
    let mut typical = 0.0f64;
    for j in 0..n {
        let w: Vec<f64> = (0..k).map(|p| s[j] as f64 * q[j * k + p] as f64).collect();
        for i in 0..m {
            let (mut dot, mut sq) = (0.0, 0.0);
            for p in 0..k {
                let t = x[i * k + p] * w[p];
                dot += t;
                sq += t * t;
            }
            y[i * n + j] = dot + b.map_or(0.0, |b| b[j] as f64);
            typical = typical.max(sq.sqrt());
        }
    }
    (y, typical)
}

/// Each row of `x` rounded to 16-bit codes and back, in float64: `round(x · 32767 / max|row|) · max|row| / 32767`.
fn rounded_to_16_bits(x: &[f32], m: usize, k: usize) -> Vec<f64> {
    x.chunks(k.max(1))
        .take(m)
        .flat_map(|row| {
            let max = row.iter().fold(0.0f64, |a, &v| a.max((v as f64).abs()));
            row.iter().map(move |&v| if max == 0.0 { 0.0 } else { (v as f64 * 32767.0 / max).round() * max / 32767.0 })
        })
        .collect()
}

/// Error ≤ `tol · max|y|`; the scale is at least `typical`, so that a shape with a single, nearly cancelled output
/// is not held to a tighter bound than f32 sums can meet.
fn assert_rel(got: &[f32], want: &[f64], typical: f64, tol: f64, what: &str) {
    let max = want.iter().fold(typical, |a, v| a.max(v.abs())).max(1e-30);
    for i in 0..want.len() {
        let err = (got[i] as f64 - want[i]).abs();
        assert!(err <= tol * max, "{what}: [{i}] {} vs {} (err {err:e}, scale {max})", got[i], want[i]);
    }
}

const MS: [usize; 8] = [1, 2, 3, 4, 7, 8, 64, 65];
const KS: [usize; 6] = [1, 3, 8, 17, 512, 513];
const NS: [usize; 5] = [1, 5, 64, 67, 1536];

#[test]
fn gemm_i8_matches_float64_of_the_dequantised_weights_and_its_scalar_twin() {
    for &m in &MS {
        for &k in &KS {
            for &n in &NS {
                let mut rng = Rng::new((m * 1_000_000 + k * 1000 + n) as u64);
                let x = rng.vec(m * k, -1.0, 1.0);
                let (q, s) = quantize(&rng.vec(n * k, -0.5, 0.5), n, k);
                let b = rng.vec(n, -1.0, 1.0);
                // One or two rows (decoding) are multiplied as 16-bit codes: the reference rounds them too.
                let xr = if m < 3 { rounded_to_16_bits(&x, m, k) } else { x.iter().map(|&v| v as f64).collect() };
                for bias in [Some(&b[..]), None] {
                    let what = format!("{m}x{k}x{n} bias={}", bias.is_some());
                    let (want, typical) = reference(&xr, &q, &s, bias, m, k, n);
                    let mut y = vec![f32::NAN; m * n];
                    gemm_i8(&x, &q, &s, bias, &mut y, m, k, n);
                    assert_rel(&y, &want, typical, 1e-5, &format!("gemm_i8 {what}"));
                    let mut ys = vec![f32::NAN; m * n];
                    gemm_i8_scalar(&x, &q, &s, bias, &mut ys, m, k, n);
                    assert_rel(&ys, &want, typical, 1e-5, &format!("gemm_i8_scalar {what}"));
                    let ys64: Vec<f64> = ys.iter().map(|&v| v as f64).collect();
                    assert_rel(&y, &ys64, typical, 1e-5, &format!("gemm_i8 vs scalar {what}"));
                }
            }
        }
    }
}

#[test]
fn gemm_i8_with_k_zero_writes_the_bias() {
    let b = [1.5f32, -2.0, 0.25];
    let mut y = [f32::NAN; 6];
    gemm_i8(&[], &[], &[1.0; 3], Some(&b), &mut y, 2, 0, 3);
    assert_eq!(y, [1.5, -2.0, 0.25, 1.5, -2.0, 0.25]);
    gemm_i8(&[], &[], &[1.0; 3], None, &mut y, 2, 0, 3);
    assert_eq!(y, [0.0; 6]);
}

#[test]
fn gemm_i8_writes_only_its_output() {
    let (m, k, n) = (9, 19, 6);
    for m in [1, m] {
        let mut rng = Rng::new(5);
        let x = rng.vec(m * k, -1.0, 1.0);
        let (q, s) = quantize(&rng.vec(n * k, -1.0, 1.0), n, k);
        let mut y = vec![7.0f32; m * n + 3];
        gemm_i8(&x, &q, &s, None, &mut y, m, k, n);
        assert_eq!(&y[m * n..], &[7.0, 7.0, 7.0]);
    }
}

#[test]
#[should_panic(expected = "gemm_i8: buffers too small for m=2 k=3 n=4")]
fn gemm_i8_checks_weights() {
    let mut y = [0.0; 8];
    gemm_i8(&[0.0; 6], &[0; 11], &[1.0; 4], None, &mut y, 2, 3, 4);
}

#[test]
#[should_panic(expected = "gemm_i8: buffers too small for m=2 k=3 n=4")]
fn gemm_i8_checks_scales() {
    let mut y = [0.0; 8];
    gemm_i8(&[0.0; 6], &[0; 12], &[1.0; 3], None, &mut y, 2, 3, 4);
}

#[test]
#[should_panic(expected = "gemm_i8: buffers too small for m=2 k=3 n=4")]
fn gemm_i8_checks_output() {
    let mut y = [0.0; 7];
    gemm_i8(&[0.0; 6], &[0; 12], &[1.0; 4], None, &mut y, 2, 3, 4);
}

#[test]
#[should_panic(expected = "gemm_i8: bias shorter than n=4")]
fn gemm_i8_checks_bias() {
    let mut y = [0.0; 8];
    gemm_i8(&[0.0; 6], &[0; 12], &[1.0; 4], Some(&[0.0; 3]), &mut y, 2, 3, 4);
}

#[test]
fn activation_codes_are_within_half_a_step_and_symmetric() {
    let mut rng = Rng::new(21);
    for k in [1, 5, 64, 1537] {
        let mut x = rng.vec(k, -3.0, 3.0);
        x[k / 2] = -7.5;
        let mut xq = vec![0i16; k];
        let sx = quantize_row_i16(&x, &mut xq).unwrap();
        assert_eq!(sx, 7.5 / 32767.0);
        assert_eq!(xq[k / 2], -32767);
        for p in 0..k {
            let err = (x[p] as f64 - sx as f64 * xq[p] as f64).abs();
            assert!(err <= sx as f64 * (0.5 + 1e-3), "k {k} [{p}]: {} vs code {}", x[p], xq[p]);
        }
        let neg: Vec<f32> = x.iter().map(|v| -v).collect();
        let mut nq = vec![0i16; k];
        assert_eq!(quantize_row_i16(&neg, &mut nq), Some(sx));
        assert!(nq.iter().zip(&xq).all(|(a, b)| *a == -*b));
    }
    let mut xq = [5i16; 3];
    assert_eq!(quantize_row_i16(&[0.0, -0.0, 0.0], &mut xq), Some(0.0));
    assert_eq!(xq, [0, 0, 0]);
    assert_eq!(quantize_row_i16(&[1.0, f32::NAN], &mut [0; 2]), None);
    assert_eq!(quantize_row_i16(&[f32::INFINITY, 1.0], &mut [0; 2]), None);
}

#[test]
fn the_integer_gemv_equals_its_scalar_twin_bit_for_bit_without_overflow() {
    // Extreme codes over many chunks: every product is ±32767·127, the worst case for the i32 lanes.
    let mut rng = Rng::new(22);
    for (m, k, n) in [(1, 4099, 9), (2, 2048, 5), (1, 17, 3), (2, 1024, 7)] {
        let x: Vec<f32> = (0..m * k).map(|i| if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
        // The signs of x's first row in every row of w: all its products are +32767·127.
        let w: Vec<f32> = (0..n * k).map(|i| if (i % k) % 3 == 0 { -2.0 } else { 2.0 }).collect();
        let (q, s) = quantize(&w, n, k);
        let b = rng.vec(n, -1.0, 1.0);
        let mut y = vec![f32::NAN; m * n];
        gemm_i8(&x, &q, &s, Some(&b), &mut y, m, k, n);
        let mut ys = vec![f32::NAN; m * n];
        gemm_i8_scalar(&x, &q, &s, Some(&b), &mut ys, m, k, n);
        assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{m}x{k}x{n}");
        for j in 0..n {
            let want = 2.0 * k as f64 + b[j] as f64;
            assert!((y[j] as f64 - want).abs() <= 1e-6 * want, "{m}x{k}x{n} [{j}]: {} vs {want}", y[j]);
        }
        // Random rows too, on every size of the main test's grid that decodes.
        let x = rng.vec(m * k, -1.0, 1.0);
        gemm_i8(&x, &q, &s, None, &mut y, m, k, n);
        gemm_i8_scalar(&x, &q, &s, None, &mut ys, m, k, n);
        assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "random {m}x{k}x{n}");
    }
}

#[test]
fn a_row_with_nan_or_infinity_carries_it_as_an_f32_product_would() {
    let (k, n) = (40, 6);
    let mut rng = Rng::new(23);
    let (q, s) = quantize(&rng.vec(n * k, 0.1, 1.0), n, k);
    let mut x = rng.vec(2 * k, 0.1, 1.0);
    x[3] = f32::NAN;
    x[k + 7] = f32::INFINITY;
    let mut y = vec![0.0; 2 * n];
    gemm_i8(&x, &q, &s, None, &mut y, 2, k, n);
    assert!(y[..n].iter().all(|v| v.is_nan()));
    // Positive weights times +inf: +inf in every output.
    assert!(y[n..].iter().all(|v| *v == f32::INFINITY));
}

#[test]
fn embedding_i8_matches_float64_and_its_scalar_twin() {
    let mut rng = Rng::new(9);
    for dim in [1, 7, 8, 13, 64] {
        let vocab = 11;
        let (q, s) = quantize(&rng.vec(vocab * dim, -2.0, 2.0), vocab, dim);
        let ids = [3, 0, 10, 3, 7];
        let scale = 1.7f32;
        let mut y = vec![f32::NAN; ids.len() * dim];
        embedding_i8(&q, &s, &ids, dim, scale, &mut y);
        let mut ys = vec![f32::NAN; ids.len() * dim];
        embedding_i8_scalar(&q, &s, &ids, dim, scale, &mut ys);
        for (i, &id) in ids.iter().enumerate() {
            let r = id as usize;
            for j in 0..dim {
                let want = scale as f64 * s[r] as f64 * q[r * dim + j] as f64;
                // Two roundings: scale · scales[id], then times the code.
                let tol = 2.5 * f32::EPSILON as f64 / 2.0 * want.abs();
                assert!((y[i * dim + j] as f64 - want).abs() <= tol, "dim {dim} [{i}][{j}]");
                assert!((ys[i * dim + j] as f64 - want).abs() <= tol, "scalar dim {dim} [{i}][{j}]");
            }
        }
        // Both compute the same two products, so they agree exactly.
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&ys));
    }
}

#[test]
#[should_panic(expected = "embedding_i8: id 4 outside 0..4")]
fn embedding_i8_checks_ids() {
    let mut y = [0.0; 4];
    embedding_i8(&[0; 8], &[1.0; 4], &[1, 4], 2, 1.0, &mut y);
}

#[test]
#[should_panic(expected = "embedding_i8: id -1 outside 0..4")]
fn embedding_i8_checks_negative_ids() {
    let mut y = [0.0; 4];
    embedding_i8(&[0; 8], &[1.0; 4], &[-1, 0], 2, 1.0, &mut y);
}

#[test]
#[should_panic(expected = "embedding_i8: output shorter than 2 ids × dim=2")]
fn embedding_i8_checks_output() {
    let mut y = [0.0; 3];
    embedding_i8(&[0; 8], &[1.0; 4], &[1, 0], 2, 1.0, &mut y);
}

#[test]
#[should_panic(expected = "embedding_i8: table shorter than vocab=4 × dim=2")]
fn embedding_i8_checks_table() {
    let mut y = [0.0; 4];
    embedding_i8(&[0; 7], &[1.0; 4], &[1, 0], 2, 1.0, &mut y);
}
