#!/usr/bin/env bash
# The bundled four-task checkpoint on every shared test split at full size, one Euler step,
# against the classical fusers, scored by the task composite over each pair's candidate pool
# (bench/flow/flow-ivf.ts per dataset), then one summary table (bench/flow/default-model-summary.ts).
#   bash bench/flow/default-model.sh                      -> bench/results/default-model/
#   COMPARE=lambda1=old.safetensors bash bench/flow/default-model.sh   (another checkpoint beside it)
#   KSTEPS=1,2,4 bash bench/flow/default-model.sh      (k Euler steps beside k = 1: one column each)
#   NAME=v800 CHECKPOINT=... bash bench/flow/default-model.sh   (the first model's row name; default: default)
#   TEST_LABELS=runs/labels-test bash bench/flow/default-model.sh     (test-split pseudo labels, <root>/<task>/<dataset>/<pair>.png,
#     from `fusionfm pseudo-gt --split test`: adds each row's intensity bias against them)
# The pool scores are cached in bench/results/bounds/ (BOUNDS=dir elsewhere; computing them is
# most of a first run's CPU time): committed, so that a fresh checkout scores at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
models="${NAME:-default}=${CHECKPOINT:-checkpoints/default.safetensors}${COMPARE:+,$COMPARE}"
out=${OUT:-bench/results/default-model}
bounds=${BOUNDS:-bench/results/bounds}
mkdir -p "$bounds"
for ds in ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT mef/MEFB mff/Lytro; do
  node dist/bench/flow/flow-ivf.js --data "$ds" --models "$models" --steps "${KSTEPS:-1}" --other-steps 1 \
    --bounds-cache "$bounds/${ds//\//-}-test.json" --out "$out/$ds" ${TEST_LABELS:+--labels "$TEST_LABELS/$ds"}
done
node dist/bench/flow/default-model-summary.js --root "$out"
