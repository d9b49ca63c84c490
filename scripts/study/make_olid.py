#!/usr/bin/env python3
"""Builds a second outside check set from OLID (OffensEval 2019, Zampieri et al.) as HiddenKiller
publishes it (github.com/thunlp/HiddenKiller @ a08e959, data/clean/offenseval; MIT), which this
repository does not ship and nothing in it was tuned on: short tweets with user names and links
masked (@USER, URL), binary, at their own label shares (train 67/33, test 72/28): label 0 = not
offensive, label 1 = offensive. Nothing is re-drawn: train, dev and test are the published splits in
their order.

  python3 scripts/study/make_olid.py OFFENSEVAL_DIR OUT_DIR

OFFENSEVAL_DIR holds {train,dev,test}.tsv (`sentence<TAB>label`; each file's sha256 is printed).
Writes OUT_DIR/{train,dev,test}.tsv (header `sentence<TAB>label`). Text: whitespace runs collapsed
to one space and trimmed; labels trimmed; rows left with no letter or digit are dropped. Never
overwrites.
"""
import hashlib, os, re, sys
from outside_sets import write_splits

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    parts = {}
    for name in ["train", "dev", "test"]:
        path = os.path.join(src, name + ".tsv")
        raw = open(path, 'rb').read()
        print(f"{path}: sha256 {hashlib.sha256(raw).hexdigest()}")
        lines = raw.decode('utf-8').split('\n')
        if lines[0].strip().split('\t') != ["sentence", "label"]:
            sys.exit(f"{path}: header {lines[0]!r}, expected sentence<TAB>label")
        rows = []
        for number, line in enumerate(lines[1:], start=2):
            if line.strip() == "":
                continue
            text, _, label = line.rpartition('\t')
            label = label.strip()
            if label not in ("0", "1"):
                sys.exit(f"{path}:{number}: label {label!r}, expected 0 or 1")
            text = re.sub(r"\s+", " ", text).strip()
            if re.search(r"[A-Za-z0-9]", text):
                rows.append((text, int(label)))
        parts[name] = rows
    write_splits(out, list(parts.items()))

if __name__ == "__main__":
    main()
