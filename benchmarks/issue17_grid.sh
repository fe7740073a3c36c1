#!/usr/bin/env bash
# The issue-17 grid (blind HalfCheetah) at the lowest priority, one torch thread per run, WORKERS workers
# (default 1). Resumable as benchmarks/issue16_grids.sh is: it first takes back the records an earlier
# session committed, and a session ends with
#   python benchmarks/grid_records.py save results/blind-halfcheetah docs/results/blind-halfcheetah
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p results
if [ -d docs/results/blind-halfcheetah ]; then
  python benchmarks/grid_records.py restore docs/results/blind-halfcheetah results/blind-halfcheetah || exit 1
fi
nice -n 19 sb3-distill bench benchmarks/specs/blind-halfcheetah.yaml --out results/blind-halfcheetah \
  --workers "${WORKERS:-1}" >> results/blind-halfcheetah.log 2>&1
