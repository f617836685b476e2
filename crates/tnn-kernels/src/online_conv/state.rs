//! Per-sequence state of the online (relaxed) FFT convolution.

use super::block::{add_block, block_need};
use super::causal_fft::causal_conv;
use super::columns::{from_strips, strip_width, strips, to_strips, STRIP};
use super::kernel::OnlineKernel;
use super::scratch::FftScratch;
use super::{check_prefill, check_step, DecodeError};

/// One sequence's state for one layer. Row `t` of its `[cap][c]` table holds input `v_t` once position `t` is
/// done, and before that the sum of every block contribution to output `t` issued so far, so the history and
/// the pending future sums share one table. The table is stored strip-major (see `columns`). Everything is
/// allocated here; `step` never allocates. `cap` is at most the kernel's and need not be a power of two: a state
/// sized to a sequence's last position holds 4 bytes per position and channel, and its blocks stop there.
pub struct OnlineConvState {
    c: usize,
    cap: usize,
    pos: usize,
    buf: Vec<f32>,
    /// Rows `dirty..cap` are still zero, which keeps `reset` proportional to what was used.
    dirty: usize,
    scratch: FftScratch,
}

impl OnlineConvState {
    /// A fresh state for sequences decoded with `kernel` (its `cap` and channel count).
    pub fn new(kernel: &OnlineKernel) -> Self {
        Self::with_capacity(kernel, kernel.cap())
    }

    /// A fresh state for up to `cap` positions (`1 ≤ cap ≤ kernel.cap()`).
    pub fn with_capacity(kernel: &OnlineKernel, cap: usize) -> Self {
        assert!((1..=kernel.cap()).contains(&cap), "capacity must be in [1, {}], got {cap}", kernel.cap());
        let c = kernel.channels();
        let buf = vec![0.0; strips(c) * cap * STRIP];
        OnlineConvState { c, cap, pos: 0, buf, dirty: 0, scratch: FftScratch::for_kernel(kernel) }
    }

    /// Bytes that [`with_capacity`](Self::with_capacity) allocates for `cap` positions of `c` channels on a kernel of
    /// capacity `kernel_cap`, under the installed pool: what to reserve before making one.
    pub fn bytes_for(cap: usize, kernel_cap: usize, c: usize) -> usize {
        strips(c) * cap * STRIP * 4 + FftScratch::bytes_for(kernel_cap)
    }

    /// Number of positions consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    /// Copies the inputs consumed so far into `out[position][c]`: enough to re-prefill a state of a larger
    /// bucket.
    pub fn copy_history(&self, out: &mut [f32]) {
        from_strips(&self.buf, self.pos, self.c, self.cap, &mut out[..self.pos * self.c]);
    }

    /// Back to position 0, keeping the allocation.
    pub fn reset(&mut self) {
        let used = self.dirty * STRIP;
        for slab in self.buf.chunks_exact_mut(self.cap * STRIP) {
            slab[..used].fill(0.0);
        }
        self.pos = 0;
        self.dirty = 0;
    }

    /// Bytes held by the state.
    pub fn memory_bytes(&self) -> usize {
        self.buf.len() * 4 + self.scratch.bytes()
    }

    /// The lags `0..need` that the next call reads: a prefill of `n` rows on a fresh state, else a step; 0 for a
    /// call that will be refused (past the capacity). Those from the kernel's `rows()` on must be passed as `far`.
    pub fn lags_needed(&self, n: usize) -> usize {
        if self.pos == 0 {
            if n > self.cap {
                return 0;
            }
            return self.pending_blocks(n).map(|(m, u)| block_need(m, u, self.cap)).fold(n, usize::max);
        }
        let m = self.pos + 1;
        if m < self.cap {
            block_need(m, m & m.wrapping_neg(), self.cap)
        } else if m == self.cap {
            1
        } else {
            0
        }
    }

    /// [`prefill_with`](Self::prefill_with) with no lags beyond the kernel's table.
    pub fn prefill(&mut self, kernel: &OnlineKernel, v: &[f32], n: usize, y: &mut [f32]) -> Result<(), DecodeError> {
        self.prefill_with(kernel, v, n, &[], y)
    }

    /// Consumes a prompt `v[n][c]` into a fresh state and writes its outputs `y[n][c]`: one FFT product for the
    /// outputs, then the blocks that the online scheme would have issued by now and that still reach outputs at
    /// or after `n`. Those are the blocks ending at `n` with the bits of `n` below each set bit cleared, one per
    /// set bit, so the state is exactly the one `n` calls of [`step`](Self::step) would have left. `far` holds
    /// the lags from `kernel.rows()` to [`lags_needed(n)`](Self::lags_needed).
    pub fn prefill_with(&mut self, kernel: &OnlineKernel, v: &[f32], n: usize, far: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        check_prefill(kernel, self.cap, self.c, self.pos, v, y, n)?;
        kernel.check_far(self.lags_needed(n), far);
        let c = self.c;
        causal_conv(kernel, &v[..n * c], n, far, &mut y[..n * c], &mut self.scratch);
        to_strips(&v[..n * c], n, c, &mut self.buf, self.cap);
        self.pos = n;
        self.dirty = n;
        for (m, u) in self.pending_blocks(n) {
            add_block(kernel, &mut self.buf, self.cap, m, u, n, far, &mut self.scratch);
            self.dirty = self.dirty.max((m + u).min(self.cap));
        }
        Ok(())
    }

    /// The blocks `(m, u)` that `n` steps would have issued and that still reach outputs at or after `n`, within the
    /// state's rows: one per set bit `u` of `n`, ending at `m` = `n` with its bits below `u` cleared.
    fn pending_blocks(&self, n: usize) -> impl Iterator<Item = (usize, usize)> {
        let cap = self.cap;
        (0..usize::BITS).map(|b| 1usize << b).filter(move |&u| n & u != 0).map(move |u| (n & !(u - 1), u)).filter(move |&(m, _)| m < cap)
    }

    /// [`step_with`](Self::step_with) with no lags beyond the kernel's table.
    pub fn step(&mut self, kernel: &OnlineKernel, v: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        self.step_with(kernel, v, &[], y)
    }

    /// Consumes one token `v[c]` and writes its output `y[c]`; then issues the block of the `U` last inputs
    /// (`U` = the largest power of two dividing the new position count) into the next `U` outputs. `far` holds
    /// the lags from `kernel.rows()` to [`lags_needed(1)`](Self::lags_needed).
    pub fn step_with(&mut self, kernel: &OnlineKernel, v: &[f32], far: &[f32], y: &mut [f32]) -> Result<(), DecodeError> {
        check_step(kernel, self.cap, self.c, self.pos, v, y)?;
        kernel.check_far(self.lags_needed(1), far);
        let c = self.c;
        let t = self.pos;
        for (s, slab) in self.buf.chunks_exact_mut(self.cap * STRIP).enumerate() {
            let (c0, w) = (s * STRIP, strip_width(c, s));
            let row = &mut slab[t * STRIP..][..w];
            let t0 = &kernel.coeff_slab(s)[..w];
            for (((y, r), &a), &x) in y[c0..c0 + w].iter_mut().zip(row.iter_mut()).zip(t0).zip(&v[c0..c0 + w]) {
                *y = *r + a * x;
                *r = x;
            }
        }
        let m = t + 1;
        self.pos = m;
        self.dirty = self.dirty.max(m);
        if m < self.cap {
            let u = m & m.wrapping_neg();
            add_block(kernel, &mut self.buf, self.cap, m, u, m, far, &mut self.scratch);
            self.dirty = self.dirty.max((m + u).min(self.cap));
        }
        Ok(())
    }
}
