//! Elementwise kernels against their scalar twins and float64 math.

mod common;
use common::*;
use tnn_kernels::activation::*;

const LENGTHS: [usize; 11] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 1000];

fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut v = rng.vec(n, -20.0, 20.0);
    // Some small magnitudes, where the erf and exp polynomials are used near their centres.
    for (i, x) in v.iter_mut().enumerate() {
        if i % 3 == 0 {
            *x *= 0.01;
        }
    }
    v
}

fn check_unary(
    name: &str,
    simd: fn(&[f32], &mut [f32]),
    in_place: fn(&mut [f32]),
    scalar: fn(&[f32], &mut [f32]),
    reference: fn(f64) -> f64,
    rel_tol: f64,
) {
    for &n in &LENGTHS {
        let x = inputs(n, n as u64 + 1);
        let mut y = vec![0.0; n];
        let mut ys = vec![0.0; n];
        simd(&x, &mut y);
        scalar(&x, &mut ys);
        let mut yi = x.clone();
        in_place(&mut yi);
        for i in 0..n {
            assert_eq!(y[i].to_bits(), yi[i].to_bits(), "{name}: in-place differs at {i}");
            let want = reference(x[i] as f64);
            let tol = rel_tol * want.abs() + 1e-37;
            assert!((y[i] as f64 - want).abs() <= tol, "{name}({}) = {} want {want}", x[i], y[i]);
            assert!((ys[i] as f64 - want).abs() <= tol, "{name}_scalar({}) = {} want {want}", x[i], ys[i]);
        }
    }
}

#[test]
fn silu_matches_float64() {
    check_unary("silu", silu, silu_in_place, silu_scalar, |x| x / (1.0 + (-x).exp()), 1e-6);
}

#[test]
fn relu_matches_float64() {
    check_unary("relu", relu, relu_in_place, relu_scalar, |x| x.max(0.0), 0.0);
}

#[test]
fn gelu_matches_float64() {
    check_unary(
        "gelu",
        gelu,
        gelu_in_place,
        gelu_scalar,
        |x| 0.5 * x * one_plus_erf64(x / std::f64::consts::SQRT_2),
        2e-6,
    );
}

#[test]
fn gelu_keeps_relative_accuracy_in_the_negative_tail() {
    let x: Vec<f32> = (0..400).map(|i| -2.0 - i as f32 * 0.03).collect();
    let mut y = vec![0.0; x.len()];
    gelu(&x, &mut y);
    for (xi, yi) in x.iter().zip(&y) {
        let want = 0.5 * *xi as f64 * one_plus_erf64(*xi as f64 / std::f64::consts::SQRT_2);
        // Relative accuracy down to where the result leaves the normal f32 range.
        assert!((*yi as f64 - want).abs() < 2e-6 * want.abs() + 1e-37, "gelu({xi}) = {yi} want {want}");
    }
}

#[test]
fn erf_absolute_error_is_about_1e7() {
    let mut worst = 0.0f64;
    let mut x = -6.0f32;
    while x <= 6.0 {
        worst = worst.max((erf(x) as f64 - erf64(x as f64)).abs());
        x += 1.0 / 1024.0;
    }
    assert!(worst < 1.5e-7, "erf worst absolute error {worst}");
    assert_eq!(erf(0.0), 0.0);
    assert_eq!(erf(10.0), 1.0);
    assert_eq!(erf(-10.0), -1.0);
}

#[test]
fn silu_extremes_and_nan() {
    let x = [f32::NAN, -200.0, 200.0, 0.0, -0.0];
    let mut y = [0.0; 5];
    silu(&x, &mut y);
    assert!(y[0].is_nan());
    assert!(y[1].abs() < 1e-30 && y[1] <= 0.0);
    assert_eq!(y[2], 200.0);
    assert_eq!(y[3], 0.0);
    let mut r = [0.0; 5];
    relu(&x, &mut r);
    assert!(r[0].is_nan());
    assert_eq!(&r[1..], &[0.0, 200.0, 0.0, 0.0]);
}

#[test]
fn binary_kernels_round_once() {
    for &n in &LENGTHS {
        let mut rng = Rng::new(7 + n as u64);
        let a = rng.vec(n, -3.0, 3.0);
        let b = rng.vec(n, -3.0, 3.0);
        let mut y = vec![0.0; n];
        let mut ys = vec![0.0; n];

        mul(&a, &b, &mut y);
        mul_scalar(&a, &b, &mut ys);
        for i in 0..n {
            // The product of two f32 is exact in f64, so one rounding to f32 gives the correctly rounded product.
            assert_eq!(y[i], (a[i] as f64 * b[i] as f64) as f32);
            assert_eq!(y[i], ys[i]);
        }
        let mut yi = a.clone();
        mul_in_place(&mut yi, &b);
        assert_eq!(yi, y);

        add(&a, &b, &mut y);
        add_scalar(&a, &b, &mut ys);
        for i in 0..n {
            assert_eq!(y[i], (a[i] as f64 + b[i] as f64) as f32);
            assert_eq!(y[i], ys[i]);
        }
        let mut yi = a.clone();
        add_in_place(&mut yi, &b);
        assert_eq!(yi, y);

        scale(&a, -1.75, &mut y);
        scale_scalar(&a, -1.75, &mut ys);
        for i in 0..n {
            assert_eq!(y[i], (a[i] as f64 * -1.75) as f32);
            assert_eq!(y[i], ys[i]);
        }
        let mut yi = a.clone();
        scale_in_place(&mut yi, -1.75);
        assert_eq!(yi, y);
    }
}

#[test]
fn pointer_forms_accept_full_aliasing() {
    let mut rng = Rng::new(99);
    let a = rng.vec(13, -2.0, 2.0);
    let mut v = a.clone();
    let p = v.as_mut_ptr();
    // SAFETY: a == b == y is the documented in-place case.
    unsafe { mul_ptr(p, p, p, v.len()) };
    for i in 0..a.len() {
        assert_eq!(v[i], a[i] * a[i]);
    }
}
