#!/usr/bin/env python3
"""Checks that Fuzz/Package.swift keeps in step with ../Package.swift (run by scripts/fuzz.sh).

- A module both packages declare (the symlinked ones) has the same dependencies in both.
- Every `import` in a target's sources (symlinked files and folders included) is one of that
  target's dependencies, or a module of the toolchain.

SwiftPM alone would not say: a module may import what its dependencies depend on, so a missing
dependency can build here until the graph changes, and a missing system library fails only at link.
Prints each difference and exits 1 if there is one.
"""
import json
import os
import re
import subprocess
import sys

TOOLCHAIN = {"Foundation", "FoundationEssentials", "Glibc", "Dispatch", "Synchronization", "_Concurrency"}


def manifest(path):
    out = subprocess.run(["swift", "package", "--package-path", path, "dump-package"],
                         check=True, capture_output=True, text=True).stdout
    targets = {}
    for target in json.loads(out)["targets"]:
        names = set()
        for dependency in target.get("dependencies", []):
            for kind in ("byName", "target", "product"):
                if kind in dependency:
                    names.add(dependency[kind][0])
                    break
        targets[target["name"]] = (target, names)
    return targets


def imports(folder):
    found = set()
    for root, _, files in os.walk(folder, followlinks=True):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(root, name), encoding="utf-8") as source:
                    found.update(re.findall(r"^[ \t]*(?:@\w+(?:\([^)]*\))?[ \t]+)*import[ \t]+(?:(?:struct|class|enum|protocol|func|var|let|typealias)[ \t]+)?(\w+)", source.read(), re.M))
    return found


def main():
    fuzz_root = os.path.dirname(os.path.abspath(__file__))
    main_targets = manifest(os.path.dirname(fuzz_root))
    fuzz_targets = manifest(fuzz_root)
    problems = []
    for name, (target, dependencies) in sorted(fuzz_targets.items()):
        if name in main_targets and main_targets[name][1] != dependencies:
            want, have = main_targets[name][1], dependencies
            problems.append(f"{name}: ../Package.swift has {sorted(want - have)} that Fuzz/Package.swift lacks"
                            f"{f', and not {sorted(have - want)}' if have - want else ''}")
        if target["type"] == "system":
            continue
        folder = os.path.join(fuzz_root, target.get("path") or os.path.join("Sources", name))
        missing = imports(folder) - dependencies - TOOLCHAIN - {name}
        if missing:
            problems.append(f"{name}: imports {sorted(missing)} without depending on it in Fuzz/Package.swift")
    for problem in problems:
        print(f"check-dependencies: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
