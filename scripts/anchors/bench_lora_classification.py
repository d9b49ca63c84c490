#!/usr/bin/env python3
"""PyTorch + PEFT anchor of `p2p bench --train --workloads classification`.

The shape of the experiments' classification training (the official P2P settings on SST-2):
batch 32 x 29 random tokens, the loss on one answer token per sequence (the last position),
LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules=[q_proj, v_proj]), fp32,
AdamW lr 2e-4. One timed step = forward + loss + backward + optimizer.step() + zero_grad().

Two variants, one per process (argument `last` or `full`):
  last : logits only at the last position (`logits_to_keep=1`), the same work as p2p's step
  full : logits at every position with the loss masked to the answer (what a Hugging Face
         Trainer with -100 labels does, as the official P2P code)

Usage: python bench_lora_classification.py [GGUF] [last|full]
env: ANCHORS (../shared/anchors, for common.py), ANCHOR_THREADS (2), REPS (10), WARMUP (3)
"""
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("ANCHORS", os.path.join(here, "..", "..", "..", "shared", "anchors")))
from common import Foreign, fmt, gguf_path, header, load_model, loadavg, summarize  # noqa: E402

REPS = int(os.environ.get("REPS", "10"))
WARMUP = int(os.environ.get("WARMUP", "3"))
B, T = 32, 29
variant = "last"
for a in sys.argv[1:]:
    if a in ("last", "full"):
        variant = a

header(f"lora classification train variant={variant} B={B} T={T}")
tok, model, load_s = load_model(gguf_path())
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402

cfg = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "v_proj"], bias="none",
                 task_type="CAUSAL_LM")
model = get_peft_model(model, cfg)
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
V = model.config.vocab_size
g = torch.Generator().manual_seed(0)
data = [(torch.randint(100, V, (B, T), generator=g), torch.randint(100, 102, (B,), generator=g))
        for _ in range(WARMUP + REPS)]

losses, times = [], []
la0 = loadavg()[0]
fg = Foreign()
for i, (ids, answer) in enumerate(data):
    if i == WARMUP:
        fg.__enter__()
    t0 = time.perf_counter()
    if variant == "last":
        logits = model(input_ids=ids, logits_to_keep=1).logits[:, -1, :]
        loss = F.cross_entropy(logits, answer)
    else:
        labels = torch.full((B, T + 1), -100, dtype=torch.long)
        labels[:, T] = answer
        logits = model(input_ids=ids).logits  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    dt = time.perf_counter() - t0
    losses.append(float(loss.detach()))
    if i >= WARMUP:
        times.append(dt)
fg.__exit__(None, None, None)
s = summarize(times)
tps = summarize([B * T / t for t in times])
print(f"losses: {[round(x, 3) for x in losses]}")
print(f"RESULT lora-classification-{variant}: step {fmt(s, ' s', 3)} | {fmt(tps, ' trained tok/s')} | {fg} | "
      f"loadavg {la0:.2f}->{loadavg()[0]:.2f}")
