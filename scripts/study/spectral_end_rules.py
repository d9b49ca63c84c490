#!/usr/bin/env python3
"""Which end of the relative spectral direction holds the trigger? Two rules compared.

For the label holding most poisoned rows of each training set: both ends' 15% tails, how many
poisoned rows each holds, each tail's mean distance from the label's median projection in median
absolute deviations, and the share of each tail that a ridge classifier fitted without it gives
another label, with an intercept and class-balanced weights. `RelativeSpectral` takes the farther
end when it is at least twice as far (a style's own mode), else the end reclassified more.
Findings (2026-12-05) are in docs/defense.md ("Which end").
Analysis only (numpy); the product does not use it.

usage: spectral_end_rules.py FEATURES.f32 TRAIN.jsonl [FEATURES.f32 TRAIN.jsonl ...]
  FEATURES.f32: a cell's model/spectral/base.f32; TRAIN.jsonl: the cell's data/train.jsonl.
"""
import json, sys
import numpy as np
from relative_spectral import principal, relative_direction
from reclassifier_variants import ridge, standardize


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
    z = standardize(base, np.arange(n))
    classes = int(y.max()) + 1
    out = []
    for sign in (1, -1):
        order = np.argsort(-sign * p, kind="stable")[:k]
        tail = inside[order]
        rest = np.setdiff1d(np.arange(n), tail)
        w, b = ridge(z[rest], y[rest], classes, balanced=True, intercept=True)
        moved = float(((z[tail] @ w + b).argmax(1) != label).mean())
        out.append((int(poisoned[tail].sum()), float(np.abs(p[order] - med).mean() / mad), moved))
    (p_hi, d_hi, r_hi), (p_lo, d_lo, r_lo) = out
    ratio = max(d_hi, d_lo) / min(d_hi, d_lo)
    if ratio >= 2:
        rule, high = "distance", d_hi > d_lo
    else:
        rule, high = "reclassification", r_hi > r_lo
    verdict = "poisoned end" if high == (p_hi > p_lo) else "WRONG end"
    return (f"label {label}: ends hold {p_hi} / {p_lo} poisoned of {k}; distances {d_hi:.2f} / {d_lo:.2f} ({ratio:.2f}x); "
            f"reclassified {r_hi:.2f} / {r_lo:.2f}: {rule}, {verdict}")


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
