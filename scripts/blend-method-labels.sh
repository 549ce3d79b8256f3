#!/usr/bin/env bash
# Training labels of the bundled model's fine-tuning stage (runs/labels-blend/<task>/<dataset>/):
# the single-method labels (scripts/single-method-labels.sh), except multi-exposure, whose labels
# average the Laplacian pyramid's and FMMEF's results (a published method whose results ship in
# the shared data): on MEFB's 12 training pairs 0.9223 against the Laplacian pyramid's 0.9006,
# the best of every two-method average and single method measured (bench/results/pseudo-gt/blend-labels/).
# SPLIT=test makes the same for the test pairs (default root runs/labels-test-blend), for the
# intensity bias of bench/flow/default-model.sh (TEST_LABELS). OUT changes the root.
set -euo pipefail
cd "$(dirname "$0")/.."
split=${SPLIT:-train}
case "$split" in
  train) out=${OUT:-runs/labels-blend}; single=runs/labels-single ;;
  test) out=${OUT:-runs/labels-test-blend}; single=runs/labels-test-single ;;
  *) echo "blend-method-labels.sh: SPLIT must be train or test, got '$split'" >&2; exit 2 ;;
esac
npm run build --silent
for ds in ivf/VIFB mff/Lytro mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT; do
  [ -e "$single/$ds" ] || SPLIT=$split bash scripts/single-method-labels.sh
  [ -e "$single/$ds" ] || { echo "blend-method-labels.sh: $single/$ds is missing after scripts/single-method-labels.sh" >&2; exit 2; }
done
mkdir -p "$out/ivf" "$out/mff" "$out/mif" "$out/mef"
for ds in ivf/VIFB mff/Lytro mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT; do
  ln -sfn "$(cd "$single/$ds" && pwd -P)" "$out/$ds"
done
rm -rf "$out/mef/MEFB.tmp"
node dist/scripts/blend-labels.js --data mef/MEFB --split "$split" --methods classical:laplacian,FMMEF --out "$out/mef/MEFB.tmp"
rm -rf "$out/mef/MEFB"
mv "$out/mef/MEFB.tmp" "$out/mef/MEFB"
echo "blend labels ($split split) in $out"
