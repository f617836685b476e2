//! Numeric kernels for Toeplitz Neural Networks.
//!
//! This crate knows nothing of models: it multiplies, normalises, convolves and transforms
//! slices of `f32`. Every vectorised kernel has a plain scalar twin (`*_scalar`) that the tests
//! use as their reference, after RustFFT's habit.
//!
//! Layout conventions shared by every kernel:
//! - matrices are row-major; an activation is `[rows][cols]`, one row per token;
//! - Linear weights are `(out, in)` as PyTorch stores them, so `y = x · Wᵀ + b`;
//! - Toeplitz mixing is depthwise over channels: `y[i][c] = Σ_j t[i-j][c] · x[j][c]`.

pub mod simd;
pub mod par;
pub mod activation;
pub mod norm;
pub mod gemm;
pub mod f16;
pub mod quant;
pub mod rpe;
mod lane_fft;
mod lane_conv;
pub mod toeplitz;
pub mod online_conv;
pub mod etsc;
