#!/usr/bin/env python3
"""Which end of the relative spectral direction holds the trigger? Two rules compared.

For the label holding most poisoned rows of each training set: both ends' 15% tails, how many
poisoned rows each holds, and each tail's mean distance from the label's median projection in
median absolute deviations (`RelativeSpectral` takes the farther end when it is at least twice as
far: a style's own mode; otherwise exclusionary reclassification decides, which
`reclassifier_variants.py` measures). Findings (2026-12-05) are in docs/defense.md ("Which end").
Analysis only (numpy); the product does not use it.

usage: spectral_end_rules.py FEATURES.f32 TRAIN.jsonl [FEATURES.f32 TRAIN.jsonl ...]
  FEATURES.f32: a cell's model/spectral/base.f32; TRAIN.jsonl: the cell's data/train.jsonl.
"""
import json, sys
import numpy as np
from relative_spectral import principal, relative_direction


def ends(base, y, poisoned):
    n = len(y)
    x, axes = principal(base)
    d = min(100, max(10, n // 20))
    label = int(np.bincount(y[poisoned]).argmax())
    _, p = relative_direction(x, axes, y, label, d)
    inside = np.where(y == label)[0]
    k = max(1, int(0.15 * len(inside)))
    med = np.median(p)
    mad = np.median(np.abs(p - med))
    out = []
    for sign in (1, -1):
        order = np.argsort(-sign * p, kind="stable")[:k]
        out.append((int(poisoned[inside[order]].sum()), float(np.abs(p[order] - med).mean() / mad)))
    (p_hi, d_hi), (p_lo, d_lo) = out
    ratio = max(d_hi, d_lo) / min(d_hi, d_lo)
    rule = "distance" if ratio >= 2 else "reclassification"
    right = "" if rule == "reclassification" else (" (poisoned end)" if (d_hi > d_lo) == (p_hi > p_lo) else " (WRONG end)")
    return f"label {label}: ends hold {p_hi} / {p_lo} poisoned of {k}; distances {d_hi:.2f} / {d_lo:.2f} ({ratio:.2f}x): {rule}{right}"


def main(args):
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for i in range(0, len(args), 2):
        rows = [json.loads(line) for line in open(args[i + 1])]
        y = np.array([r["label"] for r in rows])
        poisoned = np.array([bool(r.get("poisoned")) for r in rows])
        if not poisoned.any():
            print(f"{args[i + 1]}: nothing poisoned")
            continue
        base = np.fromfile(args[i], dtype=np.float32).reshape(len(rows), -1).astype(np.float64)
        print(f"{args[i + 1]}: {ends(base, y, poisoned)}")


if __name__ == "__main__":
    main(sys.argv[1:])
