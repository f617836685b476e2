//! Half/bfloat16 conversions and embedding lookups.

mod common;
use common::*;
use tnn_kernels::f16::*;

#[test]
fn known_half_bit_patterns() {
    let cases: [(f32, u16); 16] = [
        (0.0, 0x0000),
        (-0.0, 0x8000),
        (1.0, 0x3c00),
        (-2.0, 0xc000),
        (0.5, 0x3800),
        (65504.0, 0x7bff),
        (f32::INFINITY, 0x7c00),
        (f32::NEG_INFINITY, 0xfc00),
        (5.960_464_5e-8, 0x0001),   // 2^-24, smallest subnormal
        (6.103_515_6e-5, 0x0400),   // 2^-14, smallest normal
        (6.097_555e-5, 0x03ff),     // largest subnormal
        (0.333_251_95, 0x3555),     // nearest half to 1/3
        (0.099_975_586, 0x2e66),    // nearest half to 0.1
        (-1.5, 0xbe00),
        (1024.0, 0x6400),
        (3.0, 0x4200),
    ];
    for (f, h) in cases {
        assert_eq!(f32_to_f16_bits(f), h, "f32_to_f16({f})");
        assert_eq!(f16_bits_to_f32(h).to_bits(), f.to_bits(), "f16_to_f32({h:#06x})");
    }
}

#[test]
fn narrowing_rounds_to_nearest_even() {
    let ulp1 = 2f32.powi(-10);
    assert_eq!(f32_to_f16_bits(1.0 + ulp1 / 2.0), 0x3c00); // tie, even below
    assert_eq!(f32_to_f16_bits(1.0 + 1.5 * ulp1), 0x3c02); // tie, even above
    assert_eq!(f32_to_f16_bits(1.0 + ulp1 / 2.0 + 1e-7), 0x3c01); // just past the tie
    assert_eq!(f32_to_f16_bits(65519.0), 0x7bff);
    assert_eq!(f32_to_f16_bits(65520.0), 0x7c00); // tie between 65504 (odd) and 2^16: up, to infinity
    assert_eq!(f32_to_f16_bits(1e9), 0x7c00);
    let s = 2f32.powi(-24);
    assert_eq!(f32_to_f16_bits(s / 2.0), 0x0000); // tie between 0 and the smallest subnormal
    assert_eq!(f32_to_f16_bits(s * 0.5000001), 0x0001);
    assert_eq!(f32_to_f16_bits(s * 1.5), 0x0002);
    assert_eq!(f32_to_f16_bits(s * 2.5), 0x0002);
    assert_eq!(f32_to_f16_bits(-s * 3.5), 0x8004);
    assert_eq!(f32_to_f16_bits(1e-10), 0x0000);
    assert_eq!(f32_to_f16_bits(-1e-10), 0x8000);
    assert!(f16_bits_to_f32(f32_to_f16_bits(f32::NAN)).is_nan());
    // A subnormal-boundary carry: just under 2^-14 rounds up into the smallest normal.
    assert_eq!(f32_to_f16_bits(6.1e-5 + 3e-8), 0x0400);
}

#[test]
fn every_half_round_trips() {
    for h in 0..=u16::MAX {
        let f = f16_bits_to_f32(h);
        if f.is_nan() {
            assert!((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
            // Quiet NaNs keep their payload; signalling ones come back quiet.
            assert_eq!(f32_to_f16_bits(f) | 0x0200, h | 0x0200);
        } else {
            assert_eq!(f32_to_f16_bits(f), h, "{h:#06x} -> {f}");
        }
    }
}

#[test]
fn narrowing_picks_the_nearest_half() {
    let mut rng = Rng::new(3);
    for _ in 0..200_000 {
        // Random bit patterns cover every exponent, including ones that overflow or underflow.
        let x = f32::from_bits(rng.next_u64() as u32 & 0x4fff_ffff | (rng.next_u64() as u32 & 0x8000_0000));
        let h = f32_to_f16_bits(x);
        let got = f16_bits_to_f32(h) as f64;
        let xv = x as f64;
        if got.is_infinite() {
            assert!(xv.abs() >= 65520.0, "{x} -> inf");
            continue;
        }
        // No neighbour of h is closer to x (ties must pick the even mantissa).
        for nb in [h.wrapping_sub(1), h.wrapping_add(1)] {
            if nb & 0x7c00 == 0x7c00 || (nb ^ h) & 0x8000 != 0 {
                continue;
            }
            let other = f16_bits_to_f32(nb) as f64;
            let (d_got, d_other) = ((got - xv).abs(), (other - xv).abs());
            assert!(d_got < d_other || (d_got == d_other && h & 1 == 0), "{x}: {h:#06x} vs neighbour {nb:#06x}");
        }
    }
}

#[test]
fn vector_widening_matches_scalar_on_every_pattern() {
    let src: Vec<u16> = (0..=u16::MAX).collect();
    let mut v = vec![0.0f32; src.len()];
    let mut s = vec![0.0f32; src.len()];
    f16_to_f32(&src, &mut v);
    f16_to_f32_scalar(&src, &mut s);
    for i in 0..src.len() {
        assert_eq!(v[i].to_bits(), s[i].to_bits(), "pattern {i:#06x}");
    }
    // Odd lengths exercise the tail.
    let mut t = vec![0.0f32; 7];
    f16_to_f32(&src[0x3bfe..0x3c05], &mut t);
    assert_eq!(t[2], 1.0);
}

#[test]
fn bfloat16_widening() {
    let src = [0x3f80u16, 0xc000, 0x7f80, 0x0000, 0x3e80];
    let mut d = [0.0f32; 5];
    bf16_to_f32(&src, &mut d);
    assert_eq!(d, [1.0, -2.0, f32::INFINITY, 0.0, 0.25]);
    let mut h = [0u16; 3];
    f32_to_f16(&[1.0, -2.0, 0.5], &mut h);
    assert_eq!(h, [0x3c00, 0xc000, 0x3800]);
}

#[test]
fn embedding_gathers_and_scales() {
    let (vocab, dim) = (11, 13);
    let mut rng = Rng::new(8);
    let table = rng.vec(vocab * dim, -1.0, 1.0);
    let table16: Vec<u16> = table.iter().map(|&v| f32_to_f16_bits(v)).collect();
    let ids = [3, 0, 10, 3, 7];
    let scale = 22.627417;
    let mut y = vec![0.0; ids.len() * dim];
    let mut ys = vec![0.0; ids.len() * dim];
    embedding(&table, &ids, dim, scale, &mut y);
    embedding_scalar(&table, &ids, dim, scale, &mut ys);
    assert_eq!(y, ys);
    for (i, &id) in ids.iter().enumerate() {
        for j in 0..dim {
            assert_eq!(y[i * dim + j], table[id as usize * dim + j] * scale);
        }
    }
    embedding_f16(&table16, &ids, dim, scale, &mut y);
    embedding_f16_scalar(&table16, &ids, dim, scale, &mut ys);
    assert_eq!(y, ys);
    for (i, &id) in ids.iter().enumerate() {
        for j in 0..dim {
            assert_eq!(y[i * dim + j], f16_bits_to_f32(table16[id as usize * dim + j]) * scale);
        }
    }
}
