#!/usr/bin/env python3
"""Builds an outside check set from HSOL (Davidson et al., ICWSM 2017; MIT licence), which this
repository does not ship and nothing in it was tuned on: short tweets, binary, re-drawn to 70/30
label shares like the held-out set described in issue 23 (about 70% label 0, target 1 = the
minority). Label 0 = offensive or hate speech (HSOL classes 0 and 1), label 1 = neither (class 2):
a BadNets attack with target 1 makes offensive posts pass as harmless.

  python3 scripts/study/make_hsol.py LABELED_DATA_CSV OUT_DIR

LABELED_DATA_CSV is `data/labeled_data.csv` of github.com/t-davidson/hate-speech-and-offensive-language
(sha256 printed). Writes OUT_DIR/{train,dev,test}.tsv (header `sentence<TAB>label`): test 2,000 rows
and dev 1,000 rows at 70/30, train the rest at 70/30. Text: HTML entities unescaped, whitespace
runs (tabs, line breaks) collapsed to one space; rows left empty are dropped. Seeded; no
deduplication beyond exact repeats of a text (the first is kept).
"""
import csv, hashlib, html, random, re, sys
from outside_sets import write_splits

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    raw = open(src, 'rb').read()
    print(f"{src}: sha256 {hashlib.sha256(raw).hexdigest()}")
    rows, seen = {0: [], 1: []}, set()
    for r in csv.DictReader(raw.decode('utf-8').splitlines(keepends=True)):
        text = re.sub(r"\s+", " ", html.unescape(r['tweet'])).strip()
        if not re.search(r"[A-Za-z0-9]", text) or text in seen:
            continue
        seen.add(text)
        rows[1 if r['class'] == '2' else 0].append(text)
    rng = random.Random(20261206)
    for k in rows:
        rng.shuffle(rows[k])
    def take(n0, n1):
        part = [(t, 0) for t in rows[0][:n0]] + [(t, 1) for t in rows[1][:n1]]
        del rows[0][:n0], rows[1][:n1]
        rng.shuffle(part)
        return part
    test, dev = take(1400, 600), take(700, 300)
    n1 = len(rows[1]); n0 = min(len(rows[0]), n1 * 7 // 3)
    train = take(n0, n1)
    write_splits(out, [("train", train), ("dev", dev), ("test", test)])

if __name__ == "__main__":
    main()
