#!/usr/bin/env bash
# The IVF coupling ablation: three velocity nets trained identically on VIFB's train-split
# pseudo labels except for the flow source (sum / average / gaussian), then bench/flow/flow-ivf.ts
# on the test split with k = 1, 2, 4, 8 Euler steps. The test split's own pseudo labels are made
# with the train split's refiner setting, for comparison only (never trained on).
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
steps=${STEPS:-300}
labels=${LABELS:-runs/labels/ivf/VIFB}   # e.g. LABELS=runs/labels/ivf/VIFB/stage1 for the stage-1 labels
[ -f runs/labels/ivf/VIFB/summary.json ] || bash bench/eval/pseudo-gt.sh ivf/VIFB
for c in sum average gaussian; do
  [ -f "runs/ivf-$c/model.safetensors" ] && grep -q "\"step\": $steps" "runs/ivf-$c/state.json" && continue
  rm -rf "runs/ivf-$c"
  node dist/src/cli/main.js train --task ivf --data ivf/VIFB --labels "$labels" --out "runs/ivf-$c" \
    --coupling "$c" --steps "$steps" --batch 4 --crop 64 --seed 1 --ema-decay 0.995 --checkpoint-every "$steps" 2>"runs/ivf-$c.log"
done
read -r c alpha < <(node -e "const s=require('./runs/labels/ivf/VIFB/summary.json');console.log(s.refine.c, s.refine.alpha)")
[ -f runs/labels-test/ivf/VIFB/summary.json ] || node dist/src/cli/main.js pseudo-gt --task ivf --data ivf/VIFB --split test \
  --out runs/labels-test/ivf/VIFB --c "$c" --alpha "$alpha" 2>runs/labels-test.log
node dist/bench/flow/flow-ivf.js --models sum=runs/ivf-sum/model.safetensors,average=runs/ivf-average/model.safetensors,gaussian=runs/ivf-gaussian/model.safetensors \
  --labels runs/labels-test/ivf/VIFB --out bench/results/flow-ivf --steps "${K_STEPS:-1,2,4,8}" --other-steps "${K_OTHER:-1}" --pairs "${PAIRS:-0}"
