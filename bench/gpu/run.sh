#!/usr/bin/env bash
# The benchmarks that want an NVIDIA GPU, as one command on the device machine (see
# bench/results/README.md). Prepare here with `bash bench/gpu/bundle.sh`, then run there, with
# .gpu, .gpudata and dist carried:   bash bench/gpu/run.sh
# Stages (STAGES=speed,kernels,train-ivf,flow-ivf,continual by default; diffusion on request), each bounded in time so
# that the whole stays inside one device call:
#   speed     flow-speed: training samples/s at 128x128, 640x480 one-step fusion in tiles and in one piece;
#             dispatch: JavaScript microseconds per recorded dispatch and dispatches per evaluation
#   kernels   our kernels and U-Net against TF.js-WebGPU on the same adapter (alone)
#   train-ivf the IVF coupling models (sum / average / gaussian), S_IVF steps each
#   flow-ivf  the VIFB test-split bench of those models (or of MODELS=dir/ivf-<coupling>.safetensors)
#   continual the continual study's variants with the shipped net, one process per variant and
#             seed, steps per task sized to the time left by a probe (see the stage), merged
#   study     the training study (bench/flow/study.ts): STUDY_TASK (ivf), STUDY_CONFIGS (config list,
#             default the three nets at 8k steps), STUDY_EVALS; resumable, so a second call goes on
#   diffusion fusionfm bench (FusionFM k = 1, 2, 4 against the DDPM baseline with DDIM S = 1..100,
#             256x256 and 640x480) on VIFB test crops, scored with the pool bounds computed here
#             (.gpudata/diffusion-ivf-bounds.json); DIFF_ARGS adds or overrides options
#             (default --pairs 3 --rounds 1: about 3 min on the H100 by the 640x480 step time)
# Everything lands in $OUT (or runs/gpu): results.tar (JSON, markdown, logs), models.tar.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-runs/gpu}
res=runs/gpu-results
mkdir -p "$out" "$res"
R="bash .gpu/run.sh"
export FUSIONFM_DATA=$PWD/.gpudata/data
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
[ -f .gpu/commit ] && export FUSIONFM_COMMIT="$(cat .gpu/commit)"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$res/stages.log"; }
pack() { tar -C runs -cf "$out/results.tar" gpu-results; }
trap pack EXIT
nvidia-smi -L > "$res/device.txt" 2>&1 || true
# the bundle keeps the Vulkan loader libraries compressed (bench/gpu/bundle.sh)
[ -f .gpu/libs.tar.xz ] && tar -C .gpu -xJf .gpu/libs.tar.xz
stages=${STAGES:-speed,kernels,train-ivf,flow-ivf,continual}
has() { [[ ",$stages," == *",$1,"* ]]; }
stamp "unpack ($stages)"; $R true

if has speed; then
  stamp "flow-speed"; timeout 90 $R node dist/bench/flow/flow-speed.js --checkpoint checkpoints/default.safetensors --out "$res" > "$res/flow-speed.log" 2>&1
  # JavaScript per recorded dispatch: on a fast GPU it, not the kernels, bounds small evaluations
  stamp "dispatch"; timeout 60 $R node dist/bench/engine/dispatch.js --out "$res/dispatch.json" > "$res/dispatch.log" 2>&1
fi
if has kernels; then
  stamp "kernels"; timeout 90 $R node dist/bench/engine/kernels.js --out "$res/kernels.json" > "$res/kernels.log" 2>&1
fi
pack

# IVF coupling models. On the H100 a training step of the default net is compute-bound in our
# kernels (235 ms at batch 4, 128x128): parallel processes share the GPU, they do not add to it.
models=${MODELS:-.gpudata/models}
if has train-ivf; then
  s_ivf=${S_IVF:-300}
  stamp "train-ivf: $s_ivf steps (batch 8, crop 128)"
  for c in sum average gaussian; do
    timeout ${TRAIN_S:-200} $R node dist/src/cli/main.js train --task ivf --data ivf/VIFB --labels .gpudata/labels/ivf/VIFB \
      --out "runs/ivf-$c" --coupling "$c" --steps "$s_ivf" --batch 8 --crop 128 --seed 1 --ema-decay 0.999 \
      --checkpoint-every "$s_ivf" > "$res/train-ivf-$c.log" 2>&1 &
  done
  wait
  models=runs
  for c in sum average gaussian; do cp "runs/ivf-$c/model.safetensors" "runs/ivf-$c.safetensors"; done
  tar -C runs -cf "$out/models.tar" ivf-sum.safetensors ivf-average.safetensors ivf-gaussian.safetensors 2>/dev/null
fi

if has study; then
  task=${STUDY_TASK:-ivf}
  stamp "study ($task)"
  timeout ${STUDY_S:-420} $R node dist/bench/flow/study.js --task "$task" --labels .gpudata/labels --bounds-dir .gpudata/bounds \
    --configs "${STUDY_CONFIGS:-default:net=default+steps=8000,small:net=small+steps=8000,tiny:net=tiny+steps=8000}" \
    --evals "${STUDY_EVALS:-250,500,1000,2000,4000,8000}" --runs "runs/study-$task" --out "$res/study-$task" --resume > "$res/study-$task.log" 2>&1
  tar -C runs -cf "$out/study-state.tar" "study-$task" 2>/dev/null
  pack
fi

if has flow-ivf; then
  stamp "flow-ivf (models from $models)"
  timeout ${IVF_S:-200} $R node dist/bench/flow/flow-ivf.js --models sum=$models/ivf-sum.safetensors,average=$models/ivf-average.safetensors,gaussian=$models/ivf-gaussian.safetensors \
    --bounds-cache .gpudata/vifb-test-bounds.json --out "$res/flow-ivf" --steps 1,2,4,8 --other-steps ${OTHER:-1,8} > "$res/flow-ivf.log" 2>&1
  pack
fi

# The continual study, one process per variant and seed, side by side. Its steps per task are
# sized to the time left: a probe (every process at once, PROBE_S seconds of training and one
# evaluation row each, bench/continual/continual.ts --probe-seconds) measures the step and evaluation
# times under the run's own contention, and bench/gpu/continual-steps.ts turns them into the
# largest step count (at most S_MAX) that ends before CONT_END seconds after the start.
# S_TASK fixes the count instead. NET (default: the shipped net), SEEDS and VARIANTS
# (';'-separated names) choose the runs; VAL_PAIRS=2 adds the validation scores lambda is chosen by.
if has continual; then
  IFS=';' read -r -a variants <<< "${VARIANTS:-single;fine-tuning;EWC;replay;EWC + replay;EWC + replay, lambda 0.01;EWC + replay, lambda 0.001}"
  read -r -a seeds <<< "${SEEDS:-1}"
  # VAL_PAIRS=2 holds two training pairs per task out and scores them too, for choosing lambda (bench/continual/continual-select.ts)
  C="node dist/bench/continual/continual.js --labels .gpudata/labels --eval-cache .gpudata/continual-eval.json --net ${NET:-default} --batch 4 --crop 48${VAL_PAIRS:+ --val-pairs $VAL_PAIRS}"
  mkdir -p "$res/continual"
  s_task=${S_TASK:-}
  if [ -z "$s_task" ]; then
    stamp "continual probe: ${#variants[@]} variants x ${#seeds[@]} seeds, net ${NET:-default}"
    for s in "${seeds[@]}"; do for i in "${!variants[@]}"; do
      timeout 150 $R $C --seed "$s" --only "${variants[$i]}" --probe-seconds "${PROBE_S:-15}" > "$res/continual/probe-s$s-$i.json" 2> "$res/continual/probe-s$s-$i.log" &
    done; done
    wait
    left=$(( ${CONT_END:-480} - ($(date +%s) - t0) ))
    s_task=$($R node dist/bench/gpu/continual-steps.js --seconds "$left" --max "${S_MAX:-800}" "$res"/continual/probe-*.json 2>> "$res/stages.log")
  fi
  if [ -n "$s_task" ] && [ "$s_task" -gt 0 ]; then
    stamp "continual: $s_task steps per task"
    for s in "${seeds[@]}"; do for i in "${!variants[@]}"; do
      timeout $(( ${CONT_END:-480} - ($(date +%s) - t0) + 10 )) $R $C --seed "$s" --steps "$s_task" --only "${variants[$i]}" \
        --out "$res/continual/s$s-part$i" > "$res/continual/s$s-part$i.log" 2>&1 &
    done; done
    wait
    parts=(); for d in "$res"/continual/s*-part*; do [ -f "$d/results.json" ] && parts+=("$d"); done
    stamp "continual: ${#parts[@]} runs finished; merging"
    [ ${#parts[@]} -gt 0 ] && $R node dist/bench/continual/continual-merge.js --out "$res/continual/merged" "${parts[@]}" > "$res/continual-merge.log" 2>&1
  else
    stamp "continual: no step count fits the time left; the probes are the result"
  fi
  pack
fi
if has diffusion; then
  stamp "diffusion: FusionFM vs DDIM"
  timeout ${DIFF_S:-360} $R node dist/src/cli/main.js bench --task ivf --data ivf/VIFB --bounds-cache .gpudata/diffusion-ivf-bounds.json \
    --out "$res/diffusion-ivf" --pairs 3 --rounds 1 ${DIFF_ARGS:-} > "$res/diffusion-ivf.log" 2>&1
  pack
fi
stamp "done"
