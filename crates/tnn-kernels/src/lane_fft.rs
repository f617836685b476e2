//! A complex FFT whose every element is four independent complex numbers, one per SIMD lane.
//!
//! Toeplitz mixing transforms many channels of the same length, and a token-major `[n][c]` row already holds
//! neighbouring channels side by side. Putting channel `ch + l` in lane `l` turns the transform of four channels
//! into one scalar-shaped FFT on vectors: no shuffles, no transposes, every arithmetic op fully used. (A
//! per-channel real FFT, as RustFFT does it, reaches about 10–12 GFLOP/s in wasm; the shuffles of its vectorised
//! butterflies and the strided gathers of `[n][c]` columns are what this layout avoids.)
//!
//! The algorithm is the Stockham autosort FFT (decimation in frequency) with radix-4, radix-2 and radix-3 stages,
//! so lengths `2^a·3^b` work. Stage with radix `p` on sub-length `n` and stride `s` (`m = n/p`):
//! `dst[j + s(pq + r)] = ω_n^{qr} · Σ_t src[j + s(q + tm)] · ω_p^{tr}` for `q < m`, `j < s`, `r < p`;
//! starting from `n = L, s = 1` and ending at `n = 1`, the output comes out in natural order.

// `%` keeps the crate building with the workspace's minimum Rust (is_multiple_of is newer).
#![allow(clippy::manual_is_multiple_of)]

use crate::simd::F32x4;

/// Four complex numbers, lane by lane.
#[derive(Clone, Copy)]
pub(crate) struct C4 {
    pub re: F32x4,
    pub im: F32x4,
}

impl C4 {
    #[inline(always)]
    pub fn zero() -> Self {
        C4 { re: F32x4::zero(), im: F32x4::zero() }
    }
    #[inline(always)]
    pub fn add(self, b: Self) -> Self {
        C4 { re: self.re + b.re, im: self.im + b.im }
    }
    #[inline(always)]
    pub fn sub(self, b: Self) -> Self {
        C4 { re: self.re - b.re, im: self.im - b.im }
    }
    /// Real and imaginary parts exchanged.
    #[inline(always)]
    pub fn swap(self) -> Self {
        C4 { re: self.im, im: self.re }
    }
    /// `-i · self`.
    #[inline(always)]
    pub fn mul_neg_i(self) -> Self {
        C4 { re: self.im, im: -self.re }
    }
    #[inline(always)]
    pub fn scale(self, s: F32x4) -> Self {
        C4 { re: self.re * s, im: self.im * s }
    }
    /// Product with one complex number shared by all lanes.
    #[inline(always)]
    fn mul_scalar(self, wr: f32, wi: f32) -> Self {
        let (wr, wi) = (F32x4::splat(wr), F32x4::splat(wi));
        C4 { re: self.re.mul_add(wr, -(self.im * wi)), im: self.re.mul_add(wi, self.im * wr) }
    }
    /// Lane-wise complex product.
    ///
    /// Written with `mul_add` so that the relaxed-SIMD build fuses one multiply of each part; unfused,
    /// `a·b + (−(c·d))` rounds exactly as `a·b − c·d`.
    #[inline(always)]
    pub fn mul(self, b: Self) -> Self {
        C4 { re: self.re.mul_add(b.re, -(self.im * b.im)), im: self.re.mul_add(b.im, self.im * b.re) }
    }
    #[inline(always)]
    pub fn conj(self) -> Self {
        C4 { re: self.re, im: -self.im }
    }
}

#[derive(Clone, Copy)]
struct Stage {
    radix: usize,
    /// Sub-length this stage splits.
    n: usize,
    /// Stride between the interleaved sub-transforms.
    s: usize,
    /// Offset of this stage's twiddles `(ω_n^{qr} for r in 1..radix) for q in 0..n/radix`, as (re, im) pairs.
    tw: usize,
}

/// A planned forward FFT of one length on four lanes.
pub(crate) struct LaneFft {
    len: usize,
    stages: Vec<Stage>,
    twiddles: Vec<(f32, f32)>,
}

impl LaneFft {
    /// Plans a forward DFT (`e^{-2πi·jk/L}`) of length `len = 2^a·3^b`.
    pub fn new(len: usize) -> Self {
        assert!(len >= 1);
        let mut radices = Vec::new();
        let mut rest = len;
        while rest % 4 == 0 {
            radices.push(4);
            rest /= 4;
        }
        while rest % 2 == 0 {
            radices.push(2);
            rest /= 2;
        }
        while rest % 3 == 0 {
            radices.push(3);
            rest /= 3;
        }
        assert_eq!(rest, 1, "LaneFft: length {len} is not 2^a·3^b");
        let mut stages = Vec::with_capacity(radices.len());
        let mut twiddles = Vec::new();
        let (mut n, mut s) = (len, 1);
        for &p in &radices {
            let m = n / p;
            let tw = twiddles.len();
            for q in 0..m {
                for r in 1..p {
                    // Angles in f64 so that every twiddle is the correctly rounded f32 of the exact root.
                    let a = -2.0 * core::f64::consts::PI * (q * r) as f64 / n as f64;
                    twiddles.push((a.cos() as f32, a.sin() as f32));
                }
            }
            stages.push(Stage { radix: p, n, s, tw });
            n = m;
            s *= p;
        }
        LaneFft { len, stages, twiddles }
    }

    /// Bytes held by the plan's twiddles (at most `8·len`: each stage of radix `p` keeps `(p-1)/p` of what it splits).
    pub fn bytes(&self) -> usize {
        self.twiddles.len() * core::mem::size_of::<(f32, f32)>()
    }

    /// Transforms `data` in place; `work` is scratch of the same length.
    pub fn forward(&self, data: &mut [C4], work: &mut [C4]) {
        assert!(data.len() == self.len && work.len() == self.len);
        let mut in_data = true;
        for st in &self.stages {
            let (src, dst) = if in_data { (&*data, &mut *work) } else { (&*work, &mut *data) };
            let tw = &self.twiddles[st.tw..];
            match st.radix {
                4 => stage4(src, dst, st.n, st.s, tw),
                2 => stage2(src, dst, st.n, st.s, tw),
                _ => stage3(src, dst, st.n, st.s, tw),
            }
            in_data = !in_data;
        }
        if !in_data {
            data.copy_from_slice(work);
        }
    }
}

fn stage2(src: &[C4], dst: &mut [C4], n: usize, s: usize, tw: &[(f32, f32)]) {
    let m = n / 2;
    for q in 0..m {
        let (wr, wi) = tw[q];
        let a0 = &src[s * q..s * q + s];
        let a1 = &src[s * (q + m)..s * (q + m) + s];
        let (d0, d1) = dst[s * 2 * q..s * 2 * q + 2 * s].split_at_mut(s);
        for j in 0..s {
            let (a, b) = (a0[j], a1[j]);
            d0[j] = a.add(b);
            d1[j] = a.sub(b).mul_scalar(wr, wi);
        }
    }
}

fn stage4(src: &[C4], dst: &mut [C4], n: usize, s: usize, tw: &[(f32, f32)]) {
    let m = n / 4;
    for q in 0..m {
        let (w1r, w1i) = tw[3 * q];
        let (w2r, w2i) = tw[3 * q + 1];
        let (w3r, w3i) = tw[3 * q + 2];
        let a0 = &src[s * q..s * q + s];
        let a1 = &src[s * (q + m)..s * (q + m) + s];
        let a2 = &src[s * (q + 2 * m)..s * (q + 2 * m) + s];
        let a3 = &src[s * (q + 3 * m)..s * (q + 3 * m) + s];
        let out = &mut dst[s * 4 * q..s * 4 * q + 4 * s];
        let (d0, rest) = out.split_at_mut(s);
        let (d1, rest) = rest.split_at_mut(s);
        let (d2, d3) = rest.split_at_mut(s);
        for j in 0..s {
            let (x0, x1, x2, x3) = (a0[j], a1[j], a2[j], a3[j]);
            let s02 = x0.add(x2);
            let d02 = x0.sub(x2);
            let s13 = x1.add(x3);
            let d13 = x1.sub(x3).mul_neg_i();
            d0[j] = s02.add(s13);
            d1[j] = d02.add(d13).mul_scalar(w1r, w1i);
            d2[j] = s02.sub(s13).mul_scalar(w2r, w2i);
            d3[j] = d02.sub(d13).mul_scalar(w3r, w3i);
        }
    }
}

fn stage3(src: &[C4], dst: &mut [C4], n: usize, s: usize, tw: &[(f32, f32)]) {
    let m = n / 3;
    let half = F32x4::splat(0.5);
    let h = F32x4::splat(0.866_025_4); // √3/2
    for q in 0..m {
        let (w1r, w1i) = tw[2 * q];
        let (w2r, w2i) = tw[2 * q + 1];
        let a0 = &src[s * q..s * q + s];
        let a1 = &src[s * (q + m)..s * (q + m) + s];
        let a2 = &src[s * (q + 2 * m)..s * (q + 2 * m) + s];
        let out = &mut dst[s * 3 * q..s * 3 * q + 3 * s];
        let (d0, rest) = out.split_at_mut(s);
        let (d1, d2) = rest.split_at_mut(s);
        for j in 0..s {
            let (x0, x1, x2) = (a0[j], a1[j], a2[j]);
            let t1 = x1.add(x2);
            let t2 = x0.sub(t1.scale(half));
            // -i·(√3/2)(x1 - x2): ω_3 = -1/2 - i√3/2.
            let t3 = x1.sub(x2).scale(h).mul_neg_i();
            d0[j] = x0.add(t1);
            d1[j] = t2.add(t3).mul_scalar(w1r, w1i);
            d2[j] = t2.sub(t3).mul_scalar(w2r, w2i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(len: usize) {
        let fft = LaneFft::new(len);
        let mut data: Vec<C4> = (0..len)
            .map(|i| {
                let f = |l: usize| ((i * 7 + l * 13) % 17) as f32 - 8.0 + l as f32 * 0.25;
                C4 { re: F32x4::new(f(0), f(1), f(2), f(3)), im: F32x4::new(f(4), -f(5), f(6), 0.0) }
            })
            .collect();
        let input: Vec<([f32; 4], [f32; 4])> = data.iter().map(|c| (c.re.to_array(), c.im.to_array())).collect();
        let mut work = vec![C4::zero(); len];
        fft.forward(&mut data, &mut work);
        let mut worst = 0.0f64;
        let mut scale = 0.0f64;
        for k in 0..len {
            for l in 0..4 {
                let (mut sr, mut si) = (0.0f64, 0.0f64);
                for (j, (re, im)) in input.iter().enumerate() {
                    let a = -2.0 * std::f64::consts::PI * ((j * k) % len) as f64 / len as f64;
                    let (c, s) = (a.cos(), a.sin());
                    sr += re[l] as f64 * c - im[l] as f64 * s;
                    si += re[l] as f64 * s + im[l] as f64 * c;
                }
                let got = (data[k].re.to_array()[l] as f64, data[k].im.to_array()[l] as f64);
                worst = worst.max((got.0 - sr).abs()).max((got.1 - si).abs());
                scale = scale.max(sr.abs()).max(si.abs());
            }
        }
        assert!(worst <= 1e-5 * scale, "len {len}: error {worst} of {scale}");
    }

    #[test]
    fn matches_the_dft_definition() {
        for len in [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1536] {
            check(len);
        }
    }
}
