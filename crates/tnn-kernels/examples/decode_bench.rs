//! Per-token decode time of the Toeplitz part, online FFT against naive, at several contexts.
//!
//! `cargo run --release -p tnn-kernels --example decode_bench -- [c] [contexts...]`
//! (defaults: c = 1536, contexts 1024 4096 16384 65536).
//!
//! Online: prefill `X` tokens into a bucket of `2X`, then step `X` tokens; the mean over that window is the
//! amortized cost near context `X` (every block size up to `X/2` occurs at its natural rate). Naive: its cost is
//! the same every step at a given context, so a few steps right after a prefill of `X` suffice. Also shown: the
//! online mean over the first tokens after the prompt, where only small blocks occur (the prefill already
//! added the prompt's contribution to every later output). Best of a few passes after a warm-up pass. Times
//! are this thread's CPU time (see `now_us`). Times are this thread's CPU time (see `now_us`).

/// This thread's CPU time in µs where the OS offers it (Linux), else wall-clock time. The machines this runs on
/// are shared, and CPU time leaves out the time other processes hold the core.
#[cfg(target_os = "linux")]
fn now_us() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: plain libc call filling a struct laid out like the C `timespec` on 64-bit Linux.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.sec as f64 * 1e6 + ts.nsec as f64 * 1e-3
}

#[cfg(not(target_os = "linux"))]
fn now_us() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
}

use tnn_kernels::etsc::{EtscKernel, EtscState};
use tnn_kernels::online_conv::{NaiveConvState, OnlineConvState, OnlineKernel};

struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn fill(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }
}

/// Tokens generated right after the prompt, for the short-generation figure.
const FIRST: usize = 512;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers only")).collect();
    let c = args.first().copied().unwrap_or(1536);
    let contexts: Vec<usize> = if args.len() > 1 { args[1..].to_vec() } else { vec![1024, 4096, 16384, 65536] };
    let mut rng = Rng(42);
    println!("c = {c}");
    println!("| context X | online µs/token, mean over [X, 2X) | p50 | p99 | max | online µs/token, first {FIRST} after prompt | naive µs/token | speed-up (means) | kernel MB | online state MB | prefill X ms |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &x in &contexts {
        let cap = 2 * x;
        let mut coeffs = rng.fill(cap * c);
        for k in 0..cap {
            let d = 0.999f32.powi(k as i32);
            for t in &mut coeffs[k * c..][..c] {
                *t *= d;
            }
        }
        let kernel = OnlineKernel::new(&coeffs, cap, c);
        drop(coeffs);
        let prompt = rng.fill(x * c);
        let steps = rng.fill(x.min(4096) * c);
        let mut y_prompt = vec![0.0f32; x * c];
        let mut y = vec![0.0f32; c];

        // A state is reused across sequences (reset), so the first pass, which also faults in its pages, is a
        // warm-up; the best of the following passes is reported, the machine being shared.
        let mut online = OnlineConvState::new(&kernel);
        let passes = if x <= 4096 { 4 } else { 2 };
        let mut online_mean = f64::INFINITY;
        let mut first_mean = f64::INFINITY;
        let mut prefill_ms = f64::INFINITY;
        let mut times = Vec::with_capacity(x);
        for _ in 0..passes {
            online.reset();
            let t0 = now_us();
            online.prefill(&kernel, &prompt, x, &mut y_prompt).unwrap();
            let pass_prefill = (now_us() - t0) / 1e3;
            let mut pass_times = Vec::with_capacity(x);
            for i in 0..x {
                let v = &steps[(i % 4096.min(x)) * c..][..c];
                let t = now_us();
                online.step(&kernel, v, &mut y).unwrap();
                pass_times.push(now_us() - t);
            }
            let mean = pass_times.iter().sum::<f64>() / x as f64;
            let first = FIRST.min(x);
            first_mean = first_mean.min(pass_times[..first].iter().sum::<f64>() / first as f64);
            prefill_ms = prefill_ms.min(pass_prefill);
            if mean < online_mean {
                online_mean = mean;
                times = pass_times;
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let online_bytes = online.memory_bytes();
        drop(online);

        let mut naive = NaiveConvState::new(&kernel);
        naive.prefill(&kernel, &prompt, x, &mut y_prompt).unwrap();
        let naive_steps = (4_000_000_000 / (x * c)).clamp(5, 200);
        naive.step(&kernel, &steps[..c], &mut y).unwrap();
        let mut naive_mean = f64::INFINITY;
        for _ in 0..2 {
            let start = now_us();
            for i in 0..naive_steps {
                naive.step(&kernel, &steps[(i % 64) * c..][..c], &mut y).unwrap();
            }
            naive_mean = naive_mean.min((now_us() - start) / naive_steps as f64);
        }
        println!(
            "| {x} | {online_mean:.1} | {:.1} | {:.1} | {:.0} | {first_mean:.1} | {naive_mean:.1} | {:.1}× | {:.0} | {:.0} | {prefill_ms:.0} |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            naive_mean / online_mean,
            kernel.memory_bytes() as f64 / 1e6,
            online_bytes as f64 / 1e6,
        );
    }

    println!();
    println!("| ETSC window N | step µs/token | prefill 4096 tokens ms | state MB |");
    println!("| --- | --- | --- | --- |");
    for &window in &[64usize, 256, 1024] {
        let coeffs = rng.fill(window * c);
        let gamma = vec![0.999f32; c];
        let kernel = EtscKernel::new(&coeffs, &gamma, window, c);
        let mut state = EtscState::new(&kernel);
        let prompt_len = 4096;
        let prompt = rng.fill(prompt_len * c);
        let mut y_prompt = vec![0.0f32; prompt_len * c];
        let t0 = now_us();
        state.prefill(&kernel, &prompt, prompt_len, &mut y_prompt).unwrap();
        let prefill_ms = (now_us() - t0) / 1e3;
        let v = rng.fill(c);
        let mut y = vec![0.0f32; c];
        let n = 200;
        let start = now_us();
        for _ in 0..n {
            state.step(&kernel, &v, &mut y);
        }
        let mean = (now_us() - start) / n as f64;
        println!("| {window} | {mean:.1} | {prefill_ms:.0} | {:.1} |", state.memory_bytes() as f64 / 1e6);
    }
}
