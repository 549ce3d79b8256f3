#!/usr/bin/env bash
# What holds the four-task model back: the bundled sequence (IVF -> MIF -> MEF -> MFF, EWC 0.01 +
# replay) against the same sequence without EWC and against one model trained on all four tasks at
# once (same total steps, tasks drawn uniformly), STEPS (default 150) steps of batch 4 per task, the bundled recipe
# otherwise. Two training pairs per dataset are held out (--hold-out 2) and the choice is made on
# them; the test split is scored only for the record.
# Needs runs/labels (fusionfm pseudo-gt, see scripts/train-default.sh). RESUME=1 continues the runs;
# JOINT=1 adds the joint run (a third training job: on 2 cores all three ran at a third of the speed);
# SCORE_ONLY=1 scores the runs that exist.
set -u
cd "$(dirname "$0")/../../.."
out=${OUT:-runs/seq}
steps=${STEPS:-150}
res=bench/results/sequence-vs-joint
mkdir -p "$out"
common="--labels runs/labels --batch 4 --crop 64 --seed 1 --ema-decay 0.995 --head blend --grad-loss 0.5 --source-gate 2 --hold-out 2 --checkpoint-every 100"
seq="--fisher-samples 64 --replay-size 256 --replay-ratio 0.25"
sets="mff/Lytro mef/MEFB ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT"
train() {
  local name=$1; shift
  /usr/bin/time -f "$name training wall %e s" node dist/src/cli/main.js train "$@" $common --out "$out/$name" ${RESUME:+--resume} > "$out/train-$name.log" 2>&1
  tail -1 "$out/train-$name.log"
}
if [ -z "${SCORE_ONLY:-}" ]; then
  train ewc0.01 --tasks ivf,mif,mef,mff --steps "$steps" $seq --ewc-lambda 0.01 &
  train ewc0 --tasks ivf,mif,mef,mff --steps "$steps" $seq --ewc-lambda 0 &
  [ -n "${JOINT:-}" ] && train joint --task ivf,mif,mef,mff --steps $((4 * steps)) &
  wait
fi
models=
for name in ewc0.01 ewc0 joint; do [ -f "$out/$name/model.safetensors" ] && models=${models:+$models,}$name=$out/$name/model.safetensors; done
for ds in $sets; do
  node dist/bench/flow/flow-ivf.js --data "$ds" --models "$models" --steps 1 --other-steps 1 --held-out 2 --labels "runs/labels/$ds" \
    --bounds-cache "bench/results/bounds/${ds//\//-}-val2.json" --out "$res/val/$ds" > "$out/val-${ds//\//-}.log" 2>&1
  echo "validation scored: $ds"
done
node dist/bench/flow/default-model-summary.js --root "$res/val"
