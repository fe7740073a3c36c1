#!/usr/bin/env bash
# One MinAtar teacher per game for the issue-16 Table 1/Table 2 grids, into results/minatar-teachers/.
# Resumable: run it again and each teacher goes on from its latest checkpoint; finished ones are skipped.
# Runs in the background at the lowest priority, one torch thread each:
#   nohup benchmarks/minatar_teachers.sh &
cd "$(dirname "$0")/.."
mkdir -p results/minatar-teachers
for game in Breakout SpaceInvaders Asterix; do
  out=results/minatar-teachers/$game-v1
  if [ -f "$out/config.json" ]; then continue; fi
  if [ -d "$out/checkpoints" ]; then
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --resume "$out" --no-progress >> "$out.log" 2>&1 &
  else
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --env MinAtar/$game-v1 --steps 3000000 --out "$out" --seed 0 \
      --n-envs 8 --no-progress --checkpoint-every 100000 \
      --param n_steps=128 batch_size=256 n_epochs=4 learning_rate=lin_1e-3 ent_coef=0.01 >> "$out.log" 2>&1 &
  fi
done
wait
