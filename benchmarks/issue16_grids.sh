#!/usr/bin/env bash
# The issue-16 grids in two lanes of one worker each, at the lowest priority, one torch thread per run.
# Resumable: run it again and every grid goes on from where it stopped (finished runs are skipped).
#   nohup benchmarks/issue16_grids.sh &
# Then: sb3-distill report results/<grid>; python benchmarks/export_results.py results/<grid> docs/results/<grid>
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
grid() { nice -n 19 sb3-distill bench "benchmarks/specs/$1.yaml" --out "results/$1" --workers 1 >> "results/$1.log" 2>&1; }
mkdir -p results
(grid sac-raw; grid td3-raw; grid minatar) &
(grid imperfect-teachers) &
wait
