"""The fairseq arguments that decide what an official TNN computes: what tools/convert_fairseq.py and
tools/official_fixtures.py record in a safetensors file's `__metadata__` (`fairseq_arch`, `fairseq_args`) and in
config.json, for the TypeScript loader to map to its config (ts/models/official.ts) or refuse by name."""

from __future__ import annotations

from typing import Any, Dict

#: fairseq-evo's registered TNN architectures: the language models of models/lm_tnn and the encoders of
#: models/roberta_tnn.
OFFICIAL_ARCHS = [
    "tnn_no_decay", "tnn_decay_99",
    "tnn_v2_no_decay", "tnn_v2_decay_99_post", "tnn_v2_decay_99_pre", "tnn_v2_decay_99_post_usenorm",
    "tnn_v2_decay_99_pre_usenorm", "tnn_v2_decay_99_pre_l6", "tnn_v2_decay_99_pre_gluv2",
    "tnn_v2_decay_99_pre_glu_v2_gtu_v3", "tnn_v2_decay_99_pre_glu_v2_gtu_v3_l6", "tnn_v2_decay_99_pre_l12",
    "tnn_v2_decay_99_pre_e768", "tnn_v2_decay_99_pre_ada", "tnn_v2_decay_99_pre_ada_128_base",
    "tnn_v2_decay_99_pre_ada_128_small", "tnn_v2_decay_99_pre_ada_128", "tnn_v2_decay_99_pre_l1",
    "roberta_tnn_decay_99", "roberta_tnn_v2_decay_99",
]

#: Every argument the official TNN language models and encoders read when they build or run, and nothing else
#: (dropouts and training options change nothing at inference).
FORWARD_ARGS = [
    # body sizes and placement (fairseq's TransformerDecoder / TransformerEncoder)
    "decoder_embed_dim", "decoder_input_dim", "decoder_output_dim", "decoder_layers", "decoder_attention_heads",
    "decoder_normalize_before", "no_decoder_final_norm", "share_decoder_input_output_embed",
    "encoder_embed_dim", "encoder_layers", "encoder_attention_heads", "encoder_normalize_before", "untie_weights_roberta",
    "layernorm_embedding", "no_scale_embedding", "no_token_positional_embeddings", "final_layernorm", "embdding_layernorm",
    "character_embeddings", "max_positions", "tokens_per_sample",
    # adaptive input and softmax
    "adaptive_input", "adaptive_input_cutoff", "adaptive_input_factor", "adaptive_softmax_cutoff",
    "adaptive_softmax_factor", "tie_adaptive_weights", "tie_adaptive_proj",
    # the GTU, its Toeplitz operator and the RPE
    "gtu_type", "expand_ratio", "use_norm", "norm_type", "use_decay", "use_multi_decay", "gamma", "causal", "act_fun",
    "rpe_embedding", "rpe_layers", "rpe_act", "residual", "par_type", "normalize", "resi_param", "act_type", "toep_type",
    "bias",
    # the GLU
    "glu_type", "glu_dim", "glu_act", "fina_act",
    # RoBERTa's heads
    "activation_fn", "pooler_activation_fn",
]


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


def official_args(args: Any) -> Dict[str, Any]:
    """The arguments of FORWARD_ARGS that `args` (an argparse Namespace, or a mapping) sets, as plain JSON values."""
    get = (lambda k: args.get(k)) if isinstance(args, dict) else (lambda k: getattr(args, k, None))
    return {k: _plain(get(k)) for k in FORWARD_ARGS if get(k) is not None}
