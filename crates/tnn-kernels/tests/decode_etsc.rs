//! ETSC against the naive decayed convolution inside its window, and against the periodic kernel it realises
//! beyond it.

use tnn_kernels::etsc::{EtscKernel, EtscState};
use tnn_kernels::online_conv::{NaiveConvState, OnlineKernel};

mod common;
use common::Rng;

/// Per-channel decays; the last channel has none at all.
fn gammas(c: usize) -> Vec<f32> {
    (0..c).map(|ch| if ch + 1 == c && c > 1 { 1.0 } else { 0.95 + 0.0499 * ch as f32 / c as f32 }).collect()
}

/// `y[t] = Σ_{k≤t} K(k, ch) v[t-k]` in float64 for an arbitrary kernel function.
fn direct_f64(kernel: impl Fn(usize, usize) -> f64, v: &[f32], n: usize, c: usize) -> Vec<f64> {
    let mut y = vec![0.0f64; n * c];
    for t in 0..n {
        for k in 0..=t {
            for ch in 0..c {
                y[t * c + ch] += kernel(k, ch) * v[(t - k) * c + ch] as f64;
            }
        }
    }
    y
}

fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, &x| m.max(x.abs())).max(1e-30);
    a.iter().zip(b).fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y).abs())) / scale
}

fn run_etsc(kernel: &EtscKernel, v: &[f32], n0: usize, total: usize) -> Vec<f32> {
    let c = kernel.channels();
    let mut state = EtscState::new(kernel);
    let mut y = vec![0.0f32; total * c];
    state.prefill(kernel, &v[..n0 * c], n0, &mut y[..n0 * c]).unwrap();
    for t in n0..total {
        state.step(kernel, &v[t * c..][..c], &mut y[t * c..][..c]);
    }
    assert_eq!(state.position(), total);
    y
}

#[test]
fn etsc_matches_naive_decayed_convolution_within_window() {
    for &c in &[1usize, 5, 16] {
        for &window in &[1usize, 2, 7, 64, 255, 512] {
            let mut rng = Rng::new(window as u64 * 31 + c as u64);
            let undecayed = rng.vec(window * c, -1.0, 1.0);
            let gamma = gammas(c);
            let etsc = EtscKernel::new(&undecayed, &gamma, window, c);

            // The naive reference gets the model's decayed coefficients T_k = λ^k t_k (the table the RPE writes).
            let cap = window.next_power_of_two();
            let mut decayed = vec![0.0f32; cap * c];
            for k in 0..window {
                for ch in 0..c {
                    decayed[k * c + ch] = (undecayed[k * c + ch] as f64 * (gamma[ch] as f64).powi(k as i32)) as f32;
                }
            }
            let online_kernel = OnlineKernel::new(&decayed, cap, c);
            let v = rng.vec(window * c, -1.0, 1.0);
            let reference = direct_f64(|k, ch| decayed[k * c + ch] as f64, &v, window, c);

            let mut naive = NaiveConvState::new(&online_kernel);
            let mut y_naive = vec![0.0f32; window * c];
            for t in 0..window {
                naive.step(&online_kernel, &v[t * c..][..c], &mut y_naive[t * c..][..c]).unwrap();
            }
            for n0 in [0, window / 2] {
                let y = run_etsc(&etsc, &v, n0, window);
                let e = rel_err(&y, &reference);
                assert!(e <= 1e-5, "c={c} N={window} prefill={n0}: ETSC vs float64 {e:e}");
                let naive64: Vec<f64> = y_naive.iter().map(|&x| x as f64).collect();
                let e2 = rel_err(&y, &naive64);
                assert!(e2 <= 1e-5, "c={c} N={window} prefill={n0}: ETSC vs naive {e2:e}");
            }
        }
    }
}

#[test]
fn beyond_its_window_etsc_realises_the_decayed_periodic_kernel() {
    // Past N the SSM sees λ^k t_{k mod (N+1)} with the appended t_N = -Σ t_k; check that against a float64 product
    // with that kernel built independently of the modes.
    let c = 5;
    for &window in &[16usize, 33, 40] {
        let mut rng = Rng::new(500 + window as u64);
        let undecayed = rng.vec(window * c, -1.0, 1.0);
        let gamma = gammas(c);
        let etsc = EtscKernel::new(&undecayed, &gamma, window, c);
        let periodic = |k: usize, ch: usize| {
            let r = k % (window + 1);
            let t = if r < window {
                undecayed[r * c + ch] as f64
            } else {
                -(0..window).map(|i| undecayed[i * c + ch] as f64).sum::<f64>()
            };
            t * (gamma[ch] as f64).powi(k as i32)
        };
        let total = 5 * window + 3;
        let v = rng.vec(total * c, -1.0, 1.0);
        let reference = direct_f64(periodic, &v, total, c);
        // The prefill works in chunks of the next power of two at or above N; cross their edges, then step on.
        let chunk = window.next_power_of_two();
        for n0 in [0, 1, window - 1, chunk, chunk + 1, 2 * chunk + 3, total] {
            let y = run_etsc(&etsc, &v, n0, total);
            let e = rel_err(&y, &reference);
            assert!(e <= 1e-5, "N={window} prefill={n0}: ETSC vs periodic kernel {e:e}");
        }
        for k in [0, 1, window - 1, window, window + 1, 3 * window] {
            for ch in 0..c {
                let (got, want) = (etsc.effective_coeff(k, ch), periodic(k, ch));
                assert!((got - want).abs() <= 1e-9 * (1.0 + want.abs()), "N={window} k={k} ch={ch}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn reset_and_prefill_rules() {
    let (window, c) = (8usize, 2usize);
    let mut rng = Rng::new(11);
    let undecayed = rng.vec(window * c, -1.0, 1.0);
    let etsc = EtscKernel::new(&undecayed, &[0.9, 1.0], window, c);
    let v = rng.vec(window * c, -1.0, 1.0);
    let first = run_etsc(&etsc, &v, 3, window);
    let mut state = EtscState::new(&etsc);
    let mut y = vec![0.0f32; window * c];
    state.prefill(&etsc, &v, window, &mut y).unwrap();
    assert!(state.prefill(&etsc, &v[..c], 1, &mut y[..c]).is_err(), "prefill on a used state must fail");
    state.reset();
    let mut again = vec![0.0f32; window * c];
    state.prefill(&etsc, &v, window, &mut again).unwrap();
    assert_eq!(again, y);
    assert_eq!(first, y);
}
