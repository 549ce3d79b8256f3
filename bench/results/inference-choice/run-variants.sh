#!/usr/bin/env bash
# One model on one dataset's held-out validation pairs (fusionfm train --hold-out 2), fused with
# its blend head as trained and under the diagnostic knobs of src/fusion/flow/model.ts
# (FFM_BLEND_SHARPEN: the weight logit times k; FFM_BLEND_RESIDUAL: the residual times a), the
# inference choice rule itself off (FFM_BLEND_CHOICE=0) so that "base" is the soft head.
#   bash bench/results/inference-choice/run-variants.sh <model.safetensors> <task/dataset> <tag> [variants]
# variants (default "base sharp10-nores"): base, sharp10, nores, sharp10-nores, res150 (the residual x1.5).
# Results: bench/results/inference-choice/val-<tag>/<variant>/<task>/<dataset>/results.md
set -u
cd "$(dirname "$0")/../../.."
model=$1; ds=$2; tag=$3
for v in ${4:-base sharp10-nores}; do
  env=(FFM_BLEND_CHOICE=0)
  case $v in
    base) ;;
    sharp10) env+=(FFM_BLEND_SHARPEN=10) ;;
    nores) env+=(FFM_BLEND_RESIDUAL=0) ;;
    sharp10-nores) env+=(FFM_BLEND_SHARPEN=10 FFM_BLEND_RESIDUAL=0) ;;
    res150) env+=(FFM_BLEND_RESIDUAL=1.5) ;;
    *) echo "run-variants.sh: unknown variant '$v' (expected base, sharp10, nores, sharp10-nores or res150)" >&2; exit 2 ;;
  esac
  out=bench/results/inference-choice/val-$tag/$v/$ds
  mkdir -p "$out"
  env "${env[@]}" node dist/bench/flow/flow-ivf.js --data "$ds" --models "$v=$model" --steps 1 --other-steps 1 --held-out 2 \
    --labels "runs/labels-single/$ds" --bounds-cache "bench/results/bounds/${ds//\//-}-val2.json" --out "$out" > "$out.log" 2>&1 || { echo "failed: see $out.log" >&2; exit 1; }
  echo "$tag $ds $(grep "^| FusionFM-$v" "$out/results.md" | head -1 | cut -d'|' -f2,5)"
done
