//! Toeplitz mixing (direct and FFT) against the O(n²) float64 product.

mod common;
use common::*;
use tnn_kernels::toeplitz::*;

/// `y[i][c] = Σ_j t_{i-j}[c] x[j][c]` in float64, reading the coefficient table exactly as the ABI defines it.
fn naive(x: &[f32], coeffs: &[f32], n: usize, c: usize, causal: bool) -> Vec<f64> {
    let mut y = vec![0.0; n * c];
    for i in 0..n {
        for j in 0..n {
            let d = i as i64 - j as i64;
            let row = if causal {
                if d < 0 {
                    continue;
                }
                d
            } else {
                d + n as i64 - 1
            } as usize;
            for ch in 0..c {
                y[i * c + ch] += coeffs[row * c + ch] as f64 * x[j * c + ch] as f64;
            }
        }
    }
    y
}

fn assert_rel(got: &[f32], want: &[f64], tol: f64, what: &str) {
    let scale = max_abs(want).max(1e-30);
    let err = got.iter().zip(want).fold(0.0f64, |m, (&g, &w)| m.max((g as f64 - w).abs()));
    assert!(err <= tol * scale, "{what}: max error {err:e} relative {:e}", err / scale);
}

fn data(n: usize, c: usize, causal: bool, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let x = rng.vec(n * c, -1.0, 1.0);
    // Coefficients that decay like the model's, plus noise so that no structure hides an indexing error.
    let rows = coeff_rows(n, causal);
    let mut t = rng.vec(rows * c, -1.0, 1.0);
    for r in 0..rows {
        let d = if causal { r } else { (r as i64 - (n as i64 - 1)).unsigned_abs() as usize };
        for ch in 0..c {
            t[r * c + ch] *= 0.999f32.powi(d as i32);
        }
    }
    (x, t)
}

const LENGTHS: [usize; 9] = [1, 2, 3, 7, 64, 511, 512, 513, 4096];

#[test]
fn fft_plan_matches_naive_product() {
    for &n in &LENGTHS {
        let channels: &[usize] = if n >= 4096 { &[1, 3, 8] } else { &[1, 3, 8, 17, 20] };
        for &c in channels {
            for causal in [true, false] {
                let (x, t) = data(n, c, causal, (n * 31 + c) as u64);
                let want = naive(&x, &t, n, c, causal);
                let what = format!("n={n} c={c} causal={causal}");

                let mut plan = ToeplitzPlan::new_fft(n, c, causal);
                assert!(plan.uses_fft() && plan.fft_len() >= 2 * n - 1);
                let mut spectra = vec![0.0; plan.spectra_len()];
                plan.spectra(&t, &mut spectra);
                let mut y = vec![f32::NAN; n * c];
                plan.apply(&x, &spectra, &mut y);
                assert_rel(&y, &want, 1e-5, &format!("apply {what}"));

                let mut y2 = vec![f32::NAN; n * c];
                plan.apply_coeffs(&x, &t, &mut y2);
                assert_rel(&y2, &want, 1e-5, &format!("apply_coeffs {what}"));

                // Reusing the plan (its scratch) must not leak state between calls.
                let (x2, _) = data(n, c, causal, 777);
                let want2 = naive(&x2, &t, n, c, causal);
                plan.apply(&x2, &spectra, &mut y);
                assert_rel(&y, &want2, 1e-5, &format!("apply again {what}"));
            }
        }
    }
}

#[test]
fn direct_matches_naive_product_and_twin() {
    for &n in &[1usize, 2, 3, 7, 64, 129, 511] {
        for &c in &[1usize, 3, 4, 8, 17, 20, 35] {
            for causal in [true, false] {
                let (x, t) = data(n, c, causal, (n * 7 + c) as u64);
                let want = naive(&x, &t, n, c, causal);
                let mut y = vec![f32::NAN; n * c];
                toeplitz_direct(&x, &t, &mut y, n, c, causal);
                assert_rel(&y, &want, 1e-5, &format!("direct n={n} c={c} causal={causal}"));
                let mut ys = vec![f32::NAN; n * c];
                toeplitz_direct_scalar(&x, &t, &mut ys, n, c, causal);
                assert_rel(&ys, &want, 1e-5, &format!("direct_scalar n={n} c={c} causal={causal}"));
            }
        }
    }
}

#[test]
fn planned_path_follows_the_crossover() {
    for causal in [true, false] {
        let cross = toeplitz_crossover_for(causal);
        for n in [1, cross - 1, cross, cross + 5] {
            let c = 6;
            let plan = ToeplitzPlan::new(n, c, causal);
            assert_eq!(plan.uses_fft(), n >= cross);
            let (x, t) = data(n, c, causal, 11);
            let want = naive(&x, &t, n, c, causal);
            let mut plan = plan;
            let mut spectra = vec![0.0; plan.spectra_len()];
            plan.spectra(&t, &mut spectra);
            let mut y = vec![f32::NAN; n * c];
            plan.apply(&x, &spectra, &mut y);
            assert_rel(&y, &want, 1e-5, &format!("planned n={n} causal={causal}"));
            plan.apply_coeffs(&x, &t, &mut y);
            assert_rel(&y, &want, 1e-5, &format!("planned coeffs n={n} causal={causal}"));
        }
    }
    assert_eq!(toeplitz_crossover(), toeplitz_crossover_for(true));
}

#[test]
fn causal_output_ignores_the_future() {
    let (n, c) = (300, 4);
    let (mut x, t) = data(n, c, true, 5);
    let mut plan = ToeplitzPlan::new_fft(n, c, true);
    let mut y1 = vec![0.0; n * c];
    plan.apply_coeffs(&x, &t, &mut y1);
    for v in &mut x[150 * c..] {
        *v = 3.0;
    }
    let mut y2 = vec![0.0; n * c];
    plan.apply_coeffs(&x, &t, &mut y2);
    let scale = y1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for i in 0..150 * c {
        assert!((y1[i] - y2[i]).abs() <= 1e-4 * scale, "token {} changed", i / c);
    }
}

#[test]
fn fast_lengths() {
    assert_eq!(fast_fft_len(1), 2);
    assert_eq!(fast_fft_len(1023), 1024);
    assert_eq!(fast_fft_len(1025), 1536);
    assert_eq!(fast_fft_len(1537), 2048);
    for m in 1..5000 {
        let l = fast_fft_len(m);
        assert!(l >= m && l % 2 == 0);
    }
}
