#!/usr/bin/env bash
# Classical fusers on the test split of every shared dataset, and their rank among VIFB's 25
# published methods. Outputs under bench/results/eval/ (mean.csv, per_image.csv, report.html)
# and bench/results/vifb-test-ranking.md. Needs ../shared/data (or FUSIONFM_DATA) and a build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cli="node dist/src/cli/main.js"
out=bench/results/eval
mkdir -p "$out"
for ds in ivf/VIFB mef/MEFB mff/Lytro mif/CDDFuse_MRI-CT mif/CDDFuse_MRI-PET mif/CDDFuse_MRI-SPECT; do
  name=$(echo "$ds" | tr '/' '-')
  $cli eval --data "$ds" --split test --methods classical --metrics EN,SD,SF,AG,MI,SCD,VIF,Qabf,SSIM \
    --out "$out/$name-classical" --overwrite 2>/dev/null
done
vifb="Cross_entropy,EN,MI,PSNR,AG,Edge_intensity,Qabf,SD,SF,RMSE,SSIM,Qcb,Qcv"
$cli eval --data ivf/VIFB --split test --methods all,classical --metrics "$vifb" --convention vifb \
  --out "$out/ivf-VIFB-test-all" --overwrite 2>/dev/null
node dist/bench/eval/rank.js "$out/ivf-VIFB-test-all/mean.csv" > bench/results/vifb-test-ranking.md
cat bench/results/vifb-test-ranking.md
