//! RPE against a float64 MLP written from the model definition, and against its scalar twin.

mod common;
use common::*;
use tnn_kernels::rpe::*;

/// The RPE at offset k in float64, undecayed, from the packed parameter layout of the ABI.
fn rpe64(params: &[f32], e: usize, layers: usize, d1: usize, k: i64) -> Vec<f64> {
    let p = |i: usize| params[i] as f64;
    let srms_relu = |z: &[f64]| -> Vec<f64> {
        let rms = (z.iter().map(|v| v * v).sum::<f64>() / e as f64).sqrt();
        z.iter().map(|v| (v / (rms + 1e-8)).max(0.0)).collect()
    };
    let mut z: Vec<f64> = (0..e).map(|i| p(i) * k as f64 + p(e + i)).collect();
    let mut at = 2 * e;
    for _ in 0..layers {
        let h = srms_relu(&z);
        z = (0..e).map(|o| p(at + e * e + o) + (0..e).map(|i| p(at + o * e + i) * h[i]).sum::<f64>()).collect();
        at += e * e + e;
    }
    let h = srms_relu(&z);
    (0..d1).map(|o| p(at + d1 * e + o) + (0..e).map(|i| p(at + o * e + i) * h[i]).sum::<f64>()).collect()
}

fn check(e: usize, layers: usize, d1: usize, k_start: i32, count: usize, with_gamma: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let params = rng.vec(rpe_params_len(e, layers, d1), -0.5, 0.5);
    let gamma = rng.vec(d1, 0.9, 1.0);
    let g = with_gamma.then_some(&gamma[..]);
    let mut out = vec![f32::NAN; count * d1];
    let mut scratch = vec![0.0; rpe_scratch_len(e, d1)];
    rpe_forward(&params, e, layers, d1, k_start, count, g, &mut out, &mut scratch);
    let mut twin = vec![f32::NAN; count * d1];
    rpe_forward_scalar(&params, e, layers, d1, k_start, count, g, &mut twin);
    for r in 0..count {
        let k = k_start as i64 + r as i64;
        let want = rpe64(&params, e, layers, d1, k);
        let scale = max_abs(&want);
        for c in 0..d1 {
            let decay = if with_gamma && k != 0 { (gamma[c] as f64).powi(k.abs() as i32) } else { 1.0 };
            let w = want[c] * decay;
            // Rounding error of the MLP is relative to the row's size; the decay adds a relative error of its own.
            // Decays below f32's normal range may flush to zero.
            let tol = 2e-5 * scale * decay + 2e-6 * w.abs() + 1e-37 * scale;
            let what = format!("e={e} R={layers} d1={d1} k={k} c={c}");
            assert!((out[r * d1 + c] as f64 - w).abs() <= tol, "{what}: {} vs {w}", out[r * d1 + c]);
            assert!((twin[r * d1 + c] as f64 - w).abs() <= tol, "{what} twin: {} vs {w}", twin[r * d1 + c]);
        }
    }
}

#[test]
fn rpe_matches_float64_mlp() {
    // Counts across the 64-offset block, negative and positive offsets, with and without decay.
    check(8, 2, 5, -70, 141, true, 1);
    check(16, 0, 7, 0, 3, true, 2);
    check(64, 6, 37, -10, 20, false, 3);
    check(64, 6, 37, -65, 130, true, 4);
    check(3, 1, 1, 5, 1, true, 5);
}

#[test]
fn rpe_far_offsets() {
    // Offsets near the 65536-token regime: the MLP sees large raw inputs, the decay is deep.
    check(32, 3, 9, 65000, 70, true, 6);
    check(32, 3, 9, -65535, 3, true, 7);
}

#[test]
fn t0_is_never_decayed() {
    let (e, layers, d1) = (8, 1, 4);
    let mut rng = Rng::new(9);
    let params = rng.vec(rpe_params_len(e, layers, d1), -0.5, 0.5);
    let mut scratch = vec![0.0; rpe_scratch_len(e, d1)];
    let mut plain = vec![0.0; 3 * d1];
    let mut decayed = vec![0.0; 3 * d1];
    rpe_forward(&params, e, layers, d1, -1, 3, None, &mut plain, &mut scratch);
    rpe_forward(&params, e, layers, d1, -1, 3, Some(&[0.5; 4]), &mut decayed, &mut scratch);
    assert_eq!(&plain[d1..2 * d1], &decayed[d1..2 * d1]);
    for c in 0..d1 {
        assert!((decayed[c] - 0.5 * plain[c]).abs() <= 1e-6 * plain[c].abs());
        assert!((decayed[2 * d1 + c] - 0.5 * plain[2 * d1 + c]).abs() <= 1e-6 * plain[2 * d1 + c].abs());
    }
}
