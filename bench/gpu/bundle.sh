#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs on a GPU machine into .gpu/ (node, node_modules, Vulkan
# loader libraries: ../shared/tools/gpu-bundle.sh) and .gpudata/ (bench/gpu/pack.ts), within
# the device tool's 64 MiB. Differences from the shared bundle, to fit: sharp is left out
# (optional; jpeg-js decodes, and the packed data is PNG), and the TF.js peer's two Node builds
# are added (bench/engine/kernels.ts compares against TF.js-WebGPU on the same adapter), with
# tfjs-core's ESM files for its gradients (about 0.6 MB compressed).
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
# from scratch: a local trial of run.sh unpacks node and the loader libraries into .gpu
rm -rf .gpu
bash ../shared/tools/gpu-bundle.sh >/dev/null
# production dependencies only: packages installed by hand (e.g. onnxruntime-node for the CPU peer
# bench, 70 MB compressed) are extraneous and stay out
mapfile -t deps < <(npm query '.prod:not(:extraneous)' | node -e "for (const d of JSON.parse(require('fs').readFileSync(0, 'utf8'))) console.log(d.location)" | grep '^node_modules/' | grep -v -e sharp -e '@img' || true)
tf=node_modules/@tensorflow
deps+=("$tf/tfjs-core/package.json" "$tf/tfjs-core/dist/tf-core.node.js" "$tf/tfjs-backend-webgpu/package.json" "$tf/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js" node_modules/seedrandom)
# tfjs-core's ESM files (no tests): its gradient registrations, for the U-Net training-step peer
mapfile -t tfesm < <(find "$tf/tfjs-core/dist" -name '*.js' ! -name '*_test.js' ! -name 'tf-core*.js' ! -path '*/miniprogram/*' ! -path '*/scripts/*')
deps+=("${tfesm[@]}" node_modules/long)
tar -C . --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
    --exclude='node_modules/webgpu/dist/linux-arm64' -cf - "${deps[@]}" | xz -T2 -6 > .gpu/node_modules.tar.xz
[ -d .gpudata ] || { node dist/bench/gpu/pack.js; }
[ -f .gpudata/continual-eval.json ] || node dist/bench/continual/continual.js --eval-cache .gpudata/continual-eval.json --prepare-only
# the validation crops of VAL_PAIRS=2 (held-out training pairs; their pools are not packed)
[ -f .gpudata/continual-eval.val2.json ] || node dist/bench/continual/continual.js --labels .gpudata/labels --eval-cache .gpudata/continual-eval.json --val-pairs 2 --prepare-only
[ -f .gpudata/vifb-test-bounds.json ] || node dist/bench/flow/flow-ivf.js --bounds-cache .gpudata/vifb-test-bounds.json --prepare-only
# the training study's pool bounds (validation pairs carved from train, and test) for each task it may run
for t in ${STUDY_TASKS:-ivf}; do
  [ -f ".gpudata/bounds/.study-$t" ] || { node dist/bench/flow/study.js --task "$t" --labels .gpudata/labels --bounds-dir .gpudata/bounds --prepare-only && touch ".gpudata/bounds/.study-$t"; }
done
[ -f .gpudata/diffusion-ivf-bounds.json ] || node dist/src/cli/main.js bench --task ivf --data ivf/VIFB --bounds-cache .gpudata/diffusion-ivf-bounds.json --prepare-bounds
# the commit the bundled dist was built from (run.sh exports it as FUSIONFM_COMMIT): the device
# machine's copy of the tree carried a stale .git and reported an older commit
c=$(git rev-parse --short HEAD); [ -z "$(git status --porcelain --untracked-files=no)" ] || c="$c+changes"
echo "$c" > .gpu/commit
du -sh .gpu .gpudata dist
