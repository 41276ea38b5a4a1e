"""The GPT-2-style and Llama-style decoders (collapse_utils.models.transformer): sizes, causality, the key-value cache.

Most tests use models of a few thousand parameters; the paper's four configurations are counted on the meta device
(no memory) and the two smallest are also built for real.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported before torch starts
from collapse_utils import config

torch = pytest.importorskip("torch")

from collapse_utils.models.common import count_parameters  # noqa: E402
from collapse_utils.models.transformer import (  # noqa: E402
    CI_CONFIGS,
    PAPER_CONFIGS,
    PAPER_PARAMS,
    Decoder,
    DecoderConfig,
    apply_rope,
    decoder_config,
    rope_tables,
)

FAMILIES = ("gpt2", "llama")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)
    yield


def tiny(kind: str, **changes) -> DecoderConfig:
    base = DecoderConfig(kind, vocab_size=23, n_layer=2, n_head=2, d_model=16, d_mlp=40, max_len=32, eos_id=0)
    return replace(base, **changes)


def model_of(family: str, seed: int = 0, **changes) -> Decoder:
    torch.manual_seed(seed)
    return Decoder(tiny(family, **changes)).eval()


def tokens(shape, vocab: int = 23, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------
# configurations and parameter counts
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAPER_CONFIGS))
def test_paper_configs_have_the_published_parameter_counts(name):
    """Gerstgrasser et al. 2024, §3: GPT-2 9M 8,890,880; Llama-2 12M 12,488,960, 42M 41,755,136, 126M 125,553,408."""
    cfg = PAPER_CONFIGS[name]
    assert cfg.n_params() == PAPER_PARAMS[name]
    with torch.device("meta"):  # builds the modules without allocating their weights
        model = Decoder(cfg)
    assert count_parameters(model) == PAPER_PARAMS[name]


@pytest.mark.parametrize("name", ["gpt2-9m", "llama2-12m"])
def test_the_two_smallest_paper_models_build_for_real(name):
    cfg = PAPER_CONFIGS[name]
    model = Decoder(cfg)
    assert count_parameters(model) == PAPER_PARAMS[name]
    assert (cfg.vocab_size, cfg.d_model, cfg.n_layer, cfg.max_len) == (8000, 256, 8, 2048)
    assert model.head.weight.shape == (8000, 256)
    assert (model.head.weight is model.tok_emb.weight) == (cfg.family == "gpt2")


def test_paper_configs_match_the_published_architectures():
    c = PAPER_CONFIGS
    assert [c[k].family for k in ("gpt2-9m", "llama2-12m", "llama2-42m", "llama2-126m")] == ["gpt2"] + ["llama"] * 3
    assert [(c[k].d_model, c[k].n_layer, c[k].d_mlp) for k in ("llama2-12m", "llama2-42m", "llama2-126m")] == [
        (256, 8, 1024), (512, 8, 2048), (768, 12, 3072)]
    assert all(cfg.head_dim == 64 for cfg in c.values())


@pytest.mark.parametrize("name", sorted(CI_CONFIGS))
def test_ci_configs_count_as_built_and_take_a_vocabulary(name):
    cfg = decoder_config(name, vocab_size=400, eos_id=3)
    assert (cfg.vocab_size, cfg.eos_id) == (400, 3)
    assert count_parameters(Decoder(cfg)) == cfg.n_params()
    assert cfg.d_mlp == 4 * cfg.d_model and cfg.head_dim == 32


def test_ci_configs_offer_three_sizes_of_each_family():
    sizes = {(c.family, c.d_model) for c in CI_CONFIGS.values()}
    assert sizes == {(f, d) for f in ("gpt2", "llama") for d in (64, 96, 128)}


@pytest.mark.parametrize("family", FAMILIES)
def test_analytic_count_equals_the_built_model_for_odd_sizes(family):
    cfg = tiny(family, vocab_size=37, n_layer=3, d_model=24, n_head=3, d_mlp=50, max_len=11)
    assert count_parameters(Decoder(cfg)) == cfg.n_params()


def test_gpt2_ties_its_head_to_the_embedding_and_llama_does_not():
    gpt2, llama = model_of("gpt2"), model_of("llama")
    assert gpt2.head.weight is gpt2.tok_emb.weight
    assert llama.head.weight is not llama.tok_emb.weight
    V, d = 23, 16
    # counted once: the tied model would have V*d more parameters if the head were separate
    assert count_parameters(gpt2) == sum(p.numel() for _, p in gpt2.named_parameters(remove_duplicate=True))
    assert sum(p.numel() for _, p in gpt2.named_parameters(remove_duplicate=False)) == count_parameters(gpt2) + V * d
    with torch.no_grad():
        gpt2.tok_emb.weight[5] += 1.0
    assert torch.equal(gpt2.head.weight[5], gpt2.tok_emb.weight[5])


def test_families_have_their_own_parts():
    gpt2, llama = model_of("gpt2"), model_of("llama")
    assert isinstance(gpt2.norm_f, torch.nn.LayerNorm) and gpt2.norm_f.bias is not None
    assert isinstance(llama.norm_f, torch.nn.RMSNorm)
    assert gpt2.pos_emb.weight.shape == (32, 16) and llama.pos_emb is None
    assert gpt2.blocks[0].attn.qkv.bias is not None and gpt2.blocks[0].mlp.c_fc.bias is not None
    assert all(p.dim() == 2 or "norm" in n for n, p in llama.named_parameters())  # no biases in Llama
    assert llama.blocks[0].mlp.w1.weight.shape == (40, 16) and llama.blocks[0].mlp.w2.weight.shape == (16, 40)


def test_only_rotary_embeddings_need_an_even_head_dimension():
    assert tiny("gpt2", d_model=15, n_head=3).head_dim == 5  # learned positions need no pairs (llama: test_contracts)


def test_decoder_config_names_the_known_configs():
    assert decoder_config("llama2-42m") == PAPER_CONFIGS["llama2-42m"]
    assert decoder_config("GPT2-d64", vocab_size=100, eos_id=7) == replace(CI_CONFIGS["gpt2-d64"], vocab_size=100,
                                                                          eos_id=7)


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        PAPER_CONFIGS["gpt2-9m"].n_layer = 2  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------
# initialization
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_gpt2_initialization(family):
    """Weights ~ N(0, 0.02²), biases 0, residual projections ~ N(0, (0.02 / sqrt(2 n_layer))²) (GPT-2, §2.3)."""
    torch.manual_seed(0)
    cfg = decoder_config(f"{family}-d128", vocab_size=400)
    model = Decoder(cfg).requires_grad_(False)
    out = "mlp.c_proj.weight" if family == "gpt2" else "mlp.w2.weight"
    residual = 0.02 / math.sqrt(2 * cfg.n_layer)
    for name, p in model.named_parameters():
        if name.endswith(("attn.proj.weight", out)):
            assert abs(float(p.std()) / residual - 1) < 0.03, name
        elif p.dim() == 2:
            assert abs(float(p.std()) / 0.02 - 1) < 0.03, name
        elif name.endswith("bias"):
            assert float(p.abs().max()) == 0.0, name
        else:  # norm gains start at 1
            assert torch.equal(p, torch.ones_like(p)), name


# ---------------------------------------------------------------------------------------------------------
# forward pass
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (2, 32)])
def test_forward_gives_logits_per_position(family, shape):
    logits = model_of(family)(tokens(shape))
    assert logits.shape == (*shape, 23) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("j", [1, 6, 11])
def test_attention_is_causal(family, j):
    """Changing token j changes the logits at positions >= j and no earlier one."""
    model = model_of(family)
    x = tokens((2, 12))
    y = x.clone()
    y[:, j] = (y[:, j] + 1) % 23
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :j], b[:, :j], atol=1e-6, rtol=0)
    assert (a[:, j] - b[:, j]).abs().max() > 1e-4


@pytest.mark.parametrize("family", FAMILIES)
def test_order_of_the_context_matters(family):
    """Swapping two earlier tokens changes the next-token logits: the model sees positions, not a bag of tokens."""
    model = model_of(family)
    with torch.no_grad():
        a = model(torch.tensor([[3, 8, 5, 1]]))[0, -1]
        b = model(torch.tensor([[8, 3, 5, 1]]))[0, -1]
    assert (a - b).abs().max() > 1e-4


def test_rotary_scores_depend_on_relative_position_only():
    """<R_m q, R_n k> = <R_{m+s} q, R_{n+s} k>: rotary embeddings encode n - m (Su et al. 2021)."""
    cos, sin = rope_tables(40, 8)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)
    def score(m, n):
        return float(apply_rope(q, cos[m], sin[m]) @ apply_rope(k, cos[n], sin[n]))
    assert score(3, 7) == pytest.approx(score(20, 24), abs=1e-5)
    assert score(3, 7) != pytest.approx(score(3, 8), abs=1e-3)
    assert torch.allclose(apply_rope(q, cos[0], sin[0]), q)  # position 0: no rotation
    assert float(apply_rope(q, cos[9], sin[9]).norm()) == pytest.approx(float(q.norm()), rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# key-value cache
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("chunks", [[1] * 20, [5, 1, 1, 6, 7], [20]])
def test_cached_incremental_logits_equal_the_full_forward(family, chunks):
    """Feeding a sequence in chunks through the cache (1 token, or several after a prefix) gives the full logits."""
    model = model_of(family)
    x = tokens((3, 20))
    with torch.no_grad():
        full = model(x)
        cache = model.new_cache(3, 24)
        parts, start = [], 0
        for size in chunks:
            parts.append(model(x[:, start:start + size], cache))
            start += size
    assert cache.pos == 20
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_cache_keep_drops_rows_and_decoding_continues(family):
    model = model_of(family)
    x = tokens((4, 10))
    keep = torch.tensor([True, False, True, False])
    with torch.no_grad():
        full = model(x)
        cache = model.new_cache(4, 10)
        model(x[:, :6], cache)
        cache.keep(keep)
        rest = model(x[keep, 6:], cache)
    assert cache.kv.shape[2] == 2 and cache.pos == 10
    torch.testing.assert_close(rest, full[keep, 6:], atol=1e-5, rtol=0)


def test_cache_is_bounded_by_its_length_and_the_context():
    model = model_of("gpt2")
    cache = model.new_cache(2, 4)
    model(tokens((2, 3)), cache)
    model(tokens((2, 1)), cache)  # fills the cache; one more position is refused (test_contracts)
    assert cache.pos == 4 and cache.max_len == 4
    assert model.new_cache(5).kv.shape == (2, 2, 5, 2, 32, 8)
