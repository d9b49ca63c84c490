#!/usr/bin/env python3
"""Offline check of the relative spectral screen's decision (`RelativeSpectral` in Swift) on the
inputs `p2p study-screen-features CELL OUT` dumps: per label, the relative direction of the base
model's sentence states (top-d principal subspace, d = min(100, rows / 20)), the tail of each end
(15% of the label's rows) left out of a ridge fit on the standardized states, and the share of
each tail the fit gives another label. The end reclassified more is the trigger's; a label is
flagged when at least half of that tail is reclassified, at least 0.3 more than any other label's
tail, and at least 0.3 of the tail at its other end. Prints the eigenvalue ratio, both ends'
reclassified shares, and how many poisoned rows (from the cell's data/train.jsonl) are in the
tail, among the 100 most extreme rows and among the half of the label flagged.

Analysis only (numpy); the product does not use it. Its numbers differ slightly from the Swift
screen's (the principal subspace here is exact, the Swift one by subspace iteration).

usage: spectral_ends.py FEATURES_DIR CELL_DIR [FEATURES_DIR CELL_DIR ...]
"""
import json, sys
import numpy as np
from relative_spectral import principal, relative_direction


def ridge_fit(z, y, classes, lam=100.0):
    t = np.where(np.eye(classes)[y] > 0, 1.0, -1.0)
    return np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ t)


def main(features_dir, cell):
    meta = json.load(open(f"{features_dir}/meta.json"))
    n, width = meta["rows"], meta["widths"]["base"]
    base = np.fromfile(f"{features_dir}/base.f32", dtype=np.float32).reshape(n, width).astype(np.float64)
    y = np.array(meta["labels"])
    poisoned = np.array([bool(json.loads(line).get("poisoned")) for line in open(f"{cell}/data/train.jsonl")])
    classes = int(y.max()) + 1
    s = base.std(0); s[s < 1e-6] = np.inf
    z = (base - base.mean(0)) / s
    x, axes = principal(base)
    d = min(100, max(10, n // 20))
    print(f"{cell}: {n} rows, {poisoned.sum()} poisoned, d = {d}")
    found = []
    for label in range(classes):
        values, p = relative_direction(x, axes, y, label, d)
        inside = np.where(y == label)[0]
        k = max(1, int(0.15 * len(inside)))
        ends = []
        for sign in (1, -1):
            order = inside[np.argsort(-sign * p, kind="stable")]
            rest = np.setdiff1d(np.arange(n), order[:k])
            w = ridge_fit(z[rest], y[rest], classes)
            ends.append((((z[order[:k]] @ w).argmax(1) != label).mean(), order))
        (chosen, order), other = max(ends, key=lambda e: e[0]), min(e[0] for e in ends)
        found.append((label, len(inside), values[0] / values[1], chosen, other, order, k))
    for label, rows, ratio, chosen, other, order, k in found:
        margin = chosen - max([f[3] for f in found if f[0] != label], default=0)
        flagged = chosen >= 0.5 and margin >= 0.3 and other >= 0.3
        half = rows // 2
        print(f"  label {label}: {rows} rows ({poisoned[y == label].sum()} poisoned), eigenvalue ratio "
              f"{ratio:.2f}, reclassified {chosen:.2f} (other end {other:.2f}, margin over the other labels {margin:+.2f}) -> "
              f"{'FLAGGED' if flagged else 'clean'}; poisoned in the tail {poisoned[order[:k]].sum()}/{k}, "
              f"top 100 {poisoned[order[:100]].sum()}, half {poisoned[order[:half]].sum()}/{half}; from the far end "
              f"(the order of the default's benign rows): farthest 20% {poisoned[order[::-1][:rows // 5]].sum()}, "
              f"30% {poisoned[order[::-1][:rows * 3 // 10]].sum()}, other half {poisoned[order[half:]].sum()}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for i in range(0, len(args), 2):
        main(args[i], args[i + 1])
