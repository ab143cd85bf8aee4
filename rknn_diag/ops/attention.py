"""Attention (opset 23/24), RMSNormalization and RotaryEmbedding (opset 23): the transformer ops.

Attention: 3-D ([B, S, heads*D], with q_num_heads/kv_num_heads) or 4-D ([B, heads, S, D]) Q/K/V,
boolean (True = attend) or additive float masks (a mask shorter than the key length is padded
with -inf), is_causal (bottom-right aligned after a past cache), past_key/past_value,
nonpad_kv_seqlen (24), grouped-query attention (each KV head serves q_heads/kv_heads query
heads), softcap and the four qk_matmul_output modes. A query row with no key to attend
gives 0, as the spec says. Computed in float32.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ._window import float32, out_dtype
from .registry import register

F = np.float32


def _heads(x: np.ndarray, n: int | None, what: str) -> np.ndarray:
    """[B, S, n*D] -> [B, n, S, D]."""
    if not n:
        raise UnsupportedOpError(f"3-D Attention needs {what}", fix=f"set the {what} attribute")
    b, s, hid = x.shape
    return x.reshape(b, s, n, hid // n).transpose(0, 2, 1, 3)


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), F(0), m)
    e = np.exp(x - m)
    s = e.sum(-1, keepdims=True)
    return e / np.where(s == 0, F(1), s)


@register("Attention", values={"is_causal": (0, 1), "qk_matmul_output_mode": (0, 1, 2, 3)})
def attention(Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
              kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
              softmax_precision=None):
    """softmax(Q K^T * scale [softcap] + mask) V, with cache, GQA and causal masking."""
    q, k, v = float32(Q), float32(K), float32(V)
    three_d = q.ndim == 3
    if three_d:
        q, k, v = _heads(q, q_num_heads, "q_num_heads"), _heads(k, kv_num_heads, "kv_num_heads"), \
            _heads(v, kv_num_heads, "kv_num_heads")
    if (past_key is None) != (past_value is None):
        raise UnsupportedOpError("Attention needs past_key and past_value together",
                                 fix="give both cache inputs or neither")
    if past_key is not None:
        k = np.concatenate([float32(past_key), k], axis=2)
        v = np.concatenate([float32(past_value), v], axis=2)
    present_k, present_v = k, v
    sq, skv = q.shape[2], k.shape[2]
    sc = F(1 / np.sqrt(q.shape[3])) if scale is None else F(scale)

    bias = np.zeros((sq, skv), F)
    if attn_mask is not None:
        m = np.asarray(attn_mask)
        pad = skv - m.shape[-1]
        if pad > 0:
            m = np.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, pad)], constant_values=False if m.dtype == bool else -np.inf)
        bias = bias + (np.where(m, F(0), F(-np.inf)) if m.dtype == bool else float32(m))
    if is_causal:
        if past_key is None and nonpad_kv_seqlen is not None:
            offset = np.asarray(nonpad_kv_seqlen, np.int64).reshape(-1, 1, 1, 1) - sq
        else:
            offset = past_key.shape[2] if past_key is not None else 0
        allowed = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + offset
        bias = bias + np.where(allowed, F(0), F(-np.inf))
    if nonpad_kv_seqlen is not None:
        keep = np.arange(skv)[None, :] < np.asarray(nonpad_kv_seqlen, np.int64).reshape(-1, 1)
        bias = bias + np.where(keep, F(0), F(-np.inf)).reshape(-1, 1, 1, skv)

    hq, hk = q.shape[1], k.shape[1]
    if hq != hk:
        if hq % hk:
            raise UnsupportedOpError(f"Attention with {hq} query heads and {hk} key/value heads",
                                     fix="query heads must be a multiple of key/value heads (GQA)")
        k, v = np.repeat(k, hq // hk, axis=1), np.repeat(v, hq // hk, axis=1)
    # Q and K are each scaled by sqrt(scale), as the spec's function body does.
    rs = F(np.sqrt(sc))
    qk = (q * rs) @ (k * rs).transpose(0, 1, 3, 2)
    if softcap:
        qk = F(softcap) * np.tanh(qk / F(softcap))
    qk_out = qk
    with np.errstate(invalid="ignore"):
        biased = qk + bias
    if qk_matmul_output_mode == 2:
        qk_out = biased
    p = _softmax_rows(biased)
    p = np.where(np.isneginf(np.max(np.broadcast_to(bias, biased.shape), axis=-1, keepdims=True)), F(0), p)
    if qk_matmul_output_mode == 3:
        qk_out = p
    y = p @ v
    if three_d:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)
    dt = out_dtype(Q)
    return tuple(np.ascontiguousarray(a).astype(dt, copy=False) for a in (y, present_k, present_v, qk_out))


@register("RMSNormalization")
def rms_normalization(X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """X / sqrt(mean(X^2 over axes axis..last) + epsilon) * scale."""
    x = float32(X)
    a = axis % x.ndim
    ms = np.mean(np.square(x), axis=tuple(range(a, x.ndim)), keepdims=True)
    y = x / np.sqrt(ms + F(epsilon)) * float32(scale)
    return y.astype(out_dtype(X), copy=False)


@register("RotaryEmbedding", values={"interleaved": (0, 1)})
def rotary_embedding(X, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=None,
                     rotary_embedding_dim=0):
    """Rotate pairs of the first rotary_embedding_dim features by position-dependent angles.

    X is [B, heads, S, D] or [B, S, heads*D] (num_heads given); the caches are [max_pos, dim/2]
    indexed by position_ids [B, S], or [B, S, dim/2] when position_ids is omitted."""
    x = float32(X)
    three_d = x.ndim == 3
    if three_d:
        if not num_heads:
            raise UnsupportedOpError("3-D RotaryEmbedding needs num_heads", fix="set the num_heads attribute")
        b, s, hid = x.shape
        x = x.reshape(b, s, num_heads, hid // num_heads).transpose(0, 2, 1, 3)
    cos, sin = float32(cos_cache), float32(sin_cache)
    if position_ids is not None:
        pos = np.asarray(position_ids, np.int64)
        cos, sin = cos[pos], sin[pos]              # [B, S, dim/2]
    d = x.shape[-1]
    rd = rotary_embedding_dim or d
    rot, rest = x[..., :rd], x[..., rd:]
    cos, sin = cos[:, None, :, : rd // 2], sin[:, None, :, : rd // 2]   # broadcast over heads
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., : rd // 2], rot[..., rd // 2:]
    r1 = x1 * cos - x2 * sin
    r2 = x2 * cos + x1 * sin
    if interleaved:
        out = np.stack([r1, r2], axis=-1).reshape(rot.shape)
    else:
        out = np.concatenate([r1, r2], axis=-1)
    y = np.concatenate([out, rest], axis=-1)
    if three_d:
        y = y.transpose(0, 2, 1, 3).reshape(X.shape)
    return np.ascontiguousarray(y).astype(out_dtype(X), copy=False)
