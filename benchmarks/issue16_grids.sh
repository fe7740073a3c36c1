#!/usr/bin/env bash
# The issue-16 grids in two lanes of one worker each, at the lowest priority, one torch thread per run.
# Resumable: run it again and every grid goes on from where it stopped (finished runs are skipped).
# A results/ folder does not outlive a machine, so each grid first takes back what an earlier session
# committed (benchmarks/grid_records.py restore), and a session ends by committing its records (save):
#   nohup benchmarks/issue16_grids.sh &
#   python benchmarks/grid_records.py save results/<grid> docs/results/<grid>
# Then: sb3-distill report results/<grid>; python benchmarks/export_results.py results/<grid> docs/results/<grid>
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
grid() {
  if [ -d "docs/results/$1" ]; then python benchmarks/grid_records.py restore "docs/results/$1" "results/$1"; fi
  nice -n 19 sb3-distill bench "benchmarks/specs/$1.yaml" --out "results/$1" --workers 1 >> "results/$1.log" 2>&1
}
mkdir -p results
(grid minatar) &
(grid imperfect-teachers) &
wait
