#!/usr/bin/env bash
# The bundled default checkpoint, reproducibly: pseudo labels of every shared dataset's train
# split (bench/eval/pseudo-gt.sh, skipped when runs/labels already holds them), then one model trained
# on the four tasks in sequence (IVF -> MIF -> MEF -> MFF) with EWC + experience replay, seeds
# fixed, copied to checkpoints/default.safetensors. The defaults reproduce the bundled checkpoint:
# 800 steps per task, blend head, EMA 0.995, an edge term of weight 0.5 in the loss (GRAD) and a
# source gate of 2 grey levels during training (GATE: the flow holds still where both sources are
# black); 4,804 s of training at cef48fc on a 2-core software GPU, sharing its cores.
# JOINT=1 trains one model on all four tasks at once (tasks drawn uniformly, 4 x STEPS steps, no
# EWC or replay): on held-out validation pairs at 150 steps per task it beat the sequence on every
# task (bench/results/sequence-vs-joint/).
# TASK_EMB=1 adds the task embedding (--task-embedding), EMA_WARMUP=1 the per-task EMA warm-up (--ema-warmup).
# STEPS (per task), EWC (the EWC weight lambda; 0 = replay only), HEAD (velocity|blend), EMA, GRAD (weight of the loss's edge term) and GATE (a
# source gate in grey levels during training; then SET_GATE is not applied) change the recipe;
# SET_GATE=<levels> (applied only with GATE= empty) sets a gate on a model trained without one
# (scripts/set-source-gate.ts), as the previous bundled velocity model was made. RUN and CKPT
# send the run and its copy elsewhere (an experiment must not replace the bundled file).
# RESUME=1 continues a run exactly (with the same labels: regenerated labels differ in the last
# bits, and --resume refuses them).
# Measured and not bundled: the blend head without edge term or gate (HEAD=blend GRAD= GATE=,
# bench/results/default-model-blend800/) and the velocity head with a gate set after training
# (HEAD=velocity GRAD= GATE= SET_GATE=2, the bundled model before this one,
# bench/results/default-model-velocity800/).
# OBJECTIVE=ddpm (`npm run train:baseline`) trains the diffusion baseline of `fusionfm bench`
# with the very same recipe (its net predicts noise, so with the plain velocity head and no
# gate), into checkpoints/baseline-ddpm.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
sets=(ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT mef/MEFB mff/Lytro)
missing=()
for ds in "${sets[@]}"; do [ -f "runs/labels/$ds/summary.json" ] || missing+=("$ds"); done
[ ${#missing[@]} -gt 0 ] && bash bench/eval/pseudo-gt.sh "${missing[@]}"
objective=${OBJECTIVE:-flow}
run=${RUN:-runs/default}; ckpt=${CKPT:-checkpoints/default.safetensors}; head=${HEAD:-blend}
GRAD=${GRAD-0.5}; GATE=${GATE-2}
set_gate=${SET_GATE:-}
[ -n "$GATE" ] && set_gate=
[ "$objective" = ddpm ] && { run=${RUN:-runs/baseline-ddpm}; ckpt=${CKPT:-checkpoints/baseline-ddpm.safetensors}; head=velocity; GRAD=; GATE=; set_gate=; }
steps=${STEPS:-800}
# the sequence with EWC + replay, or (JOINT=1) all four tasks at once for the same total steps
schedule="--tasks ivf,mif,mef,mff --steps $steps --ewc-lambda ${EWC:-0.01} --fisher-samples 64 --replay-size 256 --replay-ratio 0.25"
[ -n "${JOINT:-}" ] && schedule="--task ivf,mif,mef,mff --steps $((4 * steps))"
node dist/src/cli/main.js train $schedule --labels runs/labels --out "$run" --objective "$objective" \
  --batch 4 --crop 64 --seed 1 --ema-decay "${EMA:-0.995}" --head "$head" \
  ${GRAD:+--grad-loss "$GRAD"} ${GATE:+--source-gate "$GATE"} --checkpoint-every 100 ${RESUME:+--resume} \
  ${TASK_EMB:+--task-embedding} ${EMA_WARMUP:+--ema-warmup}
mkdir -p "$(dirname "$ckpt")"
rm -f "$ckpt.tmp"
if [ -n "$set_gate" ]; then
  node dist/scripts/set-source-gate.js "$run/model.safetensors" "$ckpt.tmp" --levels "$set_gate"
else
  cp "$run/model.safetensors" "$ckpt.tmp"
fi
mv "$ckpt.tmp" "$ckpt"
ls -l "$ckpt"
