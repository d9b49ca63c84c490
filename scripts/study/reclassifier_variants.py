#!/usr/bin/env python3
"""Does the spectral screen's reclassified share measure the trigger, or the label shares?

For each label: the relative spectral direction of the base model's sentence states (as in
`spectral_ends.py`), both ends' 15% tails, and the share of the chosen end's tail that a ridge
classifier fitted without it gives another label, under four reclassifiers:

  screen      no intercept, features standardized over all rows (what `RelativeSpectral` does);
  int+bal     unpenalized intercept, class-balanced row weights;
  fit-centred no intercept, features standardized over the fit's own rows (no offset to absorb);
  balanced    the screen's reclassifier on a subsample with every label cut to the smallest
              label's count (seeded);
  random      the screen's reclassifier on 12 random tails of the same label (seeded): what the
              label shares alone give a left-out tail of that size (printed as tail - random).

Prints per label: chosen-end share / other-end share / margin over the other labels' chosen ends,
and how many poisoned rows the chosen tail holds; `*` marks what the screen's rule (0.5, +0.3, 0.1)
would flag. Findings (2026-12-05) are in docs/defense.md ("Why not the reclassified share"): no variant
separates the poisoned SST-2 labels from the clean ones once the share effect is taken out, which is
why the screen now judges the label shares against a reference instead. Analysis only (numpy); the product does not use it.

usage: reclassifier_variants.py FEATURES.f32 TRAIN.jsonl [FEATURES.f32 TRAIN.jsonl ...]
  FEATURES.f32: a cell's model/spectral/base.f32 (or base.f32 of `p2p study-screen-features`);
  TRAIN.jsonl: the rows it was read from (`label`, `poisoned`), e.g. the cell's data/train.jsonl.
"""
import json, sys
import numpy as np
from relative_spectral import principal, relative_direction


def standardize(base, rows):
    s = base[rows].std(0)
    s[s < 1e-6] = np.inf
    return (base - base[rows].mean(0)) / s


def ridge(z, y, classes, lam=100.0, balanced=False, intercept=False):
    t = np.where(np.eye(classes)[y] > 0, 1.0, -1.0)
    sw = (len(y) / (classes * np.bincount(y, minlength=classes)))[y] if balanced else np.ones(len(y))
    zm = (z * sw[:, None]).sum(0) / sw.sum() if intercept else np.zeros(z.shape[1])
    tm = (t * sw[:, None]).sum(0) / sw.sum() if intercept else np.zeros(classes)
    zc = z - zm
    w = np.linalg.solve((zc * sw[:, None]).T @ zc + lam * np.eye(z.shape[1]), (zc * sw[:, None]).T @ (t - tm))
    return w, tm - zm @ w


def shares(base, y, poisoned, variant):
    n, classes = len(y), int(y.max()) + 1
    x, axes = principal(base)
    d = min(100, max(10, n // 20))
    z_all = standardize(base, np.arange(n))
    found = []
    for label in range(classes):
        _, p = relative_direction(x, axes, y, label, d)
        inside = np.where(y == label)[0]
        k = max(1, int(0.15 * len(inside)))
        ends = []
        for sign in (1, -1):
            order = inside[np.argsort(-sign * p, kind="stable")]
            tail, rest = order[:k], np.setdiff1d(np.arange(n), order[:k])
            z = standardize(base, rest) if variant == "fit-centred" else z_all
            w, b = ridge(z[rest], y[rest], classes, balanced=variant == "int+bal", intercept=variant == "int+bal")
            ends.append((((z[tail] @ w + b).argmax(1) != label).mean(), int(poisoned[tail].sum())))
        found.append((max(ends), min(ends)[0]))
    out = []
    for i, ((chosen, in_tail), other) in enumerate(found):
        margin = chosen - max([f[0][0] for j, f in enumerate(found) if j != i], default=0)
        flag = "*" if chosen >= 0.5 and margin >= 0.3 and other >= 0.1 else ""
        out.append(f"L{i} {chosen:.2f}/{other:.2f}/{margin:+.2f} (poisoned {in_tail}){flag}")
    return "  ".join(out)


def random_null(base, y, reps=12):
    """Per label: the chosen tail's share minus the mean share of random same-size tails."""
    n, classes = len(y), int(y.max()) + 1
    x, axes = principal(base)
    d = min(100, max(10, n // 20))
    z = standardize(base, np.arange(n))
    rng = np.random.default_rng(0)
    out = []
    for label in range(classes):
        _, p = relative_direction(x, axes, y, label, d)
        inside = np.where(y == label)[0]
        k = max(1, int(0.15 * len(inside)))

        def moved(tail):
            rest = np.setdiff1d(np.arange(n), tail)
            w, b = ridge(z[rest], y[rest], classes)
            return ((z[tail] @ w + b).argmax(1) != label).mean()
        tail = max(moved(inside[np.argsort(-s * p, kind="stable")[:k]]) for s in (1, -1))
        null = np.mean([moved(rng.choice(inside, k, replace=False)) for _ in range(reps)])
        out.append(f"L{label} {tail:.2f}-{null:.2f}={tail - null:+.2f}")
    return "  ".join(out)


def main(args):
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for i in range(0, len(args), 2):
        rows = [json.loads(line) for line in open(args[i + 1])]
        y = np.array([r["label"] for r in rows])
        poisoned = np.array([bool(r.get("poisoned")) for r in rows])
        base = np.fromfile(args[i], dtype=np.float32).reshape(len(rows), -1).astype(np.float64)
        print(f"{args[i + 1]}: {len(rows)} rows, label counts {np.bincount(y).tolist()}, {poisoned.sum()} poisoned")
        for variant in ("screen", "int+bal", "fit-centred"):
            print(f"  {variant:12s} {shares(base, y, poisoned, variant)}")
        m = np.bincount(y).min()
        keep = np.sort(np.concatenate([np.random.default_rng(0).choice(np.where(y == l)[0], m, replace=False)
                                       for l in range(int(y.max()) + 1)]))
        print(f"  {'balanced':12s} {shares(base[keep], y[keep], poisoned[keep], 'screen')}")
        print(f"  {'random':12s} {random_null(base, y)}")


if __name__ == "__main__":
    main(sys.argv[1:])
