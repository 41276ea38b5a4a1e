"""GPT-2-style and Llama-style decoder-only transformers in one short file (after nanoGPT), with a key-value cache.

Two families, as in the accumulate paper's TinyStories study (Gerstgrasser et al. 2024, §3):

``gpt2``   learned positional embeddings, pre-LayerNorm (with bias), GELU MLP, biases in every linear layer, output
           head tied to the token embedding, final LayerNorm. GELU is the exact (erf) form: GPT-2's tanh
           approximation differs from it by at most 5e-4 and costs 2.5x as much on a CPU;
``llama``  rotary position embeddings (base 10000), pre-RMSNorm, SwiGLU MLP ``w2(silu(w1 x) * w3 x)``, no biases,
           untied output head, final RMSNorm.

Both use causal self-attention through torch's fused ``scaled_dot_product_attention``; query, key and value come from
one fused projection (for Llama this is ``wq, wk, wv`` stacked: same parameters, one matrix product). No dropout (the
paper trains one epoch: each story is seen once). Initialization (GPT-2, also used by llama2.c): normal(0, 0.02)
weights, zero biases, and the projections that write into the residual stream scaled by ``1/sqrt(2 n_layer)``.

:data:`PAPER_CONFIGS` holds the paper's four models (their parameter counts are checked in the unit tests);
:data:`CI_CONFIGS` small ones for the ``ci`` profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from collapse_utils.validation import Instance, Int, OneOf, fail, validate

FAMILIES = ("gpt2", "llama")


@validate(family=OneOf(*FAMILIES), vocab_size=Int(1), n_layer=Int(1), n_head=Int(1), d_model=Int(1), d_mlp=Int(1),
          max_len=Int(1), eos_id=Int(0))
@dataclass(frozen=True)
class DecoderConfig:
    """Architecture of a decoder; ``max_len`` is the context length (number of positions).

    ``eos_id`` is the end-of-story token; it doubles as the beginning-of-story token a story is conditioned on.
    """

    family: str
    vocab_size: int
    n_layer: int
    n_head: int
    d_model: int
    d_mlp: int
    max_len: int
    eos_id: int = 0

    def __post_init__(self):
        if self.d_model % self.n_head:
            fail("n_head", f"a divisor of d_model = {self.d_model}", self.n_head)
        if self.family == "llama" and self.head_dim % 2:
            fail("n_head", f"such that d_model / n_head is even (rotary embeddings), d_model = {self.d_model}",
                 self.n_head)
        if self.eos_id >= self.vocab_size:
            fail("eos_id", f"< vocab_size = {self.vocab_size}", self.eos_id)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def tied(self) -> bool:
        """Whether the output head shares the token embedding (GPT-2) or has its own weights (Llama)."""
        return self.family == "gpt2"

    def n_params(self) -> int:
        """Number of parameters, counted from the architecture (tied weights once); equals
        :func:`collapse_utils.models.common.count_parameters`."""
        V, d, m, L = self.vocab_size, self.d_model, self.d_mlp, self.n_layer
        if self.family == "gpt2":  # 2 LayerNorms, qkv + out projection, MLP in + out, all with biases
            per_layer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d)
            return V * d + self.max_len * d + L * per_layer + 2 * d
        per_layer = 2 * d + 4 * d * d + 3 * d * m  # 2 RMSNorms, wq wk wv wo, w1 w2 w3
        return 2 * V * d + L * per_layer + d


# The paper's models (Gerstgrasser et al. 2024, §3, parameter counts as published). Head counts are not published:
# head dimension 64 throughout. Their vocabulary is an 8000-token tokenizer; context 2048 positions.
PAPER_CONFIGS: dict[str, DecoderConfig] = {
    "gpt2-9m": DecoderConfig("gpt2", 8000, n_layer=8, n_head=4, d_model=256, d_mlp=1024, max_len=2048),
    "llama2-12m": DecoderConfig("llama", 8000, n_layer=8, n_head=4, d_model=256, d_mlp=1024, max_len=2048),
    "llama2-42m": DecoderConfig("llama", 8000, n_layer=8, n_head=8, d_model=512, d_mlp=2048, max_len=2048),
    "llama2-126m": DecoderConfig("llama", 8000, n_layer=12, n_head=12, d_model=768, d_mlp=3072, max_len=2048),
}
PAPER_PARAMS = {"gpt2-9m": 8_890_880, "llama2-12m": 12_488_960, "llama2-42m": 41_755_136, "llama2-126m": 125_553_408}

# Small models for the ci profile (one CPU thread): widths 64, 96, 128, head dimension 32, MLP width 4 d_model,
# 256 positions.
# Set the vocabulary and end-of-story id of the tokenizer with :func:`decoder_config`.
CI_CONFIGS: dict[str, DecoderConfig] = {
    f"{family}-d{d}": DecoderConfig(family, 512, n_layer=2, n_head=d // 32, d_model=d, d_mlp=4 * d, max_len=256)
    for family in FAMILIES for d in (64, 96, 128)
}


_CONFIGS = {**PAPER_CONFIGS, **CI_CONFIGS}


@validate(name=OneOf(*sorted(_CONFIGS)))
def decoder_config(name: str, **changes) -> DecoderConfig:
    """The named configuration of :data:`PAPER_CONFIGS` or :data:`CI_CONFIGS`, with fields replaced by ``changes``.

    Example: ``decoder_config("gpt2-d64", vocab_size=tokenizer.vocab_size, eos_id=tokenizer.eos_id)``.
    """
    return replace(_CONFIGS[name], **changes)


class KVCache:
    """Preallocated keys and values of every layer, shape (n_layer, 2, batch, n_head, max_len, head_dim).

    ``pos`` is the number of positions already stored; the model writes the new ones and advances it.
    """

    @validate(config=Instance(DecoderConfig), batch_size=Int(1), max_len=Int(1))
    def __init__(self, config: DecoderConfig, batch_size: int, max_len: int, *, device=None, dtype=torch.float32):
        if max_len > config.max_len:
            fail("max_len", f"<= the context of config.max_len = {config.max_len} positions", max_len)
        shape = (config.n_layer, 2, batch_size, config.n_head, max_len, config.head_dim)
        self.kv = torch.empty(shape, device=device, dtype=dtype)  # position >= pos is never read
        self.pos = 0

    @property
    def max_len(self) -> int:
        return self.kv.shape[4]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k, v`` (batch, n_head, T, head_dim) at positions ``pos..pos+T-1``; return all keys and values."""
        end = self.pos + k.shape[2]
        self.kv[layer, 0, :, :, self.pos:end] = k
        self.kv[layer, 1, :, :, self.pos:end] = v
        return self.kv[layer, 0, :, :, :end], self.kv[layer, 1, :, :, :end]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the batch rows ``rows`` (e.g. drop finished sequences while sampling)."""
        used = self.kv[:, :, rows, :, :self.pos]  # indexing copies the stored positions only
        self.kv = used.new_empty((*used.shape[:4], self.max_len, used.shape[5]))
        self.kv[:, :, :, :, :self.pos] = used


def rope_tables(n_pos: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles ``p / base^(2i/head_dim)``, each (n_pos, head_dim) (halves repeated)."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i + head_dim/2}) of ``x`` (..., T, head_dim) by the angles of their positions."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    """Causal multi-head self-attention with fused SDPA and an optional key-value cache."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        bias = config.family == "gpt2"
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=bias)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=bias)

    def forward(self, x, rope=None, cache: KVCache | None = None, layer: int = 0):
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, hd)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        past = 0
        if cache is not None:
            past = cache.pos
            k, v = cache.update(layer, k, v)
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif T == 1:  # one new query attends to every stored position
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # T new queries after `past` stored positions: query i sees positions <= past + i
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, d))


class MLP(nn.Module):
    """GPT-2: ``c_proj(gelu(c_fc x))`` (exact GELU); Llama: SwiGLU ``w2(silu(w1 x) * w3 x)``."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        d, m = config.d_model, config.d_mlp
        self.gated = config.family == "llama"
        if self.gated:
            self.w1, self.w3 = nn.Linear(d, m, bias=False), nn.Linear(d, m, bias=False)
            self.w2 = nn.Linear(m, d, bias=False)
        else:
            self.c_fc, self.c_proj = nn.Linear(d, m), nn.Linear(m, d)

    def forward(self, x):
        if self.gated:
            return self.w2(F.silu(self.w1(x)) * self.w3(x))
        return self.c_proj(F.gelu(self.c_fc(x)))


def _norm(config: DecoderConfig) -> nn.Module:
    return nn.LayerNorm(config.d_model, eps=1e-5) if config.family == "gpt2" else nn.RMSNorm(config.d_model, eps=1e-5)


class Block(nn.Module):
    """Pre-norm residual block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.norm1, self.attn = _norm(config), Attention(config)
        self.norm2, self.mlp = _norm(config), MLP(config)

    def forward(self, x, rope=None, cache=None, layer=0):
        x = x + self.attn(self.norm1(x), rope, cache, layer)
        return x + self.mlp(self.norm2(x))


class Decoder(nn.Module):
    """A decoder-only language model: token ids (batch, T) -> next-token logits (batch, T, vocab_size)."""

    @validate(config=Instance(DecoderConfig))
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.max_len, config.d_model) if config.family == "gpt2" else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm_f = _norm(config)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tied:
            self.head.weight = self.tok_emb.weight
        if config.family == "llama":
            cos, sin = rope_tables(config.max_len, config.head_dim)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # residual-stream projections (GPT-2 paper, §2.3)
            if name.endswith(("attn.proj.weight", "mlp.c_proj.weight", "mlp.w2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty key-value cache for ``batch_size`` sequences of up to ``max_len`` positions (default: all)."""
        p = self.tok_emb.weight
        return KVCache(self.config, batch_size, max_len or self.config.max_len, device=p.device, dtype=p.dtype)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Next-token logits at every position of ``idx``; with ``cache``, ``idx`` continues the cached prefix."""
        T = idx.shape[1]
        start = 0 if cache is None else cache.pos
        limit = self.config.max_len if cache is None else cache.max_len
        if start + T > limit:
            fail("idx", f"at most {limit - start} positions (the context holds {limit}, {start} of them cached)", T)
        x = self.tok_emb(idx)
        rope = None
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[start:start + T]
        else:
            rope = self.rope_cos[start:start + T], self.rope_sin[start:start + T]
        for layer, block in enumerate(self.blocks):
            x = block(x, rope, cache, layer)
        if cache is not None:
            cache.pos += T
        return self.head(self.norm_f(x))
