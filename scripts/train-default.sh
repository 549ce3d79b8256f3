#!/usr/bin/env bash
# The bundled default checkpoint, reproducibly: pseudo labels of every shared dataset's train
# split (bench/eval/pseudo-gt.sh, skipped when runs/labels already holds them), then one model trained
# on the four tasks in sequence (IVF -> MIF -> MEF -> MFF) with EWC + experience replay, seeds
# fixed, copied to checkpoints/default.safetensors. About 15 min on a 2-core software GPU with nothing else running
# (STEPS=<per task> to change the budget; RESUME=1 to continue an interrupted run).
# OBJECTIVE=ddpm (`npm run train:baseline`) trains the diffusion baseline of `fusionfm bench`
# with the very same recipe, into checkpoints/baseline-ddpm.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
sets=(ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT mef/MEFB mff/Lytro)
missing=()
for ds in "${sets[@]}"; do [ -f "runs/labels/$ds/summary.json" ] || missing+=("$ds"); done
[ ${#missing[@]} -gt 0 ] && bash bench/eval/pseudo-gt.sh "${missing[@]}"
objective=${OBJECTIVE:-flow}
run=runs/default; ckpt=checkpoints/default.safetensors
[ "$objective" = ddpm ] && { run=runs/baseline-ddpm; ckpt=checkpoints/baseline-ddpm.safetensors; }
node dist/src/cli/main.js train --tasks ivf,mif,mef,mff --labels runs/labels --out "$run" --objective "$objective" \
  --steps "${STEPS:-150}" --batch 4 --crop 64 --seed 1 --ema-decay 0.99 \
  --ewc-lambda 0.01 --fisher-samples 64 --replay-size 256 --replay-ratio 0.25 --checkpoint-every 100 ${RESUME:+--resume}
mkdir -p checkpoints
cp "$run/model.safetensors" "$ckpt.tmp"
mv "$ckpt.tmp" "$ckpt"
ls -l "$ckpt"
