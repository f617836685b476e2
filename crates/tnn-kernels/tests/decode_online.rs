//! Online (relaxed FFT) decoding against the naive dot-product decode and against a float64 direct product.

use tnn_kernels::online_conv::{DecodeError, NaiveConvState, OnlineConvState, OnlineKernel};

mod common;
use common::Rng;

/// Random coefficients `T_k = r_k · λ_c^k`, with per-channel decays spread from fast (0.99) to very slow
/// (0.9999) so that long lags still matter.
fn decayed_coeffs(rng: &mut Rng, cap: usize, c: usize) -> Vec<f32> {
    let lambdas: Vec<f64> = (0..c).map(|ch| 0.99 + 0.0099 * (ch as f64 + 0.5) / c as f64).collect();
    let mut t = vec![0.0f32; cap * c];
    for k in 0..cap {
        for ch in 0..c {
            t[k * c + ch] = (rng.uniform(-1.0, 1.0) as f64 * lambdas[ch].powi(k as i32)) as f32;
        }
    }
    t
}

/// `y[t][ch] = Σ_{j≤t} T_{t-j}[ch] v[j][ch]` in float64.
fn direct_f64(coeffs: &[f32], v: &[f32], n: usize, c: usize) -> Vec<f64> {
    let mut y = vec![0.0f64; n * c];
    for t in 0..n {
        for j in 0..=t {
            for ch in 0..c {
                y[t * c + ch] += coeffs[(t - j) * c + ch] as f64 * v[j * c + ch] as f64;
            }
        }
    }
    y
}

fn max_abs_f64(y: &[f64]) -> f64 {
    y.iter().fold(0.0, |m, &x| m.max(x.abs()))
}

/// Largest |a - b| relative to max |b|.
fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    let scale = max_abs_f64(b).max(1e-30);
    a.iter().zip(b).fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y).abs())) / scale
}

/// Prefills `n0` tokens then steps to `total`, returning all outputs `[total][c]`.
fn run_online(kernel: &OnlineKernel, v: &[f32], n0: usize, total: usize) -> Vec<f32> {
    let c = kernel.channels();
    let mut state = OnlineConvState::new(kernel);
    let mut y = vec![0.0f32; total * c];
    state.prefill(kernel, &v[..n0 * c], n0, &mut y[..n0 * c]).unwrap();
    for t in n0..total {
        state.step(kernel, &v[t * c..][..c], &mut y[t * c..][..c]).unwrap();
    }
    assert_eq!(state.position(), total);
    y
}

fn run_naive(kernel: &OnlineKernel, v: &[f32], n0: usize, total: usize) -> Vec<f32> {
    let c = kernel.channels();
    let mut state = NaiveConvState::new(kernel);
    let mut y = vec![0.0f32; total * c];
    state.prefill(kernel, &v[..n0 * c], n0, &mut y[..n0 * c]).unwrap();
    for t in n0..total {
        state.step(kernel, &v[t * c..][..c], &mut y[t * c..][..c]).unwrap();
    }
    y
}

#[test]
fn online_steps_match_naive_and_float64_for_3000_steps() {
    let cap = 4096;
    // 37 channels: two full strips of 16 and a partial one.
    for &c in &[1usize, 5, 16, 37] {
        let mut rng = Rng::new(1000 + c as u64);
        let coeffs = decayed_coeffs(&mut rng, cap, c);
        let kernel = OnlineKernel::new(&coeffs, cap, c);
        for &n0 in &[0usize, 1, 7, 100, 1000] {
            let total = n0 + 3000;
            let v = rng.vec(total * c, -1.0, 1.0);
            let reference = direct_f64(&coeffs, &v, total, c);
            let online = run_online(&kernel, &v, n0, total);
            let naive = run_naive(&kernel, &v, n0, total);
            let e_online = rel_err(&online, &reference);
            let e_naive = rel_err(&naive, &reference);
            let naive64: Vec<f64> = naive.iter().map(|&x| x as f64).collect();
            let e_pair = rel_err(&online, &naive64);
            assert!(e_online <= 1e-5, "c={c} prefill={n0}: online vs float64 {e_online:e}");
            assert!(e_naive <= 1e-5, "c={c} prefill={n0}: naive vs float64 {e_naive:e}");
            assert!(e_pair <= 1e-5, "c={c} prefill={n0}: online vs naive {e_pair:e}");
        }
    }
}

#[test]
fn every_position_up_to_cap_is_exact_for_each_prefill_length() {
    // Every prefill length seeds a different set of straddling blocks; walk them all on a small bucket,
    // including prefills that fill the bucket completely.
    let (cap, c) = (128usize, 19usize);
    let mut rng = Rng::new(7);
    let coeffs = decayed_coeffs(&mut rng, cap, c);
    let kernel = OnlineKernel::new(&coeffs, cap, c);
    let v = rng.vec(cap * c, -1.0, 1.0);
    let reference = direct_f64(&coeffs, &v, cap, c);
    for n0 in 0..=cap {
        let y = run_online(&kernel, &v, n0, cap);
        let e = rel_err(&y, &reference);
        assert!(e <= 1e-5, "prefill={n0}: online vs float64 {e:e}");
    }
}

#[test]
fn tiny_buckets_work() {
    for cap in [1usize, 2, 4] {
        let c = 3;
        let mut rng = Rng::new(cap as u64);
        let coeffs = decayed_coeffs(&mut rng, cap, c);
        let kernel = OnlineKernel::new(&coeffs, cap, c);
        let v = rng.vec(cap * c, -1.0, 1.0);
        let reference = direct_f64(&coeffs, &v, cap, c);
        for n0 in 0..=cap {
            let e = rel_err(&run_online(&kernel, &v, n0, cap), &reference);
            assert!(e <= 1e-6, "cap={cap} prefill={n0}: {e:e}");
        }
    }
}

#[test]
fn prefill_outputs_match_direct_float64_product() {
    let cap = 2048;
    for &c in &[1usize, 5, 16, 37] {
        let mut rng = Rng::new(50 + c as u64);
        let coeffs = decayed_coeffs(&mut rng, cap, c);
        let kernel = OnlineKernel::new(&coeffs, cap, c);
        for &n in &[1usize, 2, 7, 32, 33, 100, 1000, 2048] {
            let v = rng.vec(n * c, -1.0, 1.0);
            let reference = direct_f64(&coeffs, &v, n, c);
            let mut y = vec![0.0f32; n * c];
            OnlineConvState::new(&kernel).prefill(&kernel, &v, n, &mut y).unwrap();
            let e = rel_err(&y, &reference);
            assert!(e <= 1e-5, "c={c} n={n}: online prefill vs float64 {e:e}");
            let mut y2 = vec![0.0f32; n * c];
            NaiveConvState::new(&kernel).prefill(&kernel, &v, n, &mut y2).unwrap();
            let e2 = rel_err(&y2, &reference);
            assert!(e2 <= 1e-5, "c={c} n={n}: naive prefill vs float64 {e2:e}");
        }
    }
}

#[test]
fn reset_state_decodes_a_new_sequence_exactly() {
    let (cap, c) = (512usize, 4usize);
    let mut rng = Rng::new(99);
    let coeffs = decayed_coeffs(&mut rng, cap, c);
    let kernel = OnlineKernel::new(&coeffs, cap, c);
    let mut state = OnlineConvState::new(&kernel);
    let first = rng.vec(300 * c, -1.0, 1.0);
    let mut y = vec![0.0f32; 300 * c];
    state.prefill(&kernel, &first[..50 * c], 50, &mut y[..50 * c]).unwrap();
    for t in 50..300 {
        state.step(&kernel, &first[t * c..][..c], &mut y[t * c..][..c]).unwrap();
    }
    state.reset();
    assert_eq!(state.position(), 0);
    let second = rng.vec(cap * c, -1.0, 1.0);
    let mut y2 = vec![0.0f32; cap * c];
    state.prefill(&kernel, &second[..10 * c], 10, &mut y2[..10 * c]).unwrap();
    for t in 10..cap {
        state.step(&kernel, &second[t * c..][..c], &mut y2[t * c..][..c]).unwrap();
    }
    let mut history = vec![0.0f32; cap * c];
    state.copy_history(&mut history);
    assert_eq!(history, second);
    let e = rel_err(&y2, &direct_f64(&coeffs, &second, cap, c));
    assert!(e <= 1e-5, "after reset: {e:e}");
}

#[test]
fn stepping_past_cap_is_an_error() {
    let (cap, c) = (64usize, 2usize);
    let mut rng = Rng::new(3);
    let coeffs = decayed_coeffs(&mut rng, cap, c);
    let kernel = OnlineKernel::new(&coeffs, cap, c);
    let v = rng.vec(cap * c, -1.0, 1.0);
    let mut y = vec![0.0f32; cap * c];
    let mut y1 = [0.0f32; 2];

    let mut online = OnlineConvState::new(&kernel);
    let mut naive = NaiveConvState::new(&kernel);
    for t in 0..cap {
        online.step(&kernel, &v[t * c..][..c], &mut y1).unwrap();
        naive.step(&kernel, &v[t * c..][..c], &mut y1).unwrap();
    }
    let past = Err(DecodeError::PastCapacity { position: cap, requested: 1, cap });
    assert_eq!(online.step(&kernel, &v[..c], &mut y1), past);
    assert_eq!(naive.step(&kernel, &v[..c], &mut y1), past);
    assert_eq!(online.position(), cap);

    // A full prefill leaves no room either; a longer one is refused up front.
    let mut online = OnlineConvState::new(&kernel);
    online.prefill(&kernel, &v, cap, &mut y).unwrap();
    assert_eq!(online.step(&kernel, &v[..c], &mut y1), past);
    let long = rng.vec((cap + 1) * c, -1.0, 1.0);
    let mut y_long = vec![0.0f32; (cap + 1) * c];
    let mut fresh = OnlineConvState::new(&kernel);
    assert_eq!(
        fresh.prefill(&kernel, &long, cap + 1, &mut y_long),
        Err(DecodeError::PastCapacity { position: 0, requested: cap + 1, cap })
    );
    assert_eq!(fresh.position(), 0);

    // Prefill seeds fresh states only.
    fresh.step(&kernel, &v[..c], &mut y1).unwrap();
    assert_eq!(
        fresh.prefill(&kernel, &v[..c], 1, &mut y1),
        Err(DecodeError::PrefillNotAtStart { position: 1 })
    );
}

/// Steps (after an `n0`-row prefill) a state of `cap` rows on a kernel that keeps `rows` of the coefficient rows
/// `coeffs[kcap][c]`, giving each call the lags it asks for from the full table, as a decoder computes them from the RPE.
fn run_short_kernel(coeffs: &[f32], kcap: usize, rows: usize, cap: usize, v: &[f32], n0: usize, naive: bool) -> Vec<f32> {
    let c = coeffs.len() / kcap;
    let kernel = OnlineKernel::with_rows(&coeffs[..rows * c], rows, kcap, c);
    let estimate = OnlineKernel::bytes_for(rows, kcap, c);
    assert!(kernel.memory_bytes() <= estimate && estimate - kernel.memory_bytes() <= 8 * 4 * kcap, "kernel bytes {} vs {estimate}", kernel.memory_bytes());
    let far_for = |need: usize| coeffs[rows * c..need.max(rows) * c].to_vec();
    let mut y = vec![0.0f32; cap * c];
    // The two states share these methods but no trait: one body drives either, and returns the state's bytes.
    macro_rules! drive {
        ($state:expr) => {{
            let mut state = $state;
            state.prefill_with(&kernel, &v[..n0 * c], n0, &far_for(state.lags_needed(n0)), &mut y[..n0 * c]).unwrap();
            for t in n0..cap {
                let need = state.lags_needed(1);
                assert!(need <= cap, "a step never reads lags past the state's rows: {need} > {cap}");
                state.step_with(&kernel, &v[t * c..][..c], &far_for(need), &mut y[t * c..][..c]).unwrap();
            }
            state.memory_bytes()
        }};
    }
    if naive {
        drive!(NaiveConvState::with_capacity(&kernel, cap));
    } else {
        assert_eq!(drive!(OnlineConvState::with_capacity(&kernel, cap)), OnlineConvState::bytes_for(cap, kcap, c));
    }
    y
}

#[test]
fn a_kernel_of_few_rows_given_the_far_lags_gives_the_full_kernels_bits() {
    // Same lags, same blocks, same spectra (computed when the block fires instead of cached): the same floats.
    let (kcap, c) = (1024usize, 37usize);
    let mut rng = Rng::new(4242);
    let coeffs = decayed_coeffs(&mut rng, kcap, c);
    let full = OnlineKernel::new(&coeffs, kcap, c);
    let v = rng.vec(kcap * c, -1.0, 1.0);
    for &n0 in &[0usize, 1, 40, 64, 300, 1000] {
        let want = run_online(&full, &v, n0, kcap);
        for rows in [64usize, 100, 512] {
            assert_eq!(run_short_kernel(&coeffs, kcap, rows, kcap, &v, n0, false), want, "rows={rows} prefill={n0}");
        }
        let naive = run_naive(&full, &v, n0, kcap);
        assert_eq!(run_short_kernel(&coeffs, kcap, 64, kcap, &v, n0, true), naive, "naive, prefill={n0}");
    }
}

#[test]
fn a_state_sized_to_the_last_position_is_exact_up_to_it() {
    // Blocks that would reach past the state's rows stop there; every output up to the last row is still exact.
    let (kcap, c) = (2048usize, 21usize);
    let mut rng = Rng::new(77);
    let coeffs = decayed_coeffs(&mut rng, kcap, c);
    for &cap in &[1usize, 63, 65, 129, 1025, 1040, 1500, 2047] {
        let v = rng.vec(cap * c, -1.0, 1.0);
        let reference = direct_f64(&coeffs, &v, cap, c);
        for &n0 in &[0usize, 1, 33, 64, 1024] {
            if n0 > cap {
                continue;
            }
            for rows in [64usize, kcap] {
                let y = run_short_kernel(&coeffs, kcap, rows, cap, &v, n0, false);
                let e = rel_err(&y, &reference);
                assert!(e <= 1e-5, "cap={cap} rows={rows} prefill={n0}: online vs float64 {e:e}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "far must hold")]
fn a_step_without_the_lags_it_reads_is_refused() {
    let (kcap, c) = (256usize, 3usize);
    let mut rng = Rng::new(5);
    let coeffs = decayed_coeffs(&mut rng, kcap, c);
    let kernel = OnlineKernel::with_rows(&coeffs[..64 * c], 64, kcap, c);
    let mut state = OnlineConvState::new(&kernel);
    let (v, mut y) = (vec![0.5f32; c], vec![0.0f32; c]);
    // Position 64 issues a block of 64 inputs, which reads lags up to 127.
    for _ in 0..64 {
        state.step(&kernel, &v, &mut y).unwrap();
    }
}
