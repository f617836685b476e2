//! A four-lane `f32` vector (and its `i32` companion for bit tricks) that every SIMD kernel is written against.
//!
//! On `wasm32` with `target_feature = "simd128"` the types wrap `core::arch::wasm32::v128`; everywhere else they are
//! plain `[f32; 4]` / `[i32; 4]` arrays. The portable form exists so that the blocking and tail logic of each SIMD
//! kernel runs under a host `cargo test` exactly as it runs in the browser, lane for lane.
//!
//! Only what the kernels need is here. `mul_add` is the one operation whose rounding depends on the build: simd128
//! has no fused multiply-add, so there it is a multiply then an add, rounded twice, exactly as the portable form
//! computes it. The relaxed-SIMD build (`target_feature = "relaxed-simd"`) uses `f32x4.relaxed_madd`, which the
//! engine may fuse (one rounding, and one instruction where the CPU has FMA) or not; the kernels are written so
//! that either is correct, and their tests hold both to the same tolerances. Host tests see the fused rounding
//! with the crate's `fma` feature, which makes the portable `mul_add` a per-lane `f32::mul_add`.

use core::ops::{Add, Div, Mul, Neg, Sub};

// The inherent add/sub/mul/... are what the operator traits below forward to.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::should_implement_trait)]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F32x4(pub(super) v128);

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct I32x4(pub(super) v128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            F32x4(f32x4_splat(v))
        }
        #[inline(always)]
        pub fn new(a: f32, b: f32, c: f32, d: f32) -> Self {
            F32x4(f32x4(a, b, c, d))
        }
        /// # Safety
        /// `p` must be valid for reading four `f32` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_ptr(p: *const f32) -> Self {
            F32x4(v128_load(p as *const v128))
        }
        /// The `f32` at `p` in every lane (one `v128.load32_splat`).
        ///
        /// # Safety
        /// `p` must be valid for reading one `f32`.
        #[inline(always)]
        pub unsafe fn load_splat_ptr(p: *const f32) -> Self {
            F32x4(v128_load32_splat(p as *const u32))
        }
        /// The 4×4 transpose of the rows `a, b, c, d`.
        #[inline(always)]
        pub fn transpose4(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
            let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
            let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
            let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
            [
                F32x4(i64x2_shuffle::<0, 2>(ab_lo, cd_lo)),
                F32x4(i64x2_shuffle::<1, 3>(ab_lo, cd_lo)),
                F32x4(i64x2_shuffle::<0, 2>(ab_hi, cd_hi)),
                F32x4(i64x2_shuffle::<1, 3>(ab_hi, cd_hi)),
            ]
        }
        /// Eight signed bytes at `p` widened to `f32`: elements `0..4` and `4..8`.
        ///
        /// # Safety
        /// `p` must be valid for reading eight bytes (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_i8x8_ptr(p: *const i8) -> (Self, Self) {
            let h = i16x8_load_extend_i8x8(p);
            (F32x4(f32x4_convert_i32x4(i32x4_extend_low_i16x8(h))), F32x4(f32x4_convert_i32x4(i32x4_extend_high_i16x8(h))))
        }
        /// Eight IEEE halves (bits) at `p` widened exactly to `f32`: elements `0..4` and `4..8`. Infinities keep their
        /// sign; a NaN stays a NaN, with its payload as the multiply leaves it (quieted on x86).
        ///
        /// simd128 has no f16 conversion, so the f32 bits are assembled in 16-bit lanes, eight at a time, and only
        /// then interleaved into 32-bit lanes: the high half is sign, three zero bits (the exponent widens from 5 to
        /// 8 bits), exponent and the top 7 mantissa bits, which an arithmetic shift by 3 and a mask give; the low
        /// half is the last 3 mantissa bits. That reads as an f32 whose exponent is short by 127 - 15 = 112, and
        /// multiplying by 2^112 corrects normals and subnormals alike (the "magic number" trick: wasm has no
        /// flush-to-zero, and the product renormalises a subnormal exactly). Exponent 31 (inf/NaN) instead gets
        /// the three zero bits set, making it an f32 inf/NaN before the multiply, which leaves it one.
        /// 11 vector ops per 8 values besides the load, against about 20 for two `f16::f16x4_to_f32`.
        ///
        /// # Safety
        /// `p` must be valid for reading eight `u16` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_f16x8_ptr(p: *const u16) -> (Self, Self) {
            let h = v128_load(p as *const v128);
            let hi = v128_and(i16x8_shr(h, 3), u16x8_splat(0x8fff));
            let exp = u16x8_splat(0x7c00);
            let special = i16x8_eq(v128_and(h, exp), exp);
            let hi = v128_or(hi, v128_and(special, u16x8_splat(0x7000)));
            let lo = i16x8_shl(h, 13);
            let a = i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(lo, hi);
            let b = i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(lo, hi);
            let scale = f32x4_splat(f32::from_bits(0x7780_0000)); // 2^112
            (F32x4(f32x4_mul(a, scale)), F32x4(f32x4_mul(b, scale)))
        }
        /// # Safety
        /// `p` must be valid for writing four `f32` (no alignment needed).
        #[inline(always)]
        pub unsafe fn store_ptr(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        pub fn add(self, b: Self) -> Self {
            F32x4(f32x4_add(self.0, b.0))
        }
        #[inline(always)]
        pub fn sub(self, b: Self) -> Self {
            F32x4(f32x4_sub(self.0, b.0))
        }
        #[inline(always)]
        pub fn mul(self, b: Self) -> Self {
            F32x4(f32x4_mul(self.0, b.0))
        }
        #[inline(always)]
        pub fn div(self, b: Self) -> Self {
            F32x4(f32x4_div(self.0, b.0))
        }
        /// `self * b + c` through `f32x4.relaxed_madd`: fused where the engine and CPU have FMA (x86 with FMA3,
        /// every arm64), else a multiply and an add.
        #[cfg(target_feature = "relaxed-simd")]
        #[inline(always)]
        pub fn mul_add(self, b: Self, c: Self) -> Self {
            F32x4(f32x4_relaxed_madd(self.0, b.0, c.0))
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            F32x4(f32x4_neg(self.0))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            F32x4(f32x4_abs(self.0))
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            F32x4(f32x4_sqrt(self.0))
        }
        #[inline(always)]
        pub fn min(self, b: Self) -> Self {
            F32x4(f32x4_pmin(self.0, b.0))
        }
        #[inline(always)]
        pub fn max(self, b: Self) -> Self {
            F32x4(f32x4_pmax(self.0, b.0))
        }
        #[inline(always)]
        pub fn round_even(self) -> Self {
            F32x4(f32x4_nearest(self.0))
        }
        #[inline(always)]
        pub fn lt(self, b: Self) -> I32x4 {
            I32x4(f32x4_lt(self.0, b.0))
        }
        #[inline(always)]
        pub fn to_bits(self) -> I32x4 {
            I32x4(self.0)
        }
        #[inline(always)]
        pub fn trunc_to_i32(self) -> I32x4 {
            I32x4(i32x4_trunc_sat_f32x4(self.0))
        }
        #[inline(always)]
        pub fn reduce_sum(self) -> f32 {
            let hi = i64x2_shuffle::<1, 1>(self.0, self.0);
            let s = f32x4_add(self.0, hi);
            let s1 = i32x4_shuffle::<1, 1, 1, 1>(s, s);
            f32x4_extract_lane::<0>(f32x4_add(s, s1))
        }
        /// `[Σa, Σb, Σc, Σd]`: four horizontal sums at once, each paired as `(x0 + x2) + (x1 + x3)` like `reduce_sum`.
        #[inline(always)]
        pub fn reduce4(a: Self, b: Self, c: Self, d: Self) -> Self {
            let ab = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0), i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0));
            let cd = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0), i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0));
            F32x4(f32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd)))
        }
        /// `[a.re*b.re - a.im*b.im, a.re*b.im + a.im*b.re]` for the two interleaved complex numbers in each vector.
        #[inline(always)]
        pub fn complex_mul(self, b: Self) -> Self {
            let b_re = i32x4_shuffle::<0, 0, 2, 2>(b.0, b.0);
            let b_im = i32x4_shuffle::<1, 1, 3, 3>(b.0, b.0);
            let a_sw = i32x4_shuffle::<1, 0, 3, 2>(self.0, self.0);
            let t = f32x4_mul(a_sw, b_im);
            let t = f32x4_mul(t, f32x4(-1.0, 1.0, -1.0, 1.0));
            F32x4(f32x4_add(f32x4_mul(self.0, b_re), t))
        }
    }

    impl I32x4 {
        #[inline(always)]
        pub fn splat(v: i32) -> Self {
            I32x4(i32x4_splat(v))
        }
        /// # Safety
        /// `p` must be valid for reading four `u16` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_u16_ptr(p: *const u16) -> Self {
            I32x4(u32x4_load_extend_u16x4(p))
        }
        #[inline(always)]
        pub fn to_array(self) -> [i32; 4] {
            [
                i32x4_extract_lane::<0>(self.0),
                i32x4_extract_lane::<1>(self.0),
                i32x4_extract_lane::<2>(self.0),
                i32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        pub fn add(self, b: Self) -> Self {
            I32x4(i32x4_add(self.0, b.0))
        }
        #[inline(always)]
        pub fn and(self, b: Self) -> Self {
            I32x4(v128_and(self.0, b.0))
        }
        #[inline(always)]
        pub fn or(self, b: Self) -> Self {
            I32x4(v128_or(self.0, b.0))
        }
        #[inline(always)]
        pub fn shl<const S: u32>(self) -> Self {
            I32x4(i32x4_shl(self.0, S))
        }
        #[inline(always)]
        pub fn cmp_eq(self, b: Self) -> Self {
            I32x4(i32x4_eq(self.0, b.0))
        }
        #[inline(always)]
        pub fn select(self, if_set: F32x4, if_clear: F32x4) -> F32x4 {
            F32x4(v128_bitselect(if_set.0, if_clear.0, self.0))
        }
        #[inline(always)]
        pub fn from_bits(self) -> F32x4 {
            F32x4(self.0)
        }
        #[inline(always)]
        pub fn to_f32(self) -> F32x4 {
            F32x4(f32x4_convert_i32x4(self.0))
        }
        /// `self` plus the pairwise products of 16 bytes at `q` (sign-extended) with 16 `i16` at `x`: lane `l` gains
        /// `q[h+2l]·x[h+2l] + q[h+2l+1]·x[h+2l+1]` for `h` = 0 and 8 (`i32x4.dot_i16x8_s`, wrapping).
        ///
        /// # Safety
        /// `q` readable for 16 bytes, `x` for 16 `i16` (no alignment needed).
        #[inline(always)]
        pub unsafe fn dot_i8x16_i16_add(self, q: *const i8, x: *const i16) -> Self {
            let qv = v128_load(q as *const v128);
            let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(qv), v128_load(x as *const v128));
            let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(qv), v128_load(x.add(8) as *const v128));
            I32x4(i32x4_add(self.0, i32x4_add(lo, hi)))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(clippy::should_implement_trait)]
mod imp {
    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    pub struct F32x4(pub(super) [f32; 4]);

    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    pub struct I32x4(pub(super) [i32; 4]);

    #[inline(always)]
    fn map(a: [f32; 4], f: impl Fn(f32) -> f32) -> [f32; 4] {
        [f(a[0]), f(a[1]), f(a[2]), f(a[3])]
    }
    #[inline(always)]
    fn zip(a: [f32; 4], b: [f32; 4], f: impl Fn(f32, f32) -> f32) -> [f32; 4] {
        [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
    }
    #[inline(always)]
    fn zipi(a: [i32; 4], b: [i32; 4], f: impl Fn(i32, i32) -> i32) -> [i32; 4] {
        [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
    }

    impl F32x4 {
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            F32x4([v; 4])
        }
        #[inline(always)]
        pub fn new(a: f32, b: f32, c: f32, d: f32) -> Self {
            F32x4([a, b, c, d])
        }
        /// # Safety
        /// `p` must be valid for reading four `f32` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_ptr(p: *const f32) -> Self {
            F32x4((p as *const [f32; 4]).read_unaligned())
        }
        /// The `f32` at `p` in every lane.
        ///
        /// # Safety
        /// `p` must be valid for reading one `f32`.
        #[inline(always)]
        pub unsafe fn load_splat_ptr(p: *const f32) -> Self {
            F32x4([*p; 4])
        }
        /// The 4×4 transpose of the rows `a, b, c, d`.
        #[inline(always)]
        pub fn transpose4(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let r = [a.0, b.0, c.0, d.0];
            core::array::from_fn(|i| F32x4([r[0][i], r[1][i], r[2][i], r[3][i]]))
        }
        /// Eight signed bytes at `p` widened to `f32`: elements `0..4` and `4..8`.
        ///
        /// # Safety
        /// `p` must be valid for reading eight bytes (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_i8x8_ptr(p: *const i8) -> (Self, Self) {
            let b = (p as *const [i8; 8]).read_unaligned();
            (F32x4([b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32]), F32x4([b[4] as f32, b[5] as f32, b[6] as f32, b[7] as f32]))
        }
        /// Eight IEEE halves (bits) at `p` widened exactly to `f32`: elements `0..4` and `4..8`. Infinities keep their
        /// sign; a NaN stays a NaN.
        ///
        /// The simd128 bit construction, lane by lane, so that host tests exercise it.
        ///
        /// # Safety
        /// `p` must be valid for reading eight `u16` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_f16x8_ptr(p: *const u16) -> (Self, Self) {
            let h = (p as *const [u16; 8]).read_unaligned();
            let f = |h: u16| {
                let special = if h & 0x7c00 == 0x7c00 { 0x7000 } else { 0 };
                let hi = (((h as i16) >> 3) as u16 & 0x8fff) | special;
                let lo = h << 13;
                let scale = f32::from_bits(0x7780_0000); // 2^112
                f32::from_bits(((hi as u32) << 16) | lo as u32) * scale
            };
            (F32x4([f(h[0]), f(h[1]), f(h[2]), f(h[3])]), F32x4([f(h[4]), f(h[5]), f(h[6]), f(h[7])]))
        }
        /// # Safety
        /// `p` must be valid for writing four `f32` (no alignment needed).
        #[inline(always)]
        pub unsafe fn store_ptr(self, p: *mut f32) {
            (p as *mut [f32; 4]).write_unaligned(self.0)
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
        #[inline(always)]
        pub fn add(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| x + y))
        }
        #[inline(always)]
        pub fn sub(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| x - y))
        }
        #[inline(always)]
        pub fn mul(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| x * y))
        }
        #[inline(always)]
        pub fn div(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| x / y))
        }
        /// `self * b + c` with one rounding per lane: the relaxed-SIMD build's arithmetic on an FMA machine.
        #[cfg(feature = "fma")]
        #[inline(always)]
        pub fn mul_add(self, b: Self, c: Self) -> Self {
            let (a, b, c) = (self.0, b.0, c.0);
            F32x4([a[0].mul_add(b[0], c[0]), a[1].mul_add(b[1], c[1]), a[2].mul_add(b[2], c[2]), a[3].mul_add(b[3], c[3])])
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            F32x4(map(self.0, |x| -x))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            F32x4(map(self.0, f32::abs))
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            F32x4(map(self.0, f32::sqrt))
        }
        // pmin/pmax semantics of wasm: `b < a ? b : a`, so a NaN in `self` survives.
        #[inline(always)]
        pub fn min(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| if y < x { y } else { x }))
        }
        #[inline(always)]
        pub fn max(self, b: Self) -> Self {
            F32x4(zip(self.0, b.0, |x, y| if x < y { y } else { x }))
        }
        #[inline(always)]
        pub fn round_even(self) -> Self {
            F32x4(map(self.0, f32::round_ties_even))
        }
        #[inline(always)]
        pub fn lt(self, b: Self) -> I32x4 {
            let a = self.0;
            let b = b.0;
            let m = |x: f32, y: f32| if x < y { -1 } else { 0 };
            I32x4([m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2]), m(a[3], b[3])])
        }
        #[inline(always)]
        pub fn to_bits(self) -> I32x4 {
            let a = self.0;
            I32x4([a[0].to_bits() as i32, a[1].to_bits() as i32, a[2].to_bits() as i32, a[3].to_bits() as i32])
        }
        #[inline(always)]
        pub fn trunc_to_i32(self) -> I32x4 {
            // `as` saturates and maps NaN to 0, like i32x4.trunc_sat_f32x4_s.
            let a = self.0;
            I32x4([a[0] as i32, a[1] as i32, a[2] as i32, a[3] as i32])
        }
        #[inline(always)]
        pub fn reduce_sum(self) -> f32 {
            // Same pairing as the wasm shuffle tree, so host and wasm sums round identically.
            let a = self.0;
            (a[0] + a[2]) + (a[1] + a[3])
        }
        /// `[Σa, Σb, Σc, Σd]`: four horizontal sums at once, each paired as `(x0 + x2) + (x1 + x3)` like `reduce_sum`.
        #[inline(always)]
        pub fn reduce4(a: Self, b: Self, c: Self, d: Self) -> Self {
            F32x4([a.reduce_sum(), b.reduce_sum(), c.reduce_sum(), d.reduce_sum()])
        }
        /// `[a.re*b.re - a.im*b.im, a.re*b.im + a.im*b.re]` for the two interleaved complex numbers in each vector.
        #[inline(always)]
        pub fn complex_mul(self, b: Self) -> Self {
            let a = self.0;
            let b = b.0;
            F32x4([
                a[0] * b[0] + -(a[1] * b[1]),
                a[1] * b[0] + a[0] * b[1],
                a[2] * b[2] + -(a[3] * b[3]),
                a[3] * b[2] + a[2] * b[3],
            ])
        }
    }

    impl I32x4 {
        #[inline(always)]
        pub fn splat(v: i32) -> Self {
            I32x4([v; 4])
        }
        /// # Safety
        /// `p` must be valid for reading four `u16` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load_u16_ptr(p: *const u16) -> Self {
            let h = (p as *const [u16; 4]).read_unaligned();
            I32x4([h[0] as i32, h[1] as i32, h[2] as i32, h[3] as i32])
        }
        #[inline(always)]
        pub fn to_array(self) -> [i32; 4] {
            self.0
        }
        #[inline(always)]
        pub fn add(self, b: Self) -> Self {
            I32x4(zipi(self.0, b.0, i32::wrapping_add))
        }
        #[inline(always)]
        pub fn and(self, b: Self) -> Self {
            I32x4(zipi(self.0, b.0, |x, y| x & y))
        }
        #[inline(always)]
        pub fn or(self, b: Self) -> Self {
            I32x4(zipi(self.0, b.0, |x, y| x | y))
        }
        #[inline(always)]
        pub fn shl<const S: u32>(self) -> Self {
            let a = self.0;
            I32x4([a[0] << S, a[1] << S, a[2] << S, a[3] << S])
        }
        #[inline(always)]
        pub fn cmp_eq(self, b: Self) -> Self {
            I32x4(zipi(self.0, b.0, |x, y| if x == y { -1 } else { 0 }))
        }
        #[inline(always)]
        pub fn select(self, if_set: F32x4, if_clear: F32x4) -> F32x4 {
            let s = if_set.to_bits().0;
            let c = if_clear.to_bits().0;
            let m = self.0;
            let r = [
                (s[0] & m[0]) | (c[0] & !m[0]),
                (s[1] & m[1]) | (c[1] & !m[1]),
                (s[2] & m[2]) | (c[2] & !m[2]),
                (s[3] & m[3]) | (c[3] & !m[3]),
            ];
            I32x4(r).from_bits()
        }
        #[inline(always)]
        pub fn from_bits(self) -> F32x4 {
            let a = self.0;
            F32x4([
                f32::from_bits(a[0] as u32),
                f32::from_bits(a[1] as u32),
                f32::from_bits(a[2] as u32),
                f32::from_bits(a[3] as u32),
            ])
        }
        #[inline(always)]
        pub fn to_f32(self) -> F32x4 {
            let a = self.0;
            F32x4([a[0] as f32, a[1] as f32, a[2] as f32, a[3] as f32])
        }
        /// See the wasm form.
        ///
        /// # Safety
        /// `q` readable for 16 bytes, `x` for 16 `i16`.
        #[inline(always)]
        pub unsafe fn dot_i8x16_i16_add(self, q: *const i8, x: *const i16) -> Self {
            let mut a = self.0;
            for (l, lane) in a.iter_mut().enumerate() {
                for h in [0, 8] {
                    let (p0, p1) = (h + 2 * l, h + 2 * l + 1);
                    let pair = (*q.add(p0) as i32) * (*x.add(p0) as i32) + (*q.add(p1) as i32) * (*x.add(p1) as i32);
                    *lane = lane.wrapping_add(pair);
                }
            }
            I32x4(a)
        }
    }
}

pub use imp::{F32x4, I32x4};

/// Lanes per vector.
pub const LANES: usize = 4;

impl F32x4 {
    #[inline(always)]
    pub fn zero() -> Self {
        F32x4::splat(0.0)
    }
    /// Loads `s[i..i + 4]`.
    #[inline(always)]
    pub fn load(s: &[f32], i: usize) -> Self {
        let s = &s[i..i + LANES];
        // SAFETY: the slice above proves four readable floats.
        unsafe { F32x4::load_ptr(s.as_ptr()) }
    }
    /// Stores into `s[i..i + 4]`.
    #[inline(always)]
    pub fn store(self, s: &mut [f32], i: usize) {
        let s = &mut s[i..i + LANES];
        // SAFETY: the slice above proves four writable floats.
        unsafe { self.store_ptr(s.as_mut_ptr()) }
    }
    /// `self * b + c`, rounded twice: the simd128 build (no FMA) and the portable form without the `fma` feature.
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "relaxed-simd"),
        all(not(all(target_arch = "wasm32", target_feature = "simd128")), feature = "fma")
    )))]
    #[inline(always)]
    pub fn mul_add(self, b: Self, c: Self) -> Self {
        self.mul(b).add(c)
    }

    /// Whether `mul_add` may round once (fused) in this build: the relaxed-SIMD build, or host tests with `fma`.
    pub const MAY_FUSE: bool = cfg!(any(
        all(target_arch = "wasm32", target_feature = "relaxed-simd"),
        all(not(all(target_arch = "wasm32", target_feature = "simd128")), feature = "fma")
    ));
}

impl Add for F32x4 {
    type Output = F32x4;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        F32x4::add(self, b)
    }
}
impl Sub for F32x4 {
    type Output = F32x4;
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        F32x4::sub(self, b)
    }
}
impl Mul for F32x4 {
    type Output = F32x4;
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        F32x4::mul(self, b)
    }
}
impl Div for F32x4 {
    type Output = F32x4;
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        F32x4::div(self, b)
    }
}
impl Neg for F32x4 {
    type Output = F32x4;
    #[inline(always)]
    fn neg(self) -> Self {
        F32x4::neg(self)
    }
}

/// `e^x` on four lanes: Cody–Waite reduction by ln 2 and a degree-6 polynomial on `[-ln2/2, ln2/2]`.
/// Relative error about 2 ulp for `x` in `[-87.33, 88.37]`. Below that range the result is 0 (the true value is
/// at most subnormal), above it saturates at e^88.37 ≈ 2.4e38 rather than overflowing; NaN stays NaN.
#[inline(always)]
pub fn exp(x: F32x4) -> F32x4 {
    let lo = F32x4::splat(-87.33);
    let underflow = x.lt(lo);
    let x = x.max(lo).min(F32x4::splat(88.37));
    let n = (x * F32x4::splat(core::f32::consts::LOG2_E)).round_even();
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^9.
    let r = x - n * F32x4::splat(0.693_145_75) - n * F32x4::splat(1.428_606_8e-6);
    let p = exp_poly(r);
    // Clamping at 88.37 keeps n <= 127, so 2^n is a normal float built straight into the exponent field.
    let two_n = n.trunc_to_i32().add(I32x4::splat(127)).shl::<23>().from_bits();
    underflow.select(F32x4::zero(), p * two_n)
}

#[inline(always)]
fn exp_poly(r: F32x4) -> F32x4 {
    // Taylor coefficients of e^r truncated at r^6: on |r| <= ln2/2 the truncation error is below 2e-8 relative.
    let c6 = F32x4::splat(1.0 / 720.0);
    let c5 = F32x4::splat(1.0 / 120.0);
    let c4 = F32x4::splat(1.0 / 24.0);
    let c3 = F32x4::splat(1.0 / 6.0);
    let c2 = F32x4::splat(0.5);
    let one = F32x4::splat(1.0);
    let p = c6.mul_add(r, c5);
    let p = p.mul_add(r, c4);
    let p = p.mul_add(r, c3);
    let p = p.mul_add(r, c2);
    let p = p.mul_add(r, one);
    p.mul_add(r, one)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_f64_over_the_clamped_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.3 {
            let v = exp(F32x4::new(x, x * 0.5, -x * 0.25, x * 0.001)).to_array();
            for (i, xi) in [x, x * 0.5, -x * 0.25, x * 0.001].into_iter().enumerate() {
                let want = (xi as f64).exp();
                let rel = ((v[i] as f64 - want) / want).abs();
                worst = worst.max(rel);
            }
            x += 0.0137;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    #[test]
    fn reduce_sum_and_complex_mul() {
        let a = F32x4::new(1.0, 2.0, 3.0, 4.0);
        assert_eq!(a.reduce_sum(), 10.0);
        let r = F32x4::reduce4(a, a * F32x4::splat(2.0), F32x4::new(0.5, 0.0, 0.0, 0.25), F32x4::zero());
        assert_eq!(r.to_array(), [10.0, 20.0, 0.75, 0.0]);
        // (1+2i)(5+6i) = -7+16i ; (3+4i)(7+8i) = -11+52i
        let p = a.complex_mul(F32x4::new(5.0, 6.0, 7.0, 8.0)).to_array();
        assert_eq!(p, [-7.0, 16.0, -11.0, 52.0]);
    }

    #[test]
    fn mul_add_rounds_once_exactly_when_the_build_may_fuse() {
        // (1 + 2^-12)² = 1 + 2^-11 + 2^-24, a tie in f32 that rounds to 1 + 2^-11: subtracting that leaves 0 unless
        // the product was never rounded.
        let e = 1.0f32 / 4096.0; // 2^-12
        let r = F32x4::splat(1.0 + e).mul_add(F32x4::splat(1.0 + e), F32x4::splat(-(1.0 + 2.0 * e))).to_array();
        let want = if F32x4::MAY_FUSE { e * e } else { 0.0 };
        assert_eq!(r, [want; 4]);
    }

    #[test]
    fn select_and_bits() {
        let a = F32x4::new(1.0, -2.0, 3.0, -4.0);
        let m = a.lt(F32x4::zero());
        assert_eq!(m.select(F32x4::splat(9.0), a).to_array(), [1.0, 9.0, 3.0, 9.0]);
        assert_eq!(I32x4::splat(0x3f80_0000).from_bits().to_array(), [1.0; 4]);
    }
}
