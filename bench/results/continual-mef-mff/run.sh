#!/usr/bin/env bash
# EWC vs none on a two-task sequence mef -> mff (replay kept), 200 steps per task: does EWC hold back MFF?
# (run from anywhere; needs runs/labels/mef/MEFB and runs/labels/mff/Lytro from `fusionfm pseudo-gt`; scores land in runs/ab/out)
set -u
cd "$(dirname "$0")/../../.."
mkdir -p runs/ab
for lam in 0.01 0; do
  /usr/bin/time -f "ewc $lam wall %e s" node dist/src/cli/main.js train --tasks mef,mff --labels runs/labels --out runs/ab/ewc$lam \
    --steps 200 --batch 4 --crop 64 --seed 1 --ema-decay 0.995 --head blend --grad-loss 0.5 --source-gate 2 \
    --ewc-lambda $lam --fisher-samples 64 --replay-size 256 --replay-ratio 0.25 --checkpoint-every 100 ${RESUME:+--resume} > runs/ab/train-$lam.log 2>&1
  tail -1 runs/ab/train-$lam.log
done
node dist/bench/flow/flow-ivf.js --data mff/Lytro --models ewc0.01=runs/ab/ewc0.01/model.safetensors,ewc0=runs/ab/ewc0/model.safetensors --steps 1 --other-steps 1 --bounds-cache bench/results/bounds/mff-Lytro-test.json --out runs/ab/out/mff/Lytro > runs/ab/eval-lytro.log 2>&1
echo lytro scored
ls runs/ab/ewc0
node dist/bench/flow/flow-ivf.js --data mef/MEFB --models ewc0.01=runs/ab/ewc0.01/model.safetensors,ewc0=runs/ab/ewc0/model.safetensors,aftermef=runs/ab/ewc0/after-1-mef.safetensors --steps 1 --other-steps 1 --bounds-cache bench/results/bounds/mef-MEFB-test.json --out runs/ab/out/mef/MEFB > runs/ab/eval-mefb.log 2>&1
echo mefb scored
