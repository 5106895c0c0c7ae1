#!/usr/bin/env python3
"""Independent float64 reference of the Hugging Face causal LMs that llama-moe reads and writes.

numpy only (no torch, no transformers), transcribed from transformers' modeling_llama.py /
modeling_mixtral.py / modeling_qwen2_moe.py and pjlab-sys4nlp/llama-moe's modeling_llama_moe.py in eval mode:
  llama, mistral (full attention), llama_moe (TopKBalancedNoisyGate / SwitchBalancedGate gates,
  UniversalCalculator / SwitchDropTokenCalculator without dropping at eval), mixtral, qwen2_moe
  (Qwen2MoeSparseMoeBlock: softmax → top-k → renormalised only when norm_topk_prob, plus
  sigmoid(shared_expert_gate(x)) · shared_expert(x); mlp_only_layers / decoder_sparse_step).
It reads config.json and safetensors (single file or sharded index) with its own parser, so the
TypeScript reader is not trusted here either.

usage: hf_reference.py MODEL_DIR --tokens 1,5,9 --out logits.npy
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

DT = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(DT[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


def read_weights(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        w = {}
        for shard in sorted(set(wm.values())):
            w.update(read_safetensors(os.path.join(d, shard)))
        return w
    return read_safetensors(os.path.join(d, "model.safetensors"))


def rms(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(var + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def inv_freq(cfg, hd):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / rs["factor"]
        elif kind == "llama3":
            factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
            wavelen = 2 * math.pi / inv
            out = np.where(wavelen > old / lo, inv / factor, inv)
            smooth = (old / wavelen - lo) / (hi - lo)
            smoothed = (1 - smooth) * out / factor + smooth * out
            medium = ~(wavelen < old / hi) & ~(wavelen > old / lo)
            inv = np.where(medium, smoothed, out)
        elif kind not in (None, "default"):
            raise SystemExit(f"reference: rope_scaling {kind} unsupported")
    return inv


def rope(x, pos, inv):
    # x [T, H, hd], rotate_half layout
    f = np.outer(pos, inv)
    emb = np.concatenate([f, f], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def topk(x, k):
    # stable: descending value, ties by lower index
    idx = np.argsort(-x, axis=-1, kind="stable")[:, :k]
    return np.take_along_axis(x, idx, axis=-1), idx


def llama_moe_ffn(x, w, p, cfg, layer):
    E = cfg["num_experts"]
    k = cfg["num_selects"]
    if cfg.get("gate_network", "mlp") == "mlp":
        logits = np.tanh(x @ w[f"{p}.gate.gate_network.0.weight"].T) @ w[f"{p}.gate.gate_network.2.weight"].T
    else:
        logits = x @ w[f"{p}.gate.gate_network.weight"].T
    gate_type = cfg.get("gate_type", "TopKBalancedNoisyGate")
    if gate_type == "SwitchBalancedGate":
        idx = np.argmax(logits, axis=-1)[:, None]
        scores = np.take_along_axis(logits, idx, axis=-1)  # the reference returns the raw top-1 logit
    else:
        vals, idx = topk(logits, k)
        scores = softmax(vals) if cfg.get("gate_use_softmax", True) else vals
    scale = cfg.get("score_scale_factor", 1.0)
    if isinstance(scale, list):
        scale = scale[layer]
    y = np.zeros_like(x)
    for e in range(E):
        rows, slots = np.nonzero(idx == e)
        if len(rows) == 0:
            continue
        xe = x[rows]
        h = silu(xe @ w[f"{p}.calculator.experts.weight_gate.{e}"].T) * (xe @ w[f"{p}.calculator.experts.weight_up.{e}"].T)
        out = h @ w[f"{p}.calculator.experts.weight_down.{e}"].T
        if cfg.get("multiply_gate_scores", True):
            out = out * (scores[rows, slots] * scale)[:, None]
        np.add.at(y, rows, out)
    # Always-on shared experts (size_shared_experts: carve, sharing-inter), weight 1, no gate score.
    for j in range(len((cfg.get("size_shared_experts") or [[]] * (layer + 1))[layer])):
        q = f"{p}.shared_experts.{j}"
        y = y + (silu(x @ w[f"{q}.gate_proj.weight"].T) * (x @ w[f"{q}.up_proj.weight"].T)) @ w[f"{q}.down_proj.weight"].T
    return y


def mixtral_ffn(x, w, p, cfg):
    E = cfg["num_local_experts"]
    k = cfg["num_experts_per_tok"]
    probs = softmax(x @ w[f"{p}.gate.weight"].T)
    vals, idx = topk(probs, k)
    vals = vals / vals.sum(axis=-1, keepdims=True)
    y = np.zeros_like(x)
    for e in range(E):
        rows, slots = np.nonzero(idx == e)
        if len(rows) == 0:
            continue
        xe = x[rows]
        h = silu(xe @ w[f"{p}.experts.{e}.w1.weight"].T) * (xe @ w[f"{p}.experts.{e}.w3.weight"].T)
        np.add.at(y, rows, (h @ w[f"{p}.experts.{e}.w2.weight"].T) * vals[rows, slots][:, None])
    return y


def qwen2_moe_ffn(x, w, p, cfg, layer):
    def mlp(q, inp):
        return (silu(inp @ w[f"{q}.gate_proj.weight"].T) * (inp @ w[f"{q}.up_proj.weight"].T)) @ w[f"{q}.down_proj.weight"].T

    E = cfg["num_experts"]
    sparse = layer not in cfg.get("mlp_only_layers", []) and E > 0 and (layer + 1) % cfg.get("decoder_sparse_step", 1) == 0
    if not sparse:
        return mlp(p, x)
    probs = softmax(x @ w[f"{p}.gate.weight"].T)
    vals, idx = topk(probs, cfg["num_experts_per_tok"])
    if cfg.get("norm_topk_prob", False):
        vals = vals / vals.sum(axis=-1, keepdims=True)
    y = np.zeros_like(x)
    for e in range(E):
        rows, slots = np.nonzero(idx == e)
        if len(rows) == 0:
            continue
        np.add.at(y, rows, mlp(f"{p}.experts.{e}", x[rows]) * vals[rows, slots][:, None])
    gate = 1.0 / (1.0 + np.exp(-(x @ w[f"{p}.shared_expert_gate.weight"].T)))
    return y + mlp(f"{p}.shared_expert", x) * gate


def forward(d, ids):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = read_weights(d)
    mt = cfg["model_type"]
    D = cfg["hidden_size"]
    Hq = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or Hq
    hd = cfg.get("head_dim") or D // Hq
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    inv = inv_freq(cfg, hd)
    h = w["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}"
        x = rms(h, w[f"{p}.input_layernorm.weight"], eps)

        def proj(name):
            y = x @ w[f"{p}.self_attn.{name}.weight"].T
            b = w.get(f"{p}.self_attn.{name}.bias")
            return y + b if b is not None else y

        q = rope(proj("q_proj").reshape(T, Hq, hd), pos, inv)
        k = rope(proj("k_proj").reshape(T, Hkv, hd), pos, inv)
        v = proj("v_proj").reshape(T, Hkv, hd)
        g = Hq // Hkv
        k = np.repeat(k, g, axis=1)
        v = np.repeat(v, g, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        o = np.einsum("hts,shd->thd", softmax(att), v).reshape(T, Hq * hd)
        o = o @ w[f"{p}.self_attn.o_proj.weight"].T
        if f"{p}.self_attn.o_proj.bias" in w:
            o = o + w[f"{p}.self_attn.o_proj.bias"]
        h = h + o
        x = rms(h, w[f"{p}.post_attention_layernorm.weight"], eps)
        if mt in ("llama", "mistral"):
            mp = f"{p}.mlp"
            def lin(name, inp):
                y = inp @ w[f"{mp}.{name}.weight"].T
                b = w.get(f"{mp}.{name}.bias")
                return y + b if b is not None else y
            f_out = lin("down_proj", silu(lin("gate_proj", x)) * lin("up_proj", x))
        elif mt == "llama_moe":
            f_out = llama_moe_ffn(x, w, f"{p}.mlp", cfg, l)
        elif mt == "mixtral":
            f_out = mixtral_ffn(x, w, f"{p}.block_sparse_moe", cfg)
        elif mt == "qwen2_moe":
            f_out = qwen2_moe_ffn(x, w, f"{p}.mlp", cfg, l)
        else:
            raise SystemExit(f"reference: model_type {mt} unsupported")
        h = h + f_out
    h = rms(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return h @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ids = [int(t) for t in a.tokens.split(",")]
    np.save(a.out, forward(a.model, ids))


if __name__ == "__main__":
    sys.exit(main())
