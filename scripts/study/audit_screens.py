#!/usr/bin/env python3
"""Do committed results still describe the shipped default? (audit; no training)

A grid cell is reused while its settings and input files are unchanged; the fingerprint does not
cover the code, so a cell measured before a change of the default's rules (its screens, end rule,
share test, flip cap) keeps its old figures. This script re-derives what the default `p2p` decides
for committed cells with the current binary and compares it with what the cell recorded: it
re-draws the cell's poisoned data (`p2p poison` with the cell's attack, rate, target, setting,
seed, limits and label shares) and runs `p2p defend --prepare-only` (the screens, the selection and
the flips, no training), then prints the flips (poisoned of all), the benign rows that carry the
trigger, and the training rows, committed and now: SAME, or DIFFERENT (rerun the cell).

usage: audit_screens.py [RESULTS_DIR ...] [--key SUBSTRING] [--work /tmp/audit] [--p2p .build/release/p2p]
       (default: every results/*/ folder; only the default pipeline's classification cells, one
       1,000-row cell takes 1-3 minutes on 2 cores; full-set cells are skipped unless --full)
"""
import argparse, glob, json, os, subprocess


def flips(cell):
    f = cell.get("flippedRows")
    return len(f) if isinstance(f, list) else (f or 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--key", default="")
    ap.add_argument("--work", default="/tmp/audit")
    ap.add_argument("--p2p", default=".build/release/p2p")
    ap.add_argument("--full", action="store_true", help="also cells with more than 3,000 training rows")
    a = ap.parse_args()
    p2p = os.path.abspath(a.p2p)
    for d in a.dirs or sorted(glob.glob("results/*/")):
        path = os.path.join(d, "results.json")
        if not os.path.exists(path):
            continue
        grid = json.load(open(path))
        for c in grid.get("cells", []) if isinstance(grid, dict) else []:
            if not c["key"].count("_p2p-auto-") or a.key not in c["key"] or "attackConfig" not in c:
                continue
            if c.get("trainRows", 0) > 3000 and not a.full:
                continue
            at, cfg = c["attackConfig"], c.get("p2p") or {}
            out = os.path.join(a.work, os.path.basename(os.path.normpath(d)) + "__" + c["key"])
            if not os.path.exists(out + "/prep/manifest.json"):
                poison = [p2p, "poison", "--data", c["dataset"], "--attack", at["attack"], "--rate", str(at["rate"]),
                          "--target", str(at["target"]), "--setting", at["setting"], "--seed", str(at["seed"]),
                          "--out", out + "/data", "--overwrite"]
                if at.get("trainLimit"): poison += ["--train-limit", str(at["trainLimit"])]
                if at.get("testLimit"): poison += ["--test-limit", str(at["testLimit"])]
                if at.get("labelShares"): poison += ["--label-shares", ",".join(str(x) for x in at["labelShares"])]
                subprocess.run(poison, check=True, capture_output=True)
                defend = [p2p, "defend", "--data", out + "/data", "--out", out + "/prep", "--seed", str(c["seed"]), "--prepare-only"]
                # The requested rho is in the key (p2p-auto-0.2); the recorded config holds the resolved one.
                requested = c["key"].split("_p2p-auto-")[1].split("_")[0]
                if requested != "1.0": defend += ["--ratio", requested]
                if cfg.get("mode"): defend += ["--mode", cfg["mode"]]
                if cfg.get("benignTrigger"): defend += ["--benign-trigger", cfg["benignTrigger"]]
                subprocess.run(defend, check=True, capture_output=True)
            m = json.load(open(out + "/prep/manifest.json"))
            old = (c.get("flippedPoisonedRows") or 0, flips(c), c.get("benignPoisonedRows"), c.get("trainRows"))
            new = (m.get("flippedPoisonedRows") or 0, len(m.get("flippedRows") or []), m.get("benignPoisonedRows"), m.get("outputRows"))
            print(f"{os.path.basename(os.path.normpath(d))} {c['key']}: flips {old[0]}/{old[1]}, benign with trigger {old[2]},"
                  f" rows {old[3]} -> now {new[0]}/{new[1]}, {new[2]}, {new[3]} (rules revision {m.get('rulesRevision', 'unrecorded')}):"
                  f" {'SAME' if old == new else 'DIFFERENT'}", flush=True)


if __name__ == "__main__":
    main()
