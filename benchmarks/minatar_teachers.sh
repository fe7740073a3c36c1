#!/usr/bin/env bash
# One MinAtar teacher per game for the issue-16 Table 1/Table 2 grids, into results/minatar-teachers/.
# Resumable: run it again and each teacher goes on from its latest checkpoint; finished ones are skipped.
# Runs in the background at the lowest priority, one torch thread each:
#   nohup benchmarks/minatar_teachers.sh &
#
# Breakout trains on raw observations (--no-normalize): behind VecNormalize its teacher stalled at 6.5 from
# 500k to 3M steps (with gymnax-blines' gamma 0.999 and 5e-4 instead, 5.5 after 900k); raw, it passes 10
# at 1M and ends at 11.6 (published PPO, gymnax-blines: 28 after 10M steps). Its folder is Breakout-v1-raw.
# The grids read the teachers from benchmarks/teachers/minatar/ (copies of the .zip, vecnormalize.pkl and
# config.json of each folder).
cd "$(dirname "$0")/.."
mkdir -p results/minatar-teachers
common="n_steps=128 batch_size=256 n_epochs=4 ent_coef=0.01"
for game in Breakout SpaceInvaders Asterix; do
  out=results/minatar-teachers/$game-v1
  normalize=--normalize
  if [ $game = Breakout ]; then out=$out-raw; normalize=--no-normalize; fi
  if [ -f "$out/config.json" ]; then continue; fi
  if [ -d "$out/checkpoints" ]; then
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --resume "$out" --no-progress >> "$out.log" 2>&1 &
  else
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 nice -n 19 sb3-distill train-teacher --env MinAtar/$game-v1 --steps 3000000 --out "$out" --seed 0 \
      --n-envs 8 --no-progress --checkpoint-every 100000 $normalize --param $common learning_rate=lin_1e-3 >> "$out.log" 2>&1 &
  fi
done
wait
