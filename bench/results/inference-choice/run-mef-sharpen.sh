#!/usr/bin/env bash
# Session 22: multi-exposure's soft map (x1) against the map x2 (residual kept) on the validation
# models' held-out MEFB pairs (README.md, "Multi-exposure: the map x2"; KS="0.5": the x0.5 check).
set -eu
cd "$(dirname "$0")/../../.."
for seed in 1 2; do
  model=runs/seq400-win-seed$seed/jointemb-choice100/model.safetensors
  for k in ${KS:-1 2}; do
    v=x$k
    out=bench/results/inference-choice/val-sharpen100-seed$seed/$v/mef/MEFB
    mkdir -p "$out"
    env=()
    [ $k != 1 ] && env=(FFM_BLEND_SHARPEN=$k)
    env "${env[@]}" node dist/bench/flow/flow-ivf.js --data mef/MEFB --models "$v=$model" --steps 1 --other-steps 1 --held-out 2 \
      --labels runs/labels-single/mef/MEFB --bounds-cache bench/results/bounds/mef-MEFB-val2.json --out "$out" > "$out.log" 2>&1
    echo "seed $seed mef/MEFB $v $(grep "^| FusionFM-$v" "$out/results.md" | head -1 | cut -d'|' -f2,5)"
  done
done
