"""Pre-norm transformer blocks on top of `scaled_dot_product_attention`.

Masks: `key_padding_mask` is B × S with True at padded keys; lengths and masks travel together.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_positions(length: int, dim: int, device=None, offset: int = 0) -> Tensor:
    """L × D fixed sinusoidal encodings for positions offset..offset+L-1."""
    pos = torch.arange(offset, offset + length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def _attention_mask(key_padding_mask: Tensor | None, causal_len: int | None, q_len: int, device) -> Tensor | None:
    """Boolean SDPA mask (True = may attend), broadcastable to B × H × Q × S."""
    mask = None
    if key_padding_mask is not None:
        mask = (~key_padding_mask)[:, None, None, :]
    if causal_len is not None:
        causal = torch.ones(q_len, causal_len, dtype=torch.bool, device=device).tril(causal_len - q_len)
        mask = causal[None, None] if mask is None else mask & causal[None, None]
    return mask


# Up to this many query × key pairs per head, plain matmuls beat SDPA's flash kernel on CPU (it tiles
# for long blocks): 2-5× for a decoding step (1 query, or a row's k beams folded together), ~1.3× at
# 100 × 100 queries and keys (bf16, 2 cores); at 200 × 200 the flash kernel is 1.5× faster.
SMALL_ATTENTION = 128 * 128


def _attention_math(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, k_t: Tensor | None = None) -> Tensor:
    """Plain softmax(QKᵀ/√d)V. For training (SDPA's fused CPU backward was ~3× slower at our sizes) and
    for small attention in inference (see SMALL_ATTENTION)."""
    scores = (q @ (k.transpose(-2, -1) if k_t is None else k_t)) * (q.size(-1) ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1).to(v.dtype) @ v


class Dropout(nn.Module):
    """Inverted dropout drawing one random byte per element.

    `nn.Dropout` (bernoulli_) took a quarter of a CPU training step; filling int64s and viewing
    them as bytes is ~20× cheaper. The drop rate is rounded to a multiple of 1/256.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p
        self.threshold = round(p * 256)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.empty((n + 7) // 8, dtype=torch.int64, device=x.device).random_(-(2**63), None)
        keep = words.view(torch.uint8)[:n].view(x.shape) >= self.threshold
        return x * (keep.to(x.dtype) * (256.0 / (256 - self.threshold)))


class MultiHeadAttention(nn.Module):
    """Multi-head attention; with `cache`, keys/values of earlier steps are reused (incremental).

    No dropout on the attention weights: it forces SDPA onto its slow math kernel on CPU, and the
    residual dropout around every block regularises enough for our sizes.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, x: Tensor) -> Tensor:  # B × T × D → B × H × T × D/H
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        causal: bool = False,
        cache: dict | None = None,
        static_kv: bool = False,
    ) -> Tensor:
        """x: B × T × D queries; memory: B × S × D (self-attention if None). Returns B × T × D.
        memory may also be B/g × S × D: query rows i·g … i·g+g−1 then all read memory row i.

        cache (incremental decoding): self-attention appends this step's k/v; with static_kv the
        cross-attention k/v are computed once and reused.
        """
        q = self._split(self.q(x))
        k_t = None
        if cache is not None and static_kv and "k" in cache:
            # keys kept transposed too: matmul would copy the transposed view at every decoding step
            k, v, k_t = cache["k"], cache["v"], cache["k_t"]
        else:
            k, v = self.kv(x if memory is None else memory).chunk(2, dim=-1)
            k, v = self._split(k), self._split(v)
            if cache is not None:
                if not static_kv and "k" in cache:
                    k = torch.cat([cache["k"], k], dim=2)
                    v = torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
                if static_kv:
                    cache["k_t"] = k_t = k.transpose(-2, -1).contiguous()
                    cache["v"] = v = v.contiguous()
        group = q.size(0) // k.size(0)
        if group > 1:  # N = B·group queries over B rows of memory (beam search): fold them onto their row
            if causal:
                raise ValueError("queries can be folded onto shared memory only without a causal mask")
            b, h, t, d = k.size(0), q.size(1), q.size(2), q.size(3)
            q = q.view(b, group, h, t, d).transpose(1, 2).reshape(b, h, group * t, d)
        mask = _attention_mask(key_padding_mask, k.size(2) if causal else None, q.size(2), x.device)
        if torch.is_grad_enabled() or q.size(2) * k.size(2) <= SMALL_ATTENTION:
            y = _attention_math(q, k, v, mask, k_t)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if group > 1:
            y = y.view(b, h, group, t, d).transpose(1, 2).reshape(b * group, h, t, d)
        return self.out(y.transpose(1, 2).reshape(x.shape))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, ff_dim: int, dropout: float):
        super().__init__(nn.Linear(dim, ff_dim), nn.ReLU(), Dropout(dropout), nn.Linear(ff_dim, dim))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward. x: B × T × D, key_padding_mask: B × T."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.ff = FeedForward(dim, ff_dim, dropout)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), key_padding_mask=key_padding_mask))
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    """Pre-norm self-attention (causal or not) + cross-attention + feed-forward.

    Used causally in the autoregressive decoder and non-causally for the OLC's group-2 blocks,
    where K position queries attend to each other and to group 1's T outputs.
    """

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, heads)
        self.cross_attn = MultiHeadAttention(dim, heads)
        self.ff = FeedForward(dim, ff_dim, dropout)
        self.drop = Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        memory_padding_mask: Tensor | None,
        self_padding_mask: Tensor | None = None,
        cache: dict | None = None,
    ) -> Tensor:
        """x: B × K × D, memory: B × S × D → B × K × D. `cache` holds {"self": {}, "cross": {}}."""
        self_cache = cache["self"] if cache is not None else None
        cross_cache = cache["cross"] if cache is not None else None
        h = self.self_attn(self.norm1(x), key_padding_mask=self_padding_mask, causal=self.causal, cache=self_cache)
        x = x + self.drop(h)
        h = self.cross_attn(
            self.norm2(x), memory, key_padding_mask=memory_padding_mask, cache=cross_cache, static_kv=True
        )
        x = x + self.drop(h)
        return x + self.drop(self.ff(self.norm3(x)))
