#!/usr/bin/env bash
# The bundled default checkpoint, reproducibly: pseudo labels of every shared dataset's train
# split (bench/eval/pseudo-gt.sh, skipped when runs/labels already holds them), then the
# single-method labels trained on (scripts/single-method-labels.sh -> runs/labels-single: VIFB
# max, MEFB Laplacian, Lytro DPRL, the medical sets' stage-2 labels; skipped when present), then
# one model trained on the four tasks at once (tasks drawn uniformly per batch sample, 4 x STEPS
# steps), seeds fixed, copied to checkpoints/default.safetensors. The defaults reproduce the
# bundled checkpoint: 1,600 steps per task (6,400), blend head, a task embedding (the net is told
# which task it fuses), EMA 0.995, an edge term of weight 0.5 in the loss (GRAD) and a source gate
# of 2 grey levels during training (GATE: the flow holds still where both sources are black),
# seed 1, and a choice term on the infrared-visible and multi-focus samples (CHOICE, default
# ivf=1,mff=1: the blend head's hard choice between the sources against the label, so that its
# weight map is a selection worth sharpening at inference); 5,256 s of training (started at
# 6616682) on a 2-core software GPU, its first 20 minutes beside other jobs.
# The choice term: held-out multi-focus 0.803/0.776 -> 0.864/0.829 fused by the sharpened map
# (two seeds at 400 steps per task, bench/results/sequence-vs-joint/val-400-single-choice-seed*),
# test mean 0.830 -> 0.835 at 1,600 (bench/results/default-model*/). CHOICE= (empty) trains the
# previous bundled recipe (checkpoints/experiments/default-jointemb-single1600.safetensors,
# 5,508 s, started at 984a229, resumed once at 5d669fe).
# Single-method labels beat stage 1's per-pair picks on held-out pairs at 400 steps per task
# (mean 0.810 vs 0.753, bench/results/sequence-vs-joint/val-400-single/) and on the test splits
# at 1,600 (mean task composite 0.824 vs 0.790, bench/results/default-model*/).
# LABELS=runs/labels trains the previous bundled recipe, on the per-pair labels
# (checkpoints/experiments/default-jointemb1600.safetensors, 6,234 s at 216d3b4).
# Joint training beat the sequence on every task on held-out validation pairs at 150 steps per
# task (bench/results/sequence-vs-joint/); the task embedding beat the joint run without it on
# held-out pairs at 400 steps per task (mean 0.753 vs 0.724, sequence-vs-joint/val-400/) and on
# the test splits at 1,600 (mean task composite 0.790 vs 0.758, bench/results/default-model*/).
# TASK_EMB= (empty) trains the previous bundled recipe, the joint run without the embedding
# (checkpoints/experiments/default-joint1600.safetensors, 8,146 s at 1f57079).
# SEQUENCE=1 trains the previous bundled recipe instead: IVF -> MIF -> MEF -> MFF in sequence
# with EWC (EWC, the lambda; default 0.01, 0 = replay only) + experience replay
# (checkpoints/experiments/blend-grad-gate800.safetensors, 4,804 s at cef48fc).
# TASK_WEIGHTS=ivf=1.5,mff=2 draws the joint run's tasks by weight (--task-weights).
# EMA_WARMUP=1 adds the per-task EMA warm-up (--ema-warmup). WIDTH=<channels> sets the net's
# base width (--width; default 16: levels of 16, 32, 64 channels). OWN_PATH=<p> puts a fraction p
# of each batch's samples on the path to the net's own one-step prediction (--own-path).
# TEXTURE=<w> adds the texture term of weight w to the loss (--texture-loss: the one-step
# prediction's Sobel magnitudes against the sharper source's). CHOICE=<task=w,...> sets the
# choice term's tasks and weights (--choice-loss; empty: none).
# STEPS (per task), HEAD (velocity|blend), EMA, GRAD (weight of the loss's edge term) and GATE (a
# source gate in grey levels during training; then SET_GATE is not applied) change the recipe;
# SET_GATE=<levels> (applied only with GATE= empty) sets a gate on a model trained without one
# (scripts/set-source-gate.ts), as the previous bundled velocity model was made. RUN and CKPT
# send the run and its copy elsewhere (an experiment must not replace the bundled file).
# LABELS=<root> trains on another labels root (default runs/labels-single; runs/labels is
# always made first, as the single-method labels' medical sets link it).
# RESUME=1 continues a run exactly (with the same labels: regenerated labels differ in the last
# bits, and --resume refuses them).
# Measured and not bundled: the blend head without edge term or gate (HEAD=blend GRAD= GATE=,
# bench/results/default-model-blend800/) and the velocity head with a gate set after training
# (HEAD=velocity GRAD= GATE= SET_GATE=2, bench/results/default-model-velocity800/), both in
# sequence.
# OBJECTIVE=ddpm (`npm run train:baseline`) trains the diffusion baseline of `fusionfm bench`
# with the bundled recipe as far as a noise-predicting net allows (the plain velocity head, no
# edge term, no gate; no task embedding, as its run began before the embedding was bundled), on
# the same labels, crops, batches and steps, into checkpoints/baseline-ddpm.safetensors. The bundled baseline is trained on the single-method
# labels, the default now: 4,400 steps of this command (8e7c5fb, 5,079 s; its state was lost with
# runs/ between sessions, its step-4,400 weights kept as
# checkpoints/experiments/baseline-ddpm-single-partial-step4400.safetensors), then 2,000 steps of
# `fusionfm train --task ivf,mif,mef,mff --steps 2000 --labels runs/labels-single --objective ddpm
# --batch 4 --crop 64 --seed 2 --lr 2.29e-4 --ema-decay 0.995 --head velocity --init <that file>`
# (a fresh AdamW at the cosine schedule's learning rate of step 4,400, decaying to 0; 2,830 s at
# 6c2e104 beside other jobs). The previous baseline, on the per-pair labels (LABELS=runs/labels
# npm run train:baseline), is checkpoints/experiments/baseline-ddpm-joint1600.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
sets=(ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT mef/MEFB mff/Lytro)
labels=${LABELS:-runs/labels-single}
# a dataset needs its stage-1/2 labels unless the labels trained on are already there (the
# single-method labels of VIFB, MEFB and Lytro are made from the published results, not from them)
missing=()
for ds in "${sets[@]}"; do
  [ -f "runs/labels/$ds/summary.json" ] && continue
  [ "$labels" = runs/labels-single ] && [ -d "$labels/$ds" ] && [ -n "$(ls "$labels/$ds" 2>/dev/null)" ] && continue
  missing+=("$ds")
done
[ ${#missing[@]} -gt 0 ] && bash bench/eval/pseudo-gt.sh "${missing[@]}"
if [ "$labels" = runs/labels-single ]; then
  for ds in ivf/VIFB mef/MEFB mff/Lytro; do
    [ -d "$labels/$ds" ] || { bash scripts/single-method-labels.sh; break; }
  done
fi
objective=${OBJECTIVE:-flow}
run=${RUN:-runs/default}; ckpt=${CKPT:-checkpoints/default.safetensors}; head=${HEAD:-blend}
GRAD=${GRAD-0.5}; GATE=${GATE-2}
set_gate=${SET_GATE:-}
[ -n "$GATE" ] && set_gate=
[ "$objective" = ddpm ] && { run=${RUN:-runs/baseline-ddpm}; ckpt=${CKPT:-checkpoints/baseline-ddpm.safetensors}; head=velocity; GRAD=; GATE=; set_gate=; }
task_emb=${TASK_EMB-1}
[ "$objective" = ddpm ] && task_emb=
# the choice term trains a blend head's weight map: none for the velocity head or the DDPM baseline
choice=${CHOICE-ivf=1,mff=1}
{ [ "$objective" = ddpm ] || [ "$head" = velocity ]; } && choice=
steps=${STEPS:-1600}
# all four tasks at once, or (SEQUENCE=1) in sequence with EWC + replay for the same total steps
[ -n "${JOINT:-}" ] && echo "train-default.sh: note: JOINT=1 is the default now (SEQUENCE=1 trains the sequence)" >&2
if [ -n "${SEQUENCE:-}" ]; then
  [ -n "${TASK_WEIGHTS:-}" ] && { echo "train-default.sh: TASK_WEIGHTS applies to the joint run, not to SEQUENCE=1" >&2; exit 2; }
  schedule="--tasks ivf,mif,mef,mff --steps $steps --ewc-lambda ${EWC:-0.01} --fisher-samples 64 --replay-size 256 --replay-ratio 0.25"
else
  [ -n "${EWC:-}" ] && { echo "train-default.sh: EWC=$EWC applies to SEQUENCE=1 (the joint run has no EWC)" >&2; exit 2; }
  schedule="--task ivf,mif,mef,mff --steps $((4 * steps))${TASK_WEIGHTS:+ --task-weights $TASK_WEIGHTS}"
fi
# what the main run and the fine-tuning stage below share (--init needs the same net)
recipe=(--batch 4 --crop 64 --ema-decay "${EMA:-0.995}" --head "$head" --checkpoint-every 100)
[ -n "$GRAD" ] && recipe+=(--grad-loss "$GRAD")
[ -n "$GATE" ] && recipe+=(--source-gate "$GATE")
[ -n "$task_emb" ] && recipe+=(--task-embedding)
[ -n "${WIDTH:-}" ] && recipe+=(--width "$WIDTH")
node dist/src/cli/main.js train $schedule --labels "$labels" --out "$run" --objective "$objective" \
  --seed 1 "${recipe[@]}" ${RESUME:+--resume} \
  ${EMA_WARMUP:+--ema-warmup} ${OWN_PATH:+--own-path "$OWN_PATH"} ${TEXTURE:+--texture-loss "$TEXTURE"} ${choice:+--choice-loss "$choice"}
# an optional fine-tuning stage (flow models): FINETUNE_STEPS per task (default 0: none) from the
# model above, with a fresh AdamW at lr 3e-4 (warm-up 100, cosine to 0) and seed 3, on
# runs/labels-blend (scripts/blend-method-labels.sh: MEFB's labels averaged with FMMEF's results).
# FINETUNE_STEPS=400 RUN=runs/default-single CKPT=checkpoints/experiments/default-blend-ft.safetensors
# made that experiment (3,014 s beside another training job, session 9): not bundled, as its test
# scores did not confirm the held-out pairs' multi-exposure gain (bench/results/default-model-blend-ft/).
final=$run
ft_steps=${FINETUNE_STEPS:-0}
if [ "$objective" = flow ] && [ "$ft_steps" -gt 0 ]; then
  [ -d runs/labels-blend/mef/MEFB ] || bash scripts/blend-method-labels.sh
  final=$run-blend-ft
  node dist/src/cli/main.js train --task ivf,mif,mef,mff --steps $((4 * ft_steps)) --labels runs/labels-blend --out "$final" --init "$run/model.safetensors" \
    --seed 3 --lr 3e-4 "${recipe[@]}" ${choice:+--choice-loss "$choice"} $([ -n "${RESUME:-}" ] && [ -f "$final/state.safetensors" ] && echo --resume)
fi
mkdir -p "$(dirname "$ckpt")"
rm -f "$ckpt.tmp"
if [ -n "$set_gate" ]; then
  node dist/scripts/set-source-gate.js "$final/model.safetensors" "$ckpt.tmp" --levels "$set_gate"
else
  cp "$final/model.safetensors" "$ckpt.tmp"
fi
mv "$ckpt.tmp" "$ckpt"
ls -l "$ckpt"
