#!/usr/bin/env bash
# Session 22's check of a harder inference choice (README.md, "A harder choice"): each validation
# model fused on its held-out IVF and MFF pairs with the weight logit x10 (the rule as bundled) and
# x100 (FFM_BLEND_SHARPEN=100, the rule's residual kept as it is: none for IVF, all for MFF).
# Results: bench/results/inference-choice/val-sharpen100-seed<s>/<x10|x100>/<task>/<dataset>/
set -eu
cd "$(dirname "$0")/../../.."
for seed in 1 2; do
  model=runs/seq400-win-seed$seed/jointemb-choice100/model.safetensors
  for ds in ivf/VIFB mff/Lytro; do
    for v in x10 x100; do
      env=()
      [ $v = x100 ] && env=(FFM_BLEND_SHARPEN=100)
      out=bench/results/inference-choice/val-sharpen100-seed$seed/$v/$ds
      mkdir -p "$out"
      env "${env[@]}" node dist/bench/flow/flow-ivf.js --data "$ds" --models "$v=$model" --steps 1 --other-steps 1 --held-out 2 \
        --labels "runs/labels-single/$ds" --bounds-cache "bench/results/bounds/${ds//\//-}-val2.json" --out "$out" > "$out.log" 2>&1
      echo "seed $seed $ds $v $(grep "^| FusionFM-$v" "$out/results.md" | head -1 | cut -d'|' -f2,5)"
    done
  done
done
