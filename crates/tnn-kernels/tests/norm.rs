//! Norms against their scalar twins and float64 math.

mod common;
use common::*;
use tnn_kernels::norm::*;

const DIMS: [usize; 9] = [1, 2, 3, 4, 5, 8, 13, 512, 515];

fn srms64(row: &[f32], eps: f64) -> Vec<f64> {
    let ms = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / row.len() as f64;
    row.iter().map(|&v| v as f64 / (ms.sqrt() + eps)).collect()
}

fn ln64(row: &[f32], g: &[f32], b: &[f32], eps: f64) -> Vec<f64> {
    let n = row.len() as f64;
    let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    row.iter().enumerate().map(|(i, &v)| (v as f64 - mean) / (var + eps).sqrt() * g[i] as f64 + b[i] as f64).collect()
}

#[test]
fn simple_rms_norm_matches_float64_and_twin() {
    for &dim in &DIMS {
        let rows = 3;
        let mut rng = Rng::new(dim as u64);
        let x = rng.vec(rows * dim, -4.0, 4.0);
        let mut y = vec![0.0; rows * dim];
        let mut ys = vec![0.0; rows * dim];
        simple_rms_norm(&x, &mut y, rows, dim, 1e-8);
        simple_rms_norm_scalar(&x, &mut ys, rows, dim, 1e-8);
        let mut yi = x.clone();
        simple_rms_norm_in_place(&mut yi, rows, dim, 1e-8);
        assert_eq!(yi, y);
        for r in 0..rows {
            let want = srms64(&x[r * dim..(r + 1) * dim], 1e-8);
            for i in 0..dim {
                let got = y[r * dim + i] as f64;
                assert!((got - want[i]).abs() <= 1e-6 * (1.0 + want[i].abs()), "dim {dim}: {got} vs {}", want[i]);
                assert!((ys[r * dim + i] as f64 - want[i]).abs() <= 1e-6 * (1.0 + want[i].abs()));
            }
        }
    }
}

#[test]
fn simple_rms_norm_eps_is_outside_the_root() {
    // A zero row stays zero (0 / (0 + eps)); a tiny row is damped by eps added to the RMS, not to the mean square.
    let x = [0.0f32, 0.0, 1e-8, 1e-8];
    let mut y = [9.0f32; 4];
    simple_rms_norm(&x, &mut y, 2, 2, 1e-8);
    assert_eq!(&y[..2], &[0.0, 0.0]);
    assert!((y[2] - 0.5).abs() < 1e-6, "{}", y[2]);
}

#[test]
fn layer_norm_matches_float64_and_twin() {
    for &dim in &DIMS {
        let rows = 4;
        let mut rng = Rng::new(100 + dim as u64);
        // An offset mean checks that the variance is centred (two-pass) rather than E[x²] - E[x]².
        let x: Vec<f32> = rng.vec(rows * dim, -1.0, 1.0).iter().map(|v| v + 50.0).collect();
        let g = rng.vec(dim, 0.5, 1.5);
        let b = rng.vec(dim, -0.5, 0.5);
        let mut y = vec![0.0; rows * dim];
        let mut ys = vec![0.0; rows * dim];
        layer_norm(&x, &g, &b, &mut y, rows, dim, 1e-5);
        layer_norm_scalar(&x, &g, &b, &mut ys, rows, dim, 1e-5);
        let mut yi = x.clone();
        layer_norm_in_place(&mut yi, &g, &b, rows, dim, 1e-5);
        assert_eq!(yi, y);
        for r in 0..rows {
            let want = ln64(&x[r * dim..(r + 1) * dim], &g, &b, 1e-5);
            for i in 0..dim {
                let tol = 2e-4 * (1.0 + want[i].abs());
                assert!((y[r * dim + i] as f64 - want[i]).abs() <= tol, "dim {dim}: {} vs {}", y[r * dim + i], want[i]);
                assert!((ys[r * dim + i] as f64 - want[i]).abs() <= tol);
            }
        }
    }
}
