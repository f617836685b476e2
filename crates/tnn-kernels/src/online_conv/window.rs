//! Exact causal convolution with a finite kernel, in memory and time per token that do not grow with the position.
//!
//! A decayed TNN kernel is zero to float32 precision past a window K (the TS layer computes K from a bound on the
//! weights), so `y_t = Σ_{k<K} T_k v_{t-k}` is the layer's output at any position. Time is cut into chunks of `B`
//! positions (a power of two). For an output in chunk `[cB, cB + B)`:
//! - the inputs of its own chunk go through an [`OnlineConvState`] of capacity `B`, reset at every chunk start:
//!   the relaxed online scheme, `O(log² B)` per token, over lags below `B`;
//! - the inputs of earlier chunks (`[cB − K, cB)`, all known when the chunk starts) go through one FFT product of
//!   length `L ≥ K + B` per chunk, an overlap-save step, whose `B` outputs wait in a buffer: `O(L log L / B)`
//!   per token.
//! The state keeps the last `K` inputs in a ring, the within-chunk state and the far outputs: `O((K + B)·c)`.
//! The kernel keeps the within-chunk [`OnlineKernel`] (`T_0..T_{B-1}`) and the spectra of `T_0..T_{K-1}` at length
//! `L`. Lags at and past K contribute nothing, in both parts.

use super::columns::{strip_width, strips, STRIP};
use super::kernel::OnlineKernel;
use super::state::OnlineConvState;
use crate::lane_conv::{self, group_spectra_len, load_group, store_group, GROUP};
use crate::lane_fft::{LaneFft, C4};
use crate::par::{self, PerSlot, SendPtr};
use crate::toeplitz::fast_fft_len;

/// What every sequence decoded with one layer's windowed kernel shares.
pub struct WindowKernel {
    c: usize,
    window: usize,
    chunk: usize,
    /// `T_0..T_{chunk-1}` (zero past the window) for the within-chunk online convolution.
    near: OnlineKernel,
    /// FFT length of the far product: at least `window + chunk`, so the outputs read never wrap.
    len: usize,
    fft: LaneFft,
    /// Per group of eight channels, the spectra of `T_0..T_{window-1}` zero-padded to `len`.
    far: Vec<f32>,
}

impl WindowKernel {
    /// From the decayed coefficients `coeffs[window][c]` (row `k` is `T_k`) and a chunk length (a power of two).
    pub fn new(coeffs: &[f32], window: usize, c: usize, chunk: usize) -> Self {
        assert!(window >= 1 && c >= 1, "window and channels must be positive");
        assert!(chunk.is_power_of_two() && chunk >= 2, "chunk must be a power of two ≥ 2, got {chunk}");
        assert!(coeffs.len() >= window * c, "coefficient table must be [window][c]");
        let mut near_coeffs = vec![0.0f32; chunk * c];
        let rows = window.min(chunk);
        near_coeffs[..rows * c].copy_from_slice(&coeffs[..rows * c]);
        let near = OnlineKernel::new(&near_coeffs, chunk, c);
        drop(near_coeffs);
        let len = fast_fft_len(window + chunk);
        let fft = LaneFft::new(len);
        let per = group_spectra_len(len);
        let groups = c.div_ceil(GROUP);
        let mut far = vec![0.0f32; groups * per];
        let (mut buf, mut work) = (vec![C4::zero(); len], vec![C4::zero(); len]);
        for (g, out) in far.chunks_exact_mut(per).enumerate() {
            for (k, z) in buf.iter_mut().enumerate() {
                *z = if k < window { load_group(coeffs, k * c, c, g * GROUP) } else { C4::zero() };
            }
            lane_conv::kernel_spectra(&fft, &mut buf, &mut work, out);
        }
        WindowKernel { c, window, chunk, near, len, fft, far }
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    /// K: lags at and past it contribute nothing.
    pub fn window(&self) -> usize {
        self.window
    }

    /// B: positions per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Bytes of the within-chunk kernel and the far spectra.
    pub fn memory_bytes(&self) -> usize {
        self.near.memory_bytes() + self.far.len() * 4
    }
}

/// One sequence's windowed convolution state for one layer.
pub struct WindowState {
    c: usize,
    window: usize,
    chunk: usize,
    pos: usize,
    /// The last `ring_rows` inputs, strip-major `[strips][ring_rows][STRIP]`; input `p` sits in row `p % ring_rows`.
    ring: Vec<f32>,
    ring_rows: usize,
    near: OnlineConvState,
    /// The far outputs of the current chunk, token-major `[chunk][c]`.
    far: Vec<f32>,
    /// FFT buffer and ping-pong buffer of the far product, one pair per pool thread.
    fft_scratch: PerSlot<(Vec<C4>, Vec<C4>)>,
    fft_len: usize,
}

impl WindowState {
    pub fn new(kernel: &WindowKernel) -> Self {
        let (c, window, chunk) = (kernel.c, kernel.window, kernel.chunk);
        // The last K inputs must still be there at a chunk start, after the chunk's own B were written.
        let ring_rows = window + chunk;
        WindowState {
            c,
            window,
            chunk,
            pos: 0,
            ring: vec![0.0; strips(c) * ring_rows * STRIP],
            ring_rows,
            near: OnlineConvState::new(&kernel.near),
            far: vec![0.0; chunk * c],
            fft_scratch: PerSlot::for_pool(|| (vec![C4::zero(); kernel.len], vec![C4::zero(); kernel.len])),
            fft_len: kernel.len,
        }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Back to position 0, keeping the allocations.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.near.reset();
        self.ring.fill(0.0);
    }

    /// Bytes held by the state: the ring, the within-chunk state, the far outputs and the FFT scratch.
    pub fn memory_bytes(&self) -> usize {
        let fft = self.fft_scratch.len() * 2 * self.fft_len * core::mem::size_of::<C4>();
        (self.ring.len() + self.far.len()) * 4 + self.near.memory_bytes() + fft
    }

    /// Consumes `v[n][c]` (the next `n` inputs, at any position) and writes their outputs `y[n][c]`. Never allocates.
    pub fn push(&mut self, kernel: &WindowKernel, v: &[f32], n: usize, y: &mut [f32]) {
        let c = self.c;
        assert!(kernel.c == c && kernel.window == self.window && kernel.chunk == self.chunk, "kernel shape differs from the state's");
        assert!(v.len() >= n * c && y.len() >= n * c, "push buffers must be [n][c]");
        let b = self.chunk;
        let mut i = 0;
        while i < n {
            let at = self.pos % b;
            if at == 0 {
                self.start_chunk(kernel);
            }
            // A whole chunk (or what is left of the input) from a chunk start goes through one prefill; rows that
            // continue a started chunk go one step at a time.
            let rows = if at == 0 { (n - i).min(b) } else { 1 };
            let (vi, yi) = (&v[i * c..(i + rows) * c], &mut y[i * c..(i + rows) * c]);
            if at == 0 {
                self.near.prefill(&kernel.near, vi, rows, yi).expect("a reset state takes up to a chunk");
            } else {
                self.near.step(&kernel.near, vi, yi).expect("a chunk never outgrows its state");
            }
            for r in 0..rows {
                let far = &self.far[(at + r) * c..][..c];
                for (o, f) in yi[r * c..(r + 1) * c].iter_mut().zip(far) {
                    *o += f;
                }
                self.remember(&vi[r * c..(r + 1) * c]);
            }
            i += rows;
        }
    }

    /// Writes input `x[c]` at the current position into the ring and advances.
    fn remember(&mut self, x: &[f32]) {
        let (c, rows) = (self.c, self.ring_rows);
        let row = self.pos % rows;
        for s in 0..strips(self.c) {
            let w = strip_width(c, s);
            self.ring[(s * rows + row) * STRIP..][..w].copy_from_slice(&x[s * STRIP..][..w]);
        }
        self.pos += 1;
    }

    /// At a chunk start: the far outputs of the chunk, from the `K` inputs before it, and a fresh near state.
    fn start_chunk(&mut self, kernel: &WindowKernel) {
        self.near.reset();
        let (c, k_win, b, rows) = (self.c, self.window, self.chunk, self.ring_rows);
        if self.pos == 0 {
            self.far.fill(0.0);
            return;
        }
        let len = kernel.len;
        let per = group_spectra_len(len);
        self.fft_scratch.fit_pool(|| (vec![C4::zero(); len], vec![C4::zero(); len]));
        // Input i of the block is position pos − K + i; positions before 0 are zeros.
        let first = self.pos as isize - k_win as isize;
        // Groups of eight channels are independent: ranges of them run on the pool's threads.
        let (ring, far) = (&self.ring, SendPtr(self.far.as_mut_ptr()));
        par::for_each_unit(c.div_ceil(GROUP), 1, &self.fft_scratch, |g, (buf, work)| {
            let ch0 = g * GROUP;
            let (s, lane0) = (ch0 / STRIP, ch0 % STRIP);
            let slab = &ring[s * rows * STRIP..][..rows * STRIP];
            for (i, z) in buf.iter_mut().enumerate() {
                let p = first + i as isize;
                *z = if i < k_win && p >= 0 { load_group(slab, (p as usize % rows) * STRIP, STRIP, lane0) } else { C4::zero() };
            }
            lane_conv::convolve(&kernel.fft, buf, work, &kernel.far[g * per..][..per]);
            // Output K + r of the linear convolution is position pos + r; nothing past index L wraps onto it.
            let w = GROUP.min(c - ch0);
            for r in 0..b {
                // SAFETY: only this group's channels of row r of `far` ([chunk][c]); other tasks write others.
                let row = unsafe { core::slice::from_raw_parts_mut(far.get().add(r * c + ch0), w) };
                store_group(row, 0, w, 0, buf[k_win + r]);
            }
        });
    }
}
