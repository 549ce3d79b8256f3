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
# Needs runs/labels (scripts/train-default.sh makes it). OUT changes the root. MEF_FUSER (default
# laplacian) names the classical fuser of MEFB's labels: `exposure` (src/fusion/classical/exposure.ts)
# is the best single method on MEFB's train pairs once it is in the pool (stage-1 composite 0.920 vs
# the Laplacian's 0.907, bench/results/exposure-fuser/).
# SPLIT=test makes the same labels for the test pairs (default root runs/labels-test-single; the
# medical sets link runs/labels-test, from `fusionfm pseudo-gt --split test`): what
# bench/flow/default-model.sh measures a single-label model's intensity bias against (TEST_LABELS).
set -euo pipefail
cd "$(dirname "$0")/.."
split=${SPLIT:-train}
case "$split" in
  train) out=${OUT:-runs/labels-single}; mif_labels=runs/labels ;;
  test) out=${OUT:-runs/labels-test-single}; mif_labels=runs/labels-test ;;
  *) echo "single-method-labels.sh: SPLIT must be train or test, got '$split'" >&2; exit 2 ;;
esac
data=${FUSIONFM_DATA:-../shared/data}
npm run build --silent
for ds in mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT; do
  [ -d "$mif_labels/$ds" ] || { echo "single-method-labels.sh: $mif_labels/$ds is missing (run scripts/train-default.sh or bench/eval/pseudo-gt.sh first; for the test split, fusionfm pseudo-gt --split test)" >&2; exit 2; }
done
mkdir -p "$out/mif"
for ds in CDDFuse_MRI-CT CDDFuse_MRI-PET CDDFuse_MRI-SPECT; do ln -sfn "$(pwd)/$mif_labels/mif/$ds" "$out/mif/$ds"; done
rm -rf "$out/mef/MEFB" "$out/ivf/VIFB" "$out/mff/Lytro"
mkdir -p "$out/mff/Lytro"
node dist/src/cli/main.js fuse --method "${MEF_FUSER:-laplacian}" --data mef/MEFB --split "$split" -o "$out/mef/MEFB"
node dist/src/cli/main.js fuse --method max --data ivf/VIFB --split "$split" -o "$out/ivf/VIFB"
# DPRL's results for this split's pairs, linked by pair name
pairs=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(s.splits["mff/Lytro"][process.argv[2]].join(" "))' "$data/splits.json" "$split")
for pair in $pairs; do
  f=$(compgen -G "$data/mff/Lytro/candidates/DPRL/$pair.*" | head -1) || true
  [ -n "$f" ] || { echo "single-method-labels.sh: no DPRL result for Lytro pair $pair in $data/mff/Lytro/candidates/DPRL" >&2; exit 2; }
  ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$out/mff/Lytro/"
done
echo "single-method labels ($split split) in $out"
