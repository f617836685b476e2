//! Windowed decoding (finite kernel, state bounded in the position) against a float64 direct product over the
//! window, for every way of feeding it: single steps, one big push, random chunkings, far past the window.

use tnn_kernels::online_conv::{OnlineConvState, OnlineKernel, WindowKernel, WindowState};

mod common;
use common::Rng;

/// `T_k = r_k · λ_c^k` with per-channel decays: the shape of a decayed TNN kernel.
fn coeffs(rng: &mut Rng, k: usize, c: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; k * c];
    for i in 0..k {
        for ch in 0..c {
            let l = 0.995 + 0.004 * (ch as f64 + 0.5) / c as f64;
            t[i * c + ch] = (rng.uniform(-1.0, 1.0) as f64 * l.powi(i as i32)) as f32;
        }
    }
    t
}

/// `y[t][ch] = Σ_{k<K, k≤t} T_k[ch] · v[t-k][ch]` in float64.
fn windowed_f64(t: &[f32], window: usize, v: &[f32], n: usize, c: usize) -> Vec<f64> {
    let mut y = vec![0.0f64; n * c];
    for i in 0..n {
        for k in 0..window.min(i + 1) {
            for ch in 0..c {
                y[i * c + ch] += t[k * c + ch] as f64 * v[(i - k) * c + ch] as f64;
            }
        }
    }
    y
}

/// Largest |a − b| over rows, relative to the bound `Σ_k |T_k| · max|v|` on any output.
fn err(a: &[f32], b: &[f64], t: &[f32], window: usize, c: usize, vmax: f64) -> f64 {
    let mut scale = 0.0f64;
    for ch in 0..c {
        scale = scale.max((0..window).map(|k| t[k * c + ch].abs() as f64).sum::<f64>());
    }
    a.iter().zip(b).fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y).abs())) / (scale * vmax)
}

/// Feeds `v` to a fresh state in pieces of the given sizes (cycled), returning every output.
fn run(kernel: &WindowKernel, v: &[f32], n: usize, pieces: &[usize]) -> Vec<f32> {
    let c = kernel.channels();
    let mut s = WindowState::new(kernel);
    let mut y = vec![0.0f32; n * c];
    let (mut i, mut p) = (0, 0);
    while i < n {
        let m = pieces[p % pieces.len()].min(n - i);
        s.push(kernel, &v[i * c..(i + m) * c], m, &mut y[i * c..(i + m) * c]);
        i += m;
        p += 1;
    }
    assert_eq!(s.position(), n);
    y
}

#[test]
fn every_feeding_matches_the_direct_windowed_product() {
    let mut rng = Rng::new(7);
    for &(window, c, chunk, n) in &[(37usize, 5usize, 8usize, 300usize), (100, 16, 32, 700), (257, 19, 64, 1500), (64, 1, 64, 400), (12, 24, 64, 500)] {
        let t = coeffs(&mut rng, window, c);
        let v = rng.vec(n * c, -1.0, 1.0);
        let kernel = WindowKernel::new(&t, window, c, chunk);
        let want = windowed_f64(&t, window, &v, n, c);
        for pieces in [&[1usize][..], &[n][..], &[3, 1, 50, chunk, 2 * chunk + 5, 7][..], &[chunk - 1, 1][..]] {
            let got = run(&kernel, &v, n, pieces);
            let e = err(&got, &want, &t, window, c, 1.0);
            assert!(e < 2e-6, "window {window}, c {c}, chunk {chunk}, pieces {pieces:?}: error {e:e}");
        }
    }
}

#[test]
fn many_times_around_the_ring() {
    let mut rng = Rng::new(8);
    let (window, c, chunk) = (150, 9, 32);
    let n = 20 * (window + chunk);
    let t = coeffs(&mut rng, window, c);
    let v = rng.vec(n * c, -1.0, 1.0);
    let kernel = WindowKernel::new(&t, window, c, chunk);
    let want = windowed_f64(&t, window, &v, n, c);
    let got = run(&kernel, &v, n, &[1, 1, 1, 200, 1, 33]);
    assert!(err(&got, &want, &t, window, c, 1.0) < 2e-6);
}

#[test]
fn reset_starts_over() {
    let mut rng = Rng::new(9);
    let (window, c, chunk, n) = (50, 6, 16, 200);
    let t = coeffs(&mut rng, window, c);
    let v = rng.vec(n * c, -1.0, 1.0);
    let kernel = WindowKernel::new(&t, window, c, chunk);
    let mut s = WindowState::new(&kernel);
    let mut y1 = vec![0.0f32; n * c];
    s.push(&kernel, &v, n, &mut y1);
    s.reset();
    assert_eq!(s.position(), 0);
    let mut y2 = vec![0.0f32; n * c];
    for i in 0..n {
        s.push(&kernel, &v[i * c..][..c], 1, &mut y2[i * c..][..c]);
    }
    let want = windowed_f64(&t, window, &v, n, c);
    assert!(err(&y2, &want, &t, window, c, 1.0) < 2e-6);
    assert!(err(&y1, &want, &t, window, c, 1.0) < 2e-6);
}

/// A window at least as long as the sequence is the full causal product: the windowed state gains nothing and loses
/// nothing against the full-history online state.
#[test]
fn a_window_past_the_sequence_equals_the_full_online_state() {
    let mut rng = Rng::new(10);
    let (c, n) = (17, 512);
    let t = coeffs(&mut rng, n, c);
    let v = rng.vec(n * c, -1.0, 1.0);
    let wk = WindowKernel::new(&t, n, c, 64);
    let windowed = run(&wk, &v, n, &[1]);
    let ok = OnlineKernel::new(&t, n, c);
    let mut os = OnlineConvState::new(&ok);
    let mut online = vec![0.0f32; n * c];
    for i in 0..n {
        os.step(&ok, &v[i * c..][..c], &mut online[i * c..][..c]).unwrap();
    }
    let want = windowed_f64(&t, n, &v, n, c);
    let (ew, eo) = (err(&windowed, &want, &t, n, c, 1.0), err(&online, &want, &t, n, c, 1.0));
    assert!(ew < 2e-6 && eo < 2e-6, "windowed {ew:e}, online {eo:e}");
}

#[test]
fn memory_does_not_depend_on_the_position() {
    let mut rng = Rng::new(11);
    let (window, c, chunk) = (100, 8, 32);
    let t = coeffs(&mut rng, window, c);
    let kernel = WindowKernel::new(&t, window, c, chunk);
    let mut s = WindowState::new(&kernel);
    let before = s.memory_bytes();
    let v = rng.vec(5000 * c, -1.0, 1.0);
    let mut y = vec![0.0f32; 5000 * c];
    s.push(&kernel, &v, 5000, &mut y);
    assert_eq!(s.memory_bytes(), before);
    // Ring of K + B rows, the near state, the far outputs, FFT scratch: O((K + B)·c), nothing per position.
    assert!(before < 4 * c * (window + chunk) * 8 + 64 * 1024, "{before} bytes");
}
