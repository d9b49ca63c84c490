#!/usr/bin/env python3
"""Where a flagged label's poisoned rows lie along its first relative directions (analysis only).

The relative spectral screen ranks a flagged label's rows along the top generalized eigenvector of
(label covariance, other labels' covariance) in the top-d principal subspace of all rows. This
prints, for the first four such directions and a few d, the eigenvalue, each end's tail distance
from the label's median (in median absolute deviations, the screen's mode rule), and how many
poisoned rows the far end's 100 most extreme rows, the label's flagged half and the other end's 100
hold; then, for the first two directions at d, the same counts for directions between them (every
15 degrees, both ends). Written for AG News StyleBkd seed 2 (docs/defense.md, "What is not done").

FEATURES.f32 is the screen's `spectral/base.f32` (rows x width, float32; a cell's
`model/spectral/base.f32` or the `--out` of `p2p defend`); DATA_DIR holds the `train.jsonl` the
screen read (its `poisoned` and `label` fields). numpy; the product does not use it.

usage: relative_directions.py FEATURES.f32 DATA_DIR LABEL [--d 50]
"""
import argparse, json
import numpy as np


def directions(z, labels, label, d):
    inside, others = z[labels == label][:, :d], z[labels != label][:, :d]
    s1, s0 = np.cov(inside.T), np.cov(others.T)
    s0 += 1e-3 * np.trace(s0) / d * np.eye(d)
    li = np.linalg.inv(np.linalg.cholesky(s0))
    values, vectors = np.linalg.eigh(li @ s1 @ li.T)
    return values[::-1], inside @ (li.T @ vectors[:, ::-1])


def ends(p, poisoned, tail_share=0.15):
    """(far-end distance, other-end distance, poisoned in the far end's 100, in its half, in the other end's 100)."""
    med = np.median(p); mad = np.median(np.abs(p - med)); t = max(1, int(tail_share * len(p))); s = np.sort(p)
    high, low = np.abs(s[-t:] - med).mean() / mad, np.abs(s[:t] - med).mean() / mad
    order = np.argsort(-p if high >= low else p)
    return max(high, low), min(high, low), poisoned[order[:100]].sum(), poisoned[order[:len(p) // 2]].sum(), poisoned[order[::-1][:100]].sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features"); ap.add_argument("data"); ap.add_argument("label", type=int)
    ap.add_argument("--d", type=int, default=50)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.data + "/train.jsonl")]
    labels = np.array([r["label"] for r in rows]); poisoned = np.array([bool(r["poisoned"]) for r in rows])
    x = np.fromfile(a.features, dtype=np.float32).reshape(len(rows), -1).astype(np.float64)
    x -= x.mean(0)
    z = x @ np.linalg.svd(x, full_matrices=False)[2][:max(a.d, 50)].T
    inside = poisoned[labels == a.label]
    print(f"label {a.label}: {inside.size} rows, {inside.sum()} poisoned")
    for d in sorted({a.d, 50, 30, 20, 10}, reverse=True):
        values, p = directions(z, labels, a.label, d)
        print(f"d={d}")
        for k in range(4):
            far, other, top, half, rest = ends(p[:, k], inside)
            print(f"  direction {k}: eigenvalue {values[k]:.2f}, tails {far:.2f} / {other:.2f} MADs; poisoned: far end's 100 {top},"
                  f" its half {half}, other end's 100 {rest}")
    values, p = directions(z, labels, a.label, a.d)
    u = (p[:, :2] - np.median(p[:, :2], 0)) / np.median(np.abs(p[:, :2] - np.median(p[:, :2], 0)), 0)
    print(f"between directions 0 and 1 at d={a.d} (angle from direction 0; + the high end, - the low end):")
    for deg in range(0, 180, 15):
        q = np.cos(np.deg2rad(deg)) * u[:, 0] + np.sin(np.deg2rad(deg)) * u[:, 1]
        for sign in (1, -1):
            o = np.argsort(-sign * q)
            print(f"  {deg:3d} {'+' if sign > 0 else '-'}: poisoned in the 100 most extreme {inside[o[:100]].sum()}, in the half {inside[o[:len(q) // 2]].sum()}")


if __name__ == "__main__":
    main()
