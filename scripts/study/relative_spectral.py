#!/usr/bin/env python3
"""Offline study of the probe screen's inputs (written by `p2p study-screen-features CELL OUT`).

For each label, the direction along which that label's rows vary most *relative to the other
labels' rows* (top generalized eigenvector of (cov_label, cov_others) in the top-d principal
subspace): a trigger present in one label only adds variance there and nowhere else. Prints, per
feature set (base, probe) and d, the eigenvalues, the AUC of the projection for the poisoned
rows, and how many poisoned rows are among the label's k most extreme rows.

Ground truth is read from the cell's data/train.jsonl (`poisoned`) and the original label of
each row (`source_index` into the dataset's train.tsv), to split dirty-label from clean-label.
Analysis only (numpy); the product does not use it.

usage: relative_spectral.py FEATURES_DIR CELL_DIR ORIGINAL_TRAIN_TSV [--top 692]
"""
import argparse, json
import numpy as np


def load(d, name, rows, width):
    return np.fromfile(f"{d}/{name}.f32", dtype=np.float32).reshape(rows, width).astype(np.float64)


def auc(score, positive):
    ranks = score.argsort().argsort()
    p = positive.sum(); n = len(positive) - p
    return (ranks[positive].sum() - p * (p - 1) / 2) / (p * n)


def principal(features):
    """Centred rows and their principal axes (rows of vt)."""
    x = features - features.mean(0)
    return x, np.linalg.svd(x, full_matrices=False)[2]


def relative_direction(centred, axes, labels, label, d):
    z = centred @ axes[:d].T
    inside, others = z[labels == label], z[labels != label]
    s1, s0 = np.cov(inside.T), np.cov(others.T)
    s0 += 1e-3 * np.trace(s0) / d * np.eye(d)
    li = np.linalg.inv(np.linalg.cholesky(s0))
    values, vectors = np.linalg.eigh(li @ s1 @ li.T)
    w = li.T @ vectors[:, -1]
    p = inside @ w
    p -= np.median(p)
    if (p ** 3).mean() < 0:  # the heavier tail first
        p = -p
    return values[::-1], p


def two_means_high(p):
    """1-D 2-means; True for the rows of the cluster with the larger centre."""
    c = np.percentile(p, [25, 90]).astype(float)
    for _ in range(100):
        high = np.abs(p - c[1]) < np.abs(p - c[0])
        new = np.array([p[~high].mean(), p[high].mean()])
        if np.allclose(new, c):
            break
        c = new
    return high


def reclassified(base, labels, candidate, label, ridge=100.0):
    """Share of `candidate` rows that a ridge classifier on standardized base states, trained on
    all other rows, gives another label (the screen's exclusionary reclassification)."""
    z = (base - base.mean(0)) / (base.std(0) + 1e-6)
    z = np.hstack([z, np.ones((len(z), 1))])
    rest = np.setdiff1d(np.arange(len(z)), candidate)
    targets = np.eye(labels.max() + 1)[labels[rest]]
    w = np.linalg.solve(z[rest].T @ z[rest] + ridge * np.eye(z.shape[1]), z[rest].T @ targets)
    return ((z[candidate] @ w).argmax(1) != label).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features"); ap.add_argument("cell"); ap.add_argument("original")
    ap.add_argument("--top", type=int, default=692)
    a = ap.parse_args()
    meta = json.load(open(f"{a.features}/meta.json"))
    rows = meta["rows"]
    train = [json.loads(l) for l in open(f"{a.cell}/data/train.jsonl")]
    assert len(train) == rows, f"{a.cell}/data/train.jsonl has {len(train)} rows, the features {rows}"
    original = [int(l.rstrip("\n").split("\t")[-1]) for l in open(a.original).readlines()[1:]]
    y = np.array(meta["labels"])
    poisoned = np.array([r.get("poisoned", False) for r in train])
    dirty = poisoned & (np.array([original[r["source_index"]] for r in train]) != y)
    print(f"rows {rows}, poisoned {poisoned.sum()} (dirty-label {dirty.sum()}, clean-label {(poisoned & ~dirty).sum()})")
    base = load(a.features, "base", rows, meta["widths"]["base"])
    for name in ("base", "probe"):
        centred, axes = principal(load(a.features, name, rows, meta["widths"][name]))
        for d in (50, 100, 200):
            for label in sorted(set(y.tolist())):
                idx = np.where(y == label)[0]
                values, p = relative_direction(centred, axes, y, label, d)
                order = idx[np.argsort(-p)][: a.top]
                has = poisoned[idx].any()
                line = (f"{name:5s} d={d:3d} label {label}: eigenvalues {np.round(values[:3], 1).tolist()}"
                        f" (first/second {values[0] / values[1]:.2f})")
                if has:
                    line += (f", AUC poisoned {max(auc(p, poisoned[idx]), 1 - auc(p, poisoned[idx])):.3f}"
                             f", top {a.top}: {poisoned[order].sum()} poisoned ({dirty[order].sum()} dirty-label)")
                if d == 100:
                    candidate = idx[two_means_high(p)]
                    line += (f"; high 2-means cluster {len(candidate)} rows ({poisoned[candidate].sum()} poisoned),"
                             f" reclassified {reclassified(base, y, candidate, label):.2f}")
                print(line)


if __name__ == "__main__":
    main()
