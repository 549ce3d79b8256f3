#!/usr/bin/env bash
# Session 22: the multi-focus map sharpened x5 and x20 (the residual kept) on the validation models'
# held-out Lytro pairs, beside run-sharpen100.sh's x10 runs (README.md, "Multi-focus: the map x5 or x20").
set -eu
cd "$(dirname "$0")/../../.."
for seed in 1 2; do
  model=runs/seq400-win-seed$seed/jointemb-choice100/model.safetensors
  for k in 5 20; do
    v=x$k
    out=bench/results/inference-choice/val-sharpen100-seed$seed/$v/mff/Lytro
    mkdir -p "$out"
    FFM_BLEND_SHARPEN=$k node dist/bench/flow/flow-ivf.js --data mff/Lytro --models "$v=$model" --steps 1 --other-steps 1 --held-out 2 \
      --labels runs/labels-single/mff/Lytro --bounds-cache bench/results/bounds/mff-Lytro-val2.json --out "$out" > "$out.log" 2>&1
    echo "seed $seed mff/Lytro $v $(grep "^| FusionFM-$v" "$out/results.md" | head -1 | cut -d'|' -f2,5)"
  done
done
