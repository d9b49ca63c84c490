#!/usr/bin/env python3
"""Checks that Package.swift declares exactly the modules each target imports: no import without
a declared dependency, no declared dependency that is not imported. Reads the manifest with
`swift package dump-package`. Usage: python3 scripts/check-imports.py (repository root)."""
import json, pathlib, re, subprocess, sys

root = pathlib.Path(__file__).resolve().parent.parent
pkg = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True).stdout)
system = {"Foundation", "FoundationEssentials", "Synchronization", "Testing", "XCTest", "Glibc", "Darwin", "Dispatch"}
# Dependencies that are linked, not imported: the BLAS system library is imported as CBLAS; the
# fuzz harness's C main is linked only.
linked_only = {"P2PFuzzMain"}
bad = []
for t in pkg["targets"]:
    if t["type"] not in ("regular", "executable", "test"):
        continue
    deps = set()
    for d in t["dependencies"]:
        kind, value = next(iter(d.items()))
        deps.add(value[0])
    folder = root / (t.get("path") or ("Tests/" if t["type"] == "test" else "Sources/") + t["name"])
    imports = set()
    for f in folder.rglob("*.swift"):
        imports |= set(re.findall(r"^\s*(?:@testable\s+|@_exported\s+)?import\s+(?:(?:struct|enum|class|func)\s+)?([A-Za-z0-9_]+)", f.read_text(), re.M))
    imports -= system | {t["name"]}
    missing, unused = imports - deps, deps - imports - linked_only
    if missing or unused:
        bad.append(f"{t['name']}: imported but not declared {sorted(missing)}; declared but not imported {sorted(unused)}")
print("\n".join(bad) if bad else f"Package.swift declares exactly the imports of all {len(pkg['targets'])} targets")
sys.exit(1 if bad else 0)
