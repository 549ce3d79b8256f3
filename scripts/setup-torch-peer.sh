#!/usr/bin/env bash
# The PyTorch peer of `npm run bench:torch`: Debian's python3-torch and python3-numpy for the
# Python that bench/engine/torch_unet.py runs under (PYTHON, default /usr/bin/python3: a pyenv or
# venv python3 first on PATH usually lacks them). Installs them as root on Debian; elsewhere says how.
set -euo pipefail
py=${PYTHON:-/usr/bin/python3}
if "$py" -c 'import torch, numpy' 2>/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "$py" = /usr/bin/python3 ]; then
  echo "setup-torch-peer: installing python3-torch and python3-numpy (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
  "$py" -c 'import torch, numpy' && exit 0
fi
echo "setup-torch-peer: $py cannot import torch and numpy. On Debian: apt-get install python3-torch python3-numpy (then PYTHON=/usr/bin/python3), or set PYTHON to a python3 that has them." >&2
exit 2
