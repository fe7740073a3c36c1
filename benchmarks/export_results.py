"""Copy a grid's results, without models, checkpoints or TensorBoard logs, to a folder that can be committed.

    python benchmarks/export_results.py results/small-cpu docs/results/small-cpu

Kept: the report and its figures, the spec, and every job's JSON and CSV records. ``sb3-distill report``
run on the copy rebuilds the same report.
"""

from __future__ import annotations

import argparse
import os
import shutil

KEPT_SUFFIXES = (".json", ".csv", ".md", ".png", ".yaml")
SKIPPED_FOLDERS = {"checkpoints", "tb"}


def export(source: str, target: str) -> int:
    copied = 0
    for folder, subfolders, files in os.walk(source):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_FOLDERS)
        for name in sorted(files):
            if name.endswith(KEPT_SUFFIXES) and not name.startswith("."):
                destination = os.path.join(target, os.path.relpath(os.path.join(folder, name), source))
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                shutil.copy2(os.path.join(folder, name), destination)
                copied += 1
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the grid's --out folder")
    parser.add_argument("target", help="where to copy the records")
    args = parser.parse_args()
    print(f"copied {export(args.source, args.target)} files to {args.target}")


if __name__ == "__main__":
    main()
