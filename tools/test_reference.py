"""Tests of the float64 reference (tools/reference.py) against the definitions on the architecture page and
against the separately written PyTorch training model (tools/tnn_torch.py)."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as R  # noqa: E402
from make_fixtures import CASES, base_config, encoder_config, random_weights  # noqa: E402
from safetensors_io import load_file, round_to_dtype, save_file  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "test", "fixtures")


def test_simple_rms_norm_adds_eps_to_the_rms():
    x = np.array([[3.0, 4.0]])
    rms = 5.0 / math.sqrt(2.0)
    np.testing.assert_allclose(R.simple_rms_norm(x, eps=0.5), x / (rms + 0.5), rtol=1e-15)
    # eps inside the square root would give a different value for this input
    assert not np.allclose(R.simple_rms_norm(x, eps=0.5), x / math.sqrt(rms ** 2 + 0.5))


def test_layer_norm_uses_biased_variance():
    x = np.array([[1.0, 2.0, 4.0, 7.0]])
    out = R.layer_norm(x, np.ones(4), np.zeros(4), eps=0.0)
    np.testing.assert_allclose(out.mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose((out ** 2).mean(), 1.0, rtol=1e-12)


def test_gelu_is_the_erf_form():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(R.gelu_erf(x), exact, rtol=1e-15)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("n", [1, 2, 7, 33])
def test_tno_fft_equals_the_quadratic_definition(causal, n):
    rng = np.random.default_rng(n)
    c = 5
    coeffs = {"pos": rng.standard_normal((n, c))}
    if not causal:
        coeffs["neg"] = rng.standard_normal((max(n - 1, 0), c))
    x = rng.standard_normal((n, c))
    np.testing.assert_allclose(R.tno_fft(x, coeffs, causal), R.tno_direct(x, coeffs, causal), atol=1e-12)


def test_tno_matches_an_explicit_toeplitz_matrix():
    rng = np.random.default_rng(0)
    n = 6
    pos, neg = rng.standard_normal(n), rng.standard_normal(n - 1)
    T = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            T[i, j] = pos[i - j] if i >= j else neg[j - i - 1]
    x = rng.standard_normal(n)
    y = R.tno_fft(x[:, None], {"pos": pos[:, None], "neg": neg[:, None]}, causal=False)[:, 0]
    np.testing.assert_allclose(y, T @ x, atol=1e-12)
    yc = R.tno_fft(x[:, None], {"pos": pos[:, None]}, causal=True)[:, 0]
    np.testing.assert_allclose(yc, np.tril(T) @ x, atol=1e-12)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_decay_skips_t0_and_follows_channel_order(heads):
    cfg = encoder_config(n_heads=heads, d_model=8, glu_dim=8)
    W = R.widen(random_weights(cfg, np.random.default_rng(heads)))
    toep = "encoder.sentence_encoder.layers.0.self_attn.gtu.toep."
    n = 9
    coeffs = R.toeplitz_coefficients(W, toep, cfg, n)
    gamma = W[toep + "gamma"]  # (h, 1, d1/h)
    d1 = cfg["d_model"] * cfg["expand_ratio"]
    raw_pos = R.rpe(W, toep + "rpe.", cfg["rpe_layers"], np.arange(n))
    raw_neg = R.rpe(W, toep + "rpe.", cfg["rpe_layers"], -np.arange(1, n))
    for c in range(d1):
        lam = gamma[c // (d1 // heads), 0, c % (d1 // heads)]
        np.testing.assert_allclose(coeffs["pos"][0, c], raw_pos[0, c], rtol=1e-15)
        for k in range(1, n):
            np.testing.assert_allclose(coeffs["pos"][k, c], lam ** k * raw_pos[k, c], rtol=1e-12)
            np.testing.assert_allclose(coeffs["neg"][k - 1, c], lam ** k * raw_neg[k - 1, c], rtol=1e-12)


def test_rpe_is_not_symmetric_in_the_offset():
    cfg = encoder_config(d_model=8, glu_dim=8)
    W = R.widen(random_weights(cfg, np.random.default_rng(5)))
    p = "encoder.sentence_encoder.layers.0.self_attn.gtu.toep.rpe."
    a = R.rpe(W, p, cfg["rpe_layers"], np.array([3.0]))
    b = R.rpe(W, p, cfg["rpe_layers"], np.array([-3.0]))
    assert np.abs(a - b).max() > 1e-3


def test_causal_lm_ignores_the_future_and_encoder_does_not():
    rng = np.random.default_rng(1)
    for cfg, should_change in [(base_config(), False), (encoder_config(), True)]:
        W = random_weights(cfg, rng)
        ids = rng.integers(0, cfg["vocab_size"], size=20)
        ids2 = ids.copy()
        ids2[15] = (ids2[15] + 1) % cfg["vocab_size"]
        a, b = R.logits(W, cfg, ids), R.logits(W, cfg, ids2)
        diff = np.abs(a[:15] - b[:15]).max()
        # FFT round-off leaks ~1e-15 into the past; a real dependency is many orders larger.
        assert diff > 1e-6 if should_change else diff < 1e-12


def test_whole_model_fft_equals_whole_model_direct():
    for cfg in [base_config(n_heads=2), encoder_config(n_heads=2)]:
        W = random_weights(cfg, np.random.default_rng(3))
        ids = np.random.default_rng(4).integers(0, cfg["vocab_size"], size=(2, 40))
        np.testing.assert_allclose(R.logits(W, cfg, ids), R.logits(W, cfg, ids, tno=R.tno_direct), atol=1e-10)


def test_no_decay_means_no_gamma_tensor_and_undecayed_kernel():
    cfg = base_config(gamma=None)
    W = R.widen(random_weights(cfg, np.random.default_rng(2)))
    assert not any(k.endswith("toep.gamma") for k in W)
    p = "decoder.layers.0.self_attn.gtu.toep."
    c = R.toeplitz_coefficients(W, p, cfg, 12)
    np.testing.assert_array_equal(c["pos"], R.rpe(W, p + "rpe.", cfg["rpe_layers"], np.arange(12)))


def test_reference_agrees_with_the_pytorch_training_model():
    torch = pytest.importorskip("torch")
    from tnn_torch import CausalLM

    torch.manual_seed(0)
    cfg = base_config(d_model=16, glu_dim=16, vocab_size=40, n_layers=3, rpe_layers=3, pad_index=None)
    cfg["embed_scale"] = math.sqrt(16)
    model = CausalLM(cfg).double()
    with torch.no_grad():
        for layer in model.decoder.layers:
            layer.self_attn.gtu.toep.gamma.uniform_(0.9, 0.99)
        model.decoder.layer_norm.weight.normal_(1.0, 0.2)
        model.decoder.layer_norm.bias.normal_(0.0, 0.1)
    W = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    ids = np.random.default_rng(0).integers(0, 40, size=(2, 77))
    with torch.no_grad():
        ours = model(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(R.logits(W, cfg, ids), ours, atol=1e-9 * np.abs(ours).max())


def test_safetensors_round_trip_all_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    for dt in ["F32", "F16", "BF16"]:
        path = str(tmp_path / f"t_{dt}.safetensors")
        save_file({"a": x, "b": x[0]}, path, dtype=dt, metadata={"k": "v"})
        back, stored, meta = load_file(path)
        assert stored == {"a": dt, "b": dt} and meta == {"k": "v"}
        np.testing.assert_array_equal(back["a"], round_to_dtype(x, dt))
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        assert (8 + n) % 8 == 0
        assert header["a"]["shape"] == [3, 5] and header["b"]["shape"] == [5]


def test_bf16_rounds_to_nearest_even():
    # 1 + 2^-8 lies exactly between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa, 1.0.
    x = np.array([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, -2.5], dtype=np.float32)
    np.testing.assert_array_equal(round_to_dtype(x, "BF16"), [1.0, 1.0 + 2 * 2.0 ** -7, -2.5])


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_committed_fixtures_reproduce(case):
    """The committed fixtures are what the reference computes from the committed weights."""
    d = os.path.join(FIXTURES, case)
    cfg = json.load(open(os.path.join(d, "config.json")))
    inp = json.load(open(os.path.join(d, "input.json")))
    W, stored, _ = load_file(os.path.join(d, "model.safetensors"))
    assert set(stored.values()) == {inp["weights_dtype"]}
    want = np.fromfile(os.path.join(d, "logits.bin"), dtype="<f4").reshape(inp["logits_shape"])
    got = R.logits(W, cfg, np.array(inp["ids"]), inp["positions"])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())
    assert np.abs(want).max() > 1.0


@pytest.mark.parametrize("case", [c[0] for c in CASES if c[0].startswith("lm_pre")])
def test_float32_pytorch_meets_the_fixture_tolerance(case):
    """A float32 implementation (the PyTorch training model) lands well inside the library's 1e-4 bound."""
    torch = pytest.importorskip("torch")
    from tnn_torch import CausalLM

    d = os.path.join(FIXTURES, case)
    cfg = json.load(open(os.path.join(d, "config.json")))
    inp = json.load(open(os.path.join(d, "input.json")))
    W, _, _ = load_file(os.path.join(d, "model.safetensors"))
    model = CausalLM(cfg)
    sd = {k: torch.from_numpy(v) for k, v in W.items() if k in model.state_dict()}
    model.load_state_dict(sd, strict=True)
    if "decoder.output_projection.weight" in W:
        np.testing.assert_array_equal(W["decoder.output_projection.weight"], W["decoder.embed_tokens.weight"])
    want = np.fromfile(os.path.join(d, "logits.bin"), dtype="<f4").reshape(inp["logits_shape"])
    with torch.no_grad():
        got = model(torch.tensor(inp["ids"])).numpy()
    if inp["positions"] is not None:
        got = got[:, inp["positions"]]
    err = np.abs(got - want).max() / np.abs(want).max()
    assert err < 1e-5, err


def test_files_read_back_with_the_safetensors_library(tmp_path):
    """Our writer against the reference implementation of the format (when installed)."""
    st_torch = pytest.importorskip("safetensors.torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for dt in ["F32", "F16", "BF16"]:
        path = str(tmp_path / f"{dt}.safetensors")
        save_file({"w": x, "v": x[:, 0]}, path, dtype=dt, metadata={"format": "pt"})
        got = st_torch.load_file(path)
        np.testing.assert_array_equal(got["w"].float().numpy(), round_to_dtype(x, dt))
        np.testing.assert_array_equal(got["v"].float().numpy(), round_to_dtype(x[:, 0], dt))
