#!/usr/bin/env bash
# Training labels from one method per dataset (runs/labels-single/<task>/<dataset>/<pair>.png|jpg),
# instead of stage 1's per-pair pick among methods whose tone differs from pair to pair. Each
# dataset's method is its best single method on its train pairs by the stage-1 composite
# (runs/labels/<ds>/summary.json, best_single_method): VIFB max (0.701), MEFB Laplacian (0.908),
# Lytro DPRL (0.903, a published method's results in the shared candidates). The medical sets keep
# their stage-2 labels (linked): their best single methods are max for MRI-CT and MRI-PET (the
# stage-1 labels already are max) and average for MRI-SPECT (0.471 against the labels' 0.790).
# On held-out pairs at 400 steps per task a model trained on these labels beat one trained on the
# per-pair labels by 0.057 (bench/results/sequence-vs-joint/, val-400-single).
# Needs runs/labels (scripts/train-default.sh makes it). OUT changes the root.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/labels-single}
data=${FUSIONFM_DATA:-../shared/data}
npm run build --silent
for ds in mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT; do
  [ -f "runs/labels/$ds/summary.json" ] || { echo "single-method-labels.sh: runs/labels/$ds is missing (run scripts/train-default.sh or bench/eval/pseudo-gt.sh first)" >&2; exit 2; }
done
mkdir -p "$out/mif" "$out/mff/Lytro"
for ds in CDDFuse_MRI-CT CDDFuse_MRI-PET CDDFuse_MRI-SPECT; do ln -sfn "$(pwd)/runs/labels/mif/$ds" "$out/mif/$ds"; done
rm -rf "$out/mef/MEFB" "$out/ivf/VIFB"
node dist/src/cli/main.js fuse --method laplacian --data mef/MEFB --split train -o "$out/mef/MEFB"
node dist/src/cli/main.js fuse --method max --data ivf/VIFB --split train -o "$out/ivf/VIFB"
# DPRL's results for the train pairs, linked by pair name
for f in "$data"/mff/Lytro/candidates/DPRL/*; do ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$out/mff/Lytro/"; done
echo "single-method labels in $out"
