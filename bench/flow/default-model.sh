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
#   SETS=mef/MEFB bash bench/flow/default-model.sh   (rescore those datasets only; the summary still covers every folder in the output)
#   JOBS=2 bash bench/flow/default-model.sh     (two datasets at a time, each logged to <out>/<task>-<dataset>.log;
#     the slowest two, MEFB and Lytro, start first)
# The pool scores are cached in bench/results/bounds/ (BOUNDS=dir elsewhere; computing them is
# most of a first run's CPU time): committed, so that a fresh checkout scores at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
models="${NAME:-default}=${CHECKPOINT:-checkpoints/default.safetensors}${COMPARE:+,$COMPARE}"
out=${OUT:-bench/results/default-model}
bounds=${BOUNDS:-bench/results/bounds}
mkdir -p "$bounds"
score() {
  node dist/bench/flow/flow-ivf.js --data "$1" --models "$models" --steps "${KSTEPS:-1}" --other-steps 1 \
    --bounds-cache "$bounds/${1//\//-}-test.json" --out "$out/$1" ${TEST_LABELS:+--labels "$TEST_LABELS/$1"}
}
jobs=${JOBS:-1}
mkdir -p "$out"
rm -f "$out"/.failed-*
# the two slowest splits first, so that parallel jobs finish together
for ds in ${SETS:-mef/MEFB mff/Lytro ivf/VIFB mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT}; do
  if [ "$jobs" -le 1 ]; then score "$ds"; continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  log="$out/${ds//\//-}.log"
  echo "scoring $ds (log: $log)"
  { score "$ds" > "$log" 2>&1 || touch "$out/.failed-${ds//\//-}"; } &
done
wait
if compgen -G "$out/.failed-*" > /dev/null; then
  echo "default-model.sh: failed: $(cd "$out" && ls -A .failed-* | sed 's/^.failed-//' | tr '\n' ' ')(see their logs in $out)" >&2
  exit 1
fi
node dist/bench/flow/default-model-summary.js --root "$out"
