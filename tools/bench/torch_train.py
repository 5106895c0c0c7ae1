#!/usr/bin/python3
"""PyTorch peer of `pnpm bench`'s training rows: one plain LLaMA / LLaMA-MoE training step.

Usage: /usr/bin/python3 tools/bench/torch_train.py '<json>'
  json: { dim, layers, heads, kvHeads, headDim, ffn, vocab, ropeTheta, eps, experts (0 = dense),
          topK, batch, seqLen, steps, threads }

Same model and step as the project's benchTrainStep (trainer/src/bench.ts), written the way one
writes it in plain PyTorch: token embedding, per layer RMSNorm -> attention (RoPE, grouped KV
heads, causal softmax) -> residual -> RMSNorm -> SwiGLU FFN -> residual, final RMSNorm, untied LM
head, cross-entropy on the next token, backward, global grad-norm clip to 1, AdamW (lr 1e-5,
betas 0.9/0.95, eps 1e-8, weight decay 0.1). The MoE FFN is E SwiGLU experts of width ffn/E behind
a linear top-k softmax gate (scores x E/k, LLaMA-MoE's score scale), tokens gathered per expert
and scattered back with index_add_ (as HF's Mixtral block does): the same FLOPs as ours. Random
token ids; one warm-up step, then `steps` timed steps; the median is reported.

It prints one JSON line: { stepMs, msPerStep, tokensPerSec, threads, blas: { libs, gflops1024 } }.
The BLAS torch actually loaded is read from /proc/self/maps, and a 1024^3 sgemm is timed.
"""
import json
import math
import os
import sys
import time


def blas_info(torch):
    libs = []
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line})
    except OSError:
        pass
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    a @ b
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return {'libs': libs, 'gflops1024': 2 * 1024 ** 3 / best / 1e9}


def main():
    a = json.loads(sys.argv[1])
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.get('threads', 2))
    torch.manual_seed(0)
    D, L, H, Hkv = a['dim'], a['layers'], a['heads'], a['kvHeads']
    hd = a.get('headDim') or D // H
    Fdim, V = a['ffn'], a['vocab']
    E, K = a.get('experts', 0), a.get('topK', 1)
    B, T = a['batch'], a['seqLen']
    eps = a.get('eps', 1e-5)

    class RMSNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

    inv = 1.0 / (a.get('ropeTheta', 10000.0) ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.outer(torch.arange(T).float(), inv)
    cos = torch.cat([ang.cos(), ang.cos()], -1)
    sin = torch.cat([ang.sin(), ang.sin()], -1)

    def rope(x):  # [B, h, T, hd], HF's rotate_half convention
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    mask = torch.full((T, T), float('-inf')).triu(1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(D, H * hd, bias=False)
            self.k = nn.Linear(D, Hkv * hd, bias=False)
            self.v = nn.Linear(D, Hkv * hd, bias=False)
            self.o = nn.Linear(H * hd, D, bias=False)

        def forward(self, x):
            q = rope(self.q(x).view(B, T, H, hd).transpose(1, 2))
            k = rope(self.k(x).view(B, T, Hkv, hd).transpose(1, 2))
            v = self.v(x).view(B, T, Hkv, hd).transpose(1, 2)
            if Hkv != H:
                k = k.repeat_interleave(H // Hkv, dim=1)
                v = v.repeat_interleave(H // Hkv, dim=1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            y = torch.softmax(s, -1) @ v
            return self.o(y.transpose(1, 2).reshape(B, T, H * hd))

    class SwiGLU(nn.Module):
        def __init__(self, f):
            super().__init__()
            self.gate = nn.Linear(D, f, bias=False)
            self.up = nn.Linear(D, f, bias=False)
            self.down = nn.Linear(f, D, bias=False)

        def forward(self, x):
            return self.down(F.silu(self.gate(x)) * self.up(x))

    class MoE(nn.Module):
        def __init__(self):
            super().__init__()
            self.router = nn.Linear(D, E, bias=False)
            self.experts = nn.ModuleList([SwiGLU(Fdim // E) for _ in range(E)])

        def forward(self, x):
            xf = x.reshape(-1, D)
            scores, chosen = torch.softmax(self.router(xf), -1).topk(K, dim=-1)
            scores = scores * (E / K)
            out = torch.zeros_like(xf)
            for e, expert in enumerate(self.experts):
                rows, slot = torch.where(chosen == e)
                if rows.numel() == 0:
                    continue
                y = expert(xf.index_select(0, rows)) * scores[rows, slot].unsqueeze(-1)
                out = out.index_add(0, rows, y)
            return out.view_as(x)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.attn, self.n2 = RMSNorm(D), Attention(), RMSNorm(D)
            self.mlp = MoE() if E > 0 else SwiGLU(Fdim)

        def forward(self, x):
            x = x + self.attn(self.n1(x))
            return x + self.mlp(self.n2(x))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, D)
            self.layers = nn.ModuleList([Block() for _ in range(L)])
            self.norm = RMSNorm(D)
            self.head = nn.Linear(D, V, bias=False)

        def forward(self, ids):
            x = self.embed(ids)
            for blk in self.layers:
                x = blk(x)
            return self.head(self.norm(x))

    model = Llama()
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    gen = torch.Generator().manual_seed(1)

    def step():
        ids = torch.randint(0, V, (B, T), generator=gen)
        opt.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    blas = blas_info(torch)
    step()
    times = []
    for _ in range(a['steps']):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    s = sorted(times)
    mid = len(s) // 2
    med = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    print(json.dumps({
        'stepMs': times, 'msPerStep': med, 'tokensPerSec': B * T * 1000 / med,
        'threads': torch.get_num_threads(), 'torch': torch.__version__, 'blas': blas,
        'params': sum(p.numel() for p in model.parameters()),
    }))


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # one clear line for the bench's note
        sys.stderr.write(f'{type(e).__name__}: {e}\n')
        sys.exit(1)
