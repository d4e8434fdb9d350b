#!/usr/bin/env python3
"""Picks a corpus subset under a byte budget from a libFuzzer merge control file.

Usage: select_budget.py CONTROL_FILE OUT_DIR BUDGET_BYTES [COV|FT]

Every seed-* and regression-* input is kept; then, greedily, the input that adds the most new
edges (COV) or features (FT) per byte, until the budget is spent. Used by minimise.sh.
"""
import os
import re
import shutil
import sys


def main():
    control, out_dir, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kind = sys.argv[4] if len(sys.argv) > 4 else "COV"
    lines = open(control).read().splitlines()
    count = int(lines[0])
    files = lines[2 : 2 + count]
    covers = {}
    for line in lines[2 + count :]:
        parts = line.split()
        if parts and parts[0] == kind:
            covers[int(parts[1])] = set(parts[2:])
    size = {i: os.path.getsize(path) for i, path in enumerate(files)}
    keep = [
        i for i, path in enumerate(files)
        if re.match(r"(seed|regression)-", os.path.basename(path))
    ]
    covered = set().union(*(covers.get(i, set()) for i in keep))
    total = sum(size[i] for i in keep)
    rest = [i for i in range(count) if i not in keep]
    while True:
        best, best_score = None, 0.0
        for i in rest:
            if total + size[i] > budget:
                continue
            new = len(covers.get(i, set()) - covered)
            score = new / (size[i] + 64)
            if new and score > best_score:
                best, best_score = i, score
        if best is None:
            break
        keep.append(best)
        rest.remove(best)
        covered |= covers[best]
        total += size[best]
    everything = set().union(*covers.values()) if covers else set()
    os.makedirs(out_dir, exist_ok=True)
    for i in keep:
        shutil.copy(files[i], out_dir)
    print(f"kept {len(keep)} files, {total} bytes, {kind} {len(covered)}/{len(everything)}")


if __name__ == "__main__":
    main()
