#!/usr/bin/env bash
# What holds the four-task model back, judged on held-out training pairs. Each run is the bundled
# recipe (blend head, edge term 0.5, source gate 2, EMA 0.995, crop 64, batch 4, seed 1) at STEPS
# (default 150) steps of batch 4 per task; two training pairs per dataset are held out
# (--hold-out 2) and the choice is made on them.
# RUNS picks the runs (default "ewc0.01 ewc0"; all run at once, so give at most two on 2 cores):
#   ewc0.01  the bundled sequence IVF -> MIF -> MEF -> MFF, EWC 0.01 + replay
#   ewc0     the same sequence, replay only
#   taskemb  the bundled sequence with a learned task embedding (--task-embedding)
#   taskemb-emawarm  taskemb with the EMA restarted at each task, its decay warming up (--ema-warmup);
#            the EMA does not feed back into training, so this repeats taskemb's steps exactly
#            (same losses, same raw weights) and differs only in model.safetensors
#   resetopt the bundled sequence with a fresh AdamW at each task's start (--reset-optimizer)
#   finetune the sequence with neither EWC nor replay (plain fine-tuning from task to task)
#   joint    one model trained on all four tasks at once (same total steps, tasks drawn uniformly)
#   jointemb the joint run with the task embedding
#   jointemb-w<N> jointemb with a net of base width N (--width; the default is 16: levels of 16, 32, 64)
#   jointemb-tex<P> jointemb with a texture term of weight P/100 in the loss (--texture-loss): the
#            one-step prediction's Sobel magnitudes against the sharper source's
#   jointemb-choice<P> jointemb with a choice term of weight P/100 on the infrared-visible and
#            multi-focus samples (--choice-loss ivf=P/100,mff=P/100): the blend head's hard choice
#            between the sources (weight logit sharpened, no residual) against the label
#   jointemb-choice<P>-g<G> jointemb-choice<P> with the edge term's weight G/100 instead of 0.5
#            (--grad-loss after the common options: the last one counts)
#   jointemb-blend2 jointemb with the two-band blend head (--head blend2: weight maps for the
#            sources' base and detail apart); jointemb-blend2-choice<P> adds the choice term as above
#   jointemb-pyramid-choice<P> jointemb-choice<P> with the pyramid blend head (--head pyramid: one
#            weight map per Laplacian pyramid level of the sources)
#   jointemb-choice<P>-mix<S>x<B> jointemb-choice<P> with every other step on B crops of S px
#            (--mixed-crop SxB): the net also learns at sizes nearer the tiles it fuses in
#   jointemb-c<S>b<B> jointemb on crops of S px in batches of B (the others: 64 px, 4)
#   jointw   the joint run with tasks drawn by weight (--task-weights; TASK_WEIGHTS, default
#            ivf=1.5,mff=2: more steps for the two tasks furthest below their classical fuser)
#   jointembw the jointemb run with tasks drawn by weight (--task-weights TASK_WEIGHTS, as jointw)
#   jointemb-own<P> jointemb with P percent of each batch's samples on the path to the net's own
#            one-step prediction (--own-path P/100): what a k-step solve queries at t > 0
#   mff150   multi-focus alone, STEPS steps (what MFF reaches without the tasks before it)
# LABELS (default runs/labels) is the training labels' root, e.g. runs/labels-single
# (scripts/single-method-labels.sh); the validation pairs' intensity bias is measured against the
# same labels (before 2026-12-05's jointemb-tex runs: always against runs/labels). KSTEPS (default 1; e.g. 1,2,4) scores each run at k Euler steps, one column each.
# Needs runs/labels (fusionfm pseudo-gt, see scripts/train-default.sh). RESUME=1 continues the runs;
# SCORE_ONLY=1 scores the runs that exist; VAL (default val) names the results folder; SEED (default 1)
# seeds the runs (give another OUT, e.g. OUT=runs/seq-seed2, to keep the seed-1 runs); RAW=1 also
# scores each run's raw optimiser weights (scripts/raw-weights.ts) as <run>-raw beside its EMA.
# EXTRA (e.g. "--init runs/seq400-choice-seed1/jointemb-choice100/model.safetensors --lr 3e-4")
# adds training options to every run: a fine-tuning arm starts from a model file with --init.
# TILE_SIDES (e.g. 96,128,default) scores each run at those net-input tile sides, a row each.
set -u
cd "$(dirname "$0")/../../.."
out=${OUT:-runs/seq}
steps=${STEPS:-150}
runs=${RUNS:-ewc0.01 ewc0}
res=bench/results/sequence-vs-joint
val=$res/${VAL:-val}
mkdir -p "$out"
common="--labels ${LABELS:-runs/labels} --batch 4 --crop 64 --seed ${SEED:-1} --ema-decay 0.995 --head blend --grad-loss 0.5 --source-gate 2 --hold-out 2 --checkpoint-every 100"
seq="--fisher-samples 64 --replay-size 256 --replay-ratio 0.25"
train() {
  local name=$1; shift
  /usr/bin/time -f "$name training wall %e s" node dist/src/cli/main.js train $common "$@" ${EXTRA:-} --out "$out/$name" ${RESUME:+--resume} > "$out/train-$name.log" 2>&1
  tail -1 "$out/train-$name.log"
}
args() {
  case $1 in
    ewc0.01) echo "--tasks ivf,mif,mef,mff --steps $steps $seq --ewc-lambda 0.01" ;;
    ewc0) echo "--tasks ivf,mif,mef,mff --steps $steps $seq --ewc-lambda 0" ;;
    taskemb) echo "--tasks ivf,mif,mef,mff --steps $steps $seq --ewc-lambda 0.01 --task-embedding" ;;
    taskemb-emawarm) echo "--tasks ivf,mif,mef,mff --steps $steps $seq --ewc-lambda 0.01 --task-embedding --ema-warmup" ;;
    resetopt) echo "--tasks ivf,mif,mef,mff --steps $steps $seq --ewc-lambda 0.01 --reset-optimizer" ;;
    finetune) echo "--tasks ivf,mif,mef,mff --steps $steps --ewc-lambda 0 --replay-size 0 --replay-ratio 0" ;;
    joint) echo "--task ivf,mif,mef,mff --steps $((4 * steps))" ;;
    jointemb) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding" ;;
    jointemb-w[0-9]*) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --width ${1#jointemb-w}" ;;
    jointemb-own[0-9]*) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --own-path $(awk "BEGIN { print ${1#jointemb-own} / 100 }")" ;;
    jointemb-tex[0-9]*) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --texture-loss $(awk "BEGIN { print ${1#jointemb-tex} / 100 }")" ;;
    jointemb-choice[0-9]*-mix[0-9]*x[0-9]*) local cm=${1#jointemb-choice} w; w=$(awk "BEGIN { print ${cm%-mix*} / 100 }"); echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --choice-loss ivf=$w,mff=$w --mixed-crop ${cm#*-mix}" ;;
    jointemb-choice[0-9]*-g[0-9]*) local cg=${1#jointemb-choice} w g; w=$(awk "BEGIN { print ${cg%-g*} / 100 }"); g=$(awk "BEGIN { print ${cg#*-g} / 100 }"); echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --choice-loss ivf=$w,mff=$w --grad-loss $g" ;;
    jointemb-choice[0-9]*) local w; w=$(awk "BEGIN { print ${1#jointemb-choice} / 100 }"); echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --choice-loss ivf=$w,mff=$w" ;;
    jointemb-blend2) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --head blend2" ;;
    jointemb-blend2-choice[0-9]*) local w; w=$(awk "BEGIN { print ${1#jointemb-blend2-choice} / 100 }"); echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --head blend2 --choice-loss ivf=$w,mff=$w" ;;
    jointemb-pyramid-choice[0-9]*) local w; w=$(awk "BEGIN { print ${1#jointemb-pyramid-choice} / 100 }"); echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --head pyramid --choice-loss ivf=$w,mff=$w" ;;
    jointemb-c[0-9]*b[0-9]*) local cb=${1#jointemb-c}; echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --crop ${cb%b*} --batch ${cb#*b}" ;;
    jointembw) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-embedding --task-weights ${TASK_WEIGHTS:-ivf=1.5,mff=2}" ;;
    jointw) echo "--task ivf,mif,mef,mff --steps $((4 * steps)) --task-weights ${TASK_WEIGHTS:-ivf=1.5,mff=2}" ;;
    mff150) echo "--task mff --steps $steps" ;;
    *) echo "run.sh: unknown run '$1' in RUNS (expected ewc0.01, ewc0, taskemb, taskemb-emawarm, resetopt, finetune, joint, jointemb, jointemb-w<N>, jointemb-own<P>, jointemb-tex<P>, jointemb-choice<P>, jointemb-choice<P>-g<G>, jointemb-choice<P>-mix<S>x<B>, jointemb-blend2, jointemb-blend2-choice<P>, jointemb-pyramid-choice<P>, jointemb-c<S>b<B>, jointw, jointembw or mff150)" >&2; exit 2 ;;
  esac
}
if [ -z "${SCORE_ONLY:-}" ]; then
  for name in $runs; do a=$(args "$name") || exit 2; train "$name" $a & done
  wait
fi
models=
for name in $runs; do
  [ -f "$out/$name/model.safetensors" ] || continue
  models=${models:+$models,}$name=$out/$name/model.safetensors
  if [ -n "${RAW:-}" ]; then
    rm -f "$out/$name-raw.safetensors"
    node dist/scripts/raw-weights.js "$out/$name" "$out/$name-raw.safetensors" && models=$models,$name-raw=$out/$name-raw.safetensors
  fi
done
sets="mff/Lytro mef/MEFB ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT"
[ "$runs" = mff150 ] && sets=mff/Lytro
for ds in $sets; do
  node dist/bench/flow/flow-ivf.js --data "$ds" --models "$models" --steps "${KSTEPS:-1}" --other-steps 1 --held-out 2 --labels "${LABELS:-runs/labels}/$ds" \
    --bounds-cache "bench/results/bounds/${ds//\//-}-val2.json" --out "$val/$ds" ${TILE_SIDES:+--tile-sides "$TILE_SIDES"} > "$out/val-${ds//\//-}.log" 2>&1
  echo "validation scored: $ds"
done
node dist/bench/flow/default-model-summary.js --root "$val"
