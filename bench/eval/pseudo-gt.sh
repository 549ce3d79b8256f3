#!/usr/bin/env bash
# Pseudo ground truth (stage 1 selection + stage 2 Fusion Refiner) on the train split of every
# shared dataset, with the c x alpha sweep; the sweep's best setting writes the labels.
# Labels go to runs/labels/<task>/<dataset>/ (what `fusionfm train --labels` reads); the
# tables and reports are copied to bench/results/pseudo-gt/<task>-<dataset>/.
# Usage: bash bench/eval/pseudo-gt.sh [dataset ...]   (default: all six; two run at a time)
#        SWEEP_C=0.3,0.7 SWEEP_ALPHA=0.25,1 bash bench/eval/pseudo-gt.sh ...   (a smaller grid)
set -euo pipefail
cd "$(dirname "$0")/../.."
cli="node dist/src/cli/main.js"
sets=("$@")
[ ${#sets[@]} -eq 0 ] && sets=(ivf/VIFB mef/MEFB mff/Lytro mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT)
one() {
  local ds=$1 task=${1%%/*} name
  name=$(echo "$ds" | tr '/' '-')
  $cli pseudo-gt --task "$task" --data "$ds" --split train --out "runs/labels/$ds" --overwrite \
    --sweep-c "${SWEEP_C:-0.3,0.5,0.7,0.9}" --sweep-alpha "${SWEEP_ALPHA:-0.25,0.5,1,2,4}" 2>"runs/labels/$name.log"
  mkdir -p "bench/results/pseudo-gt/$name"
  cp runs/labels/"$ds"/{summary.json,sweep.csv,evaluation.csv,scores.csv,skipped.csv,weights.json,report.html} "bench/results/pseudo-gt/$name/"
}
mkdir -p runs/labels
for ((i = 0; i < ${#sets[@]}; i += 2)); do
  one "${sets[i]}" &
  [ $((i + 1)) -lt ${#sets[@]} ] && one "${sets[i + 1]}" &
  wait
done
node dist/bench/eval/pseudo-gt-table.js > bench/results/pseudo-gt/summary.md
cat bench/results/pseudo-gt/summary.md
