"""Writing an outside check set (shared by make_hsol.py and make_olid.py)."""
import os, sys

def write_splits(out, parts):
    """Writes OUT/<name>.tsv (header `sentence<TAB>label`) for each (name, [(text, label)]) in
    `parts`, after checking that none of the files exists: it never overwrites, and a refusal
    writes nothing. Prints each file's row and label counts."""
    paths = [(os.path.join(out, name + ".tsv"), part) for name, part in parts]
    for path, _ in paths:
        if os.path.exists(path):
            sys.exit(f"{path} exists; this script never overwrites")
    os.makedirs(out, exist_ok=True)
    for path, part in paths:
        # Each file appears whole or not at all: written beside it, then renamed.
        with open(path + ".partial", 'w') as f:
            f.write("sentence\tlabel\n")
            for text, label in part:
                f.write(f"{text}\t{label}\n")
        os.replace(path + ".partial", path)
        ones = sum(label for _, label in part)
        print(f"{path}: {len(part)} rows, label 0: {len(part) - ones}, label 1: {ones}")
