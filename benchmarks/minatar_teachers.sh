#!/usr/bin/env bash
# One MinAtar teacher per game for the issue-16 Table 1/Table 2 grids, into results/minatar-teachers/.
# Resumable: run it again and each teacher goes on from its latest checkpoint; finished ones are skipped.
# Runs in the background at the lowest priority, one torch thread each:
#   nohup benchmarks/minatar_teachers.sh &
#
# Breakout uses gymnax-blines' discount (0.999) and constant 5e-4 learning rate: with gamma 0.99 and
# lin_1e-3 its teacher stalled at 6.5 from 500k to 3M steps (published PPO: 28).
cd "$(dirname "$0")/.."
mkdir -p results/minatar-teachers
common="n_steps=128 batch_size=256 n_epochs=4 ent_coef=0.01"
for game in Breakout SpaceInvaders Asterix; do
  out=results/minatar-teachers/$game-v1
  case $game in
    Breakout) params="$common gamma=0.999 learning_rate=0.0005" ;;
    *) params="$common learning_rate=lin_1e-3" ;;
  esac
  if [ -f "$out/config.json" ]; then continue; fi
  if [ -d "$out/checkpoints" ]; then
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --resume "$out" --no-progress >> "$out.log" 2>&1 &
  else
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --env MinAtar/$game-v1 --steps 3000000 --out "$out" --seed 0 \
      --n-envs 8 --no-progress --checkpoint-every 100000 --param $params >> "$out.log" 2>&1 &
  fi
done
wait
