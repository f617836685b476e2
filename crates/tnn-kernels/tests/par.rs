//! Kernels split across threads return the very bits they return in one piece: each test runs a kernel serially and
//! then with pools of 2, 3 and 5 threads (`ScopedThreads`), and compares the outputs bit for bit. The serial run is
//! the reference: every kernel here is checked against its scalar twin or float64 elsewhere.

mod common;
use common::*;
use tnn_kernels::par::{with_pool, ScopedThreads};

const POOLS: [usize; 3] = [2, 3, 5];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs `f` serially and under each pool; every output must equal the serial one bit for bit.
fn same_bits(what: &str, f: impl Fn() -> Vec<f32>) {
    let serial = bits(&f());
    for t in POOLS {
        let threaded = bits(&with_pool(&ScopedThreads(t), &f));
        assert!(serial == threaded, "{what}: {t} threads differ from one");
    }
}

/// (m, k, n): decode rows (in place), prefill rows (packed panels) with few and many row blocks, k across KC.
const GEMM_SIZES: [(usize, usize, usize); 8] =
    [(1, 512, 1536), (2, 37, 1029), (5, 1100, 300), (7, 64, 33), (8, 96, 70), (64, 520, 200), (130, 600, 97), (300, 40, 1536)];

#[test]
fn gemm_f32_f16_and_int8_match_one_thread() {
    let mut rng = Rng::new(11);
    for (m, k, n) in GEMM_SIZES {
        let x = rng.vec(m * k, -1.0, 1.0);
        let w = rng.vec(n * k, -1.0, 1.0);
        let b = rng.vec(n, -1.0, 1.0);
        let w16: Vec<u16> = w.iter().map(|&v| tnn_kernels::f16::f32_to_f16_bits(v)).collect();
        let (mut q, mut s) = (vec![0i8; n * k], vec![0.0f32; n]);
        tnn_kernels::quant::quantize_rows_i8(&w, n, k, &mut q, &mut s);
        same_bits(&format!("gemm {m}x{k}x{n}"), || {
            let mut y = vec![0.0; m * n];
            tnn_kernels::gemm::gemm(&x, &w, Some(&b), &mut y, m, k, n);
            y
        });
        same_bits(&format!("gemm_f16 {m}x{k}x{n}"), || {
            let mut y = vec![0.0; m * n];
            tnn_kernels::gemm::gemm_f16(&x, &w16, Some(&b), &mut y, m, k, n);
            y
        });
        same_bits(&format!("gemm_i8 {m}x{k}x{n}"), || {
            let mut y = vec![0.0; m * n];
            tnn_kernels::quant::gemm_i8(&x, &q, &s, Some(&b), &mut y, m, k, n);
            y
        });
    }
}

#[test]
fn elementwise_and_norms_match_one_thread() {
    use tnn_kernels::{activation as a, norm};
    let mut rng = Rng::new(12);
    // Sizes past the per-task minimum with ragged ends; one row count that does not divide among the threads.
    for (rows, dim) in [(301, 511), (64, 1536), (1000, 37)] {
        let n = rows * dim;
        let x = rng.vec(n, -6.0, 6.0);
        let z = rng.vec(n, -2.0, 2.0);
        let (g, b) = (rng.vec(dim, 0.5, 1.5), rng.vec(dim, -1.0, 1.0));
        let un = |f: fn(&mut [f32])| {
            let x = x.clone();
            move || {
                let mut y = x.clone();
                f(&mut y);
                y
            }
        };
        same_bits("silu", un(a::silu_in_place));
        same_bits("gelu", un(a::gelu_in_place));
        same_bits("relu", un(a::relu_in_place));
        same_bits("mul", || {
            let mut y = vec![0.0; n];
            a::mul(&x, &z, &mut y);
            y
        });
        same_bits("add", || {
            let mut y = x.clone();
            a::add_in_place(&mut y, &z);
            y
        });
        same_bits("scale", || {
            let mut y = vec![0.0; n];
            a::scale(&x, -0.37, &mut y);
            y
        });
        same_bits("simple_rms_norm", || {
            let mut y = vec![0.0; n];
            norm::simple_rms_norm(&x, &mut y, rows, dim, 1e-8);
            y
        });
        same_bits("layer_norm", || {
            let mut y = x.clone();
            norm::layer_norm_in_place(&mut y, &g, &b, rows, dim, 1e-5);
            y
        });
    }
}

#[test]
fn toeplitz_products_match_one_thread() {
    use tnn_kernels::toeplitz::{coeff_rows, toeplitz_direct, ToeplitzPlan};
    let mut rng = Rng::new(13);
    // c not a multiple of 8 or 16 (a partial last group), direct and FFT paths, both kinds.
    for (n, c) in [(64, 803), (300, 203), (1100, 96)] {
        for causal in [true, false] {
            let x = rng.vec(n * c, -1.0, 1.0);
            let t = rng.vec(coeff_rows(n, causal) * c, -0.5, 0.5);
            let what = format!("n={n} c={c} causal={causal}");
            same_bits(&format!("toeplitz_direct {what}"), || {
                let mut y = vec![0.0; n * c];
                toeplitz_direct(&x, &t, &mut y, n, c, causal);
                y
            });
            // Plans made inside the pooled closure, as the wasm build makes them under its pool.
            same_bits(&format!("plan apply {what}"), || {
                let mut plan = ToeplitzPlan::new_fft(n, c, causal);
                let mut spectra = vec![0.0; plan.spectra_len()];
                plan.spectra(&t, &mut spectra);
                let mut y = vec![0.0; n * c];
                plan.apply(&x, &spectra, &mut y);
                y.extend_from_slice(&spectra);
                y
            });
            same_bits(&format!("plan apply_coeffs {what}"), || {
                let mut plan = ToeplitzPlan::new_fft(n, c, causal);
                let mut y = vec![0.0; n * c];
                plan.apply_coeffs(&x, &t, &mut y);
                y
            });
        }
    }
    // A plan made with one thread and then used by a pool grows its scratch.
    let (n, c) = (200, 64);
    let x = rng.vec(n * c, -1.0, 1.0);
    let t = rng.vec(n * c, -0.5, 0.5);
    let mut plan = ToeplitzPlan::new_fft(n, c, true);
    let (mut y1, mut y3) = (vec![0.0; n * c], vec![0.0; n * c]);
    plan.apply_coeffs(&x, &t, &mut y1);
    with_pool(&ScopedThreads(3), || plan.apply_coeffs(&x, &t, &mut y3));
    assert!(bits(&y1) == bits(&y3));
}

#[test]
fn decode_states_match_one_thread() {
    use tnn_kernels::online_conv::{OnlineConvState, OnlineKernel, WindowKernel, WindowState};
    let mut rng = Rng::new(14);
    // 56 channels: three full strips and a partial one, seven groups of eight.
    let (c, cap) = (56, 1024);
    let t: Vec<f32> = (0..cap * c).map(|i| rng.uniform(-1.0, 1.0) * 0.997f32.powi((i / c) as i32)).collect();
    let v = rng.vec(cap * c, -1.0, 1.0);
    // Online: a 300-token FFT prefill, then steps through blocks of 256 and 512 (split across threads).
    let kernel = OnlineKernel::new(&t, cap, c);
    same_bits("online prefill and steps", || {
        let mut s = OnlineConvState::new(&kernel);
        let mut y = vec![0.0; cap * c];
        let n = 300;
        s.prefill(&kernel, &v[..n * c], n, &mut y[..n * c]).unwrap();
        for p in n..cap {
            s.step(&kernel, &v[p * c..(p + 1) * c], &mut y[p * c..(p + 1) * c]).unwrap();
        }
        y
    });
    // Windowed: chunks of 64 over a window of 200, fed in uneven pieces.
    let window = WindowKernel::new(&t[..200 * c], 200, c, 64);
    same_bits("window push", || {
        let mut s = WindowState::new(&window);
        let mut y = vec![0.0; cap * c];
        let (mut i, mut p) = (0, 0);
        while i < cap {
            let m = [64, 1, 130, 7][p % 4].min(cap - i);
            s.push(&window, &v[i * c..(i + m) * c], m, &mut y[i * c..(i + m) * c]);
            i += m;
            p += 1;
        }
        y
    });
}
