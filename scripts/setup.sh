#!/usr/bin/env bash
# Installs what fusionfm needs to run and test on this machine:
#  - npm packages (npm ci) when node_modules is missing or older than package-lock.json;
#  - a WebGPU adapter: when Dawn finds none and this is Debian/Ubuntu running as root, Mesa's
#    lavapipe (software Vulkan) from bookworm-backports (bookworm's own mesa 22 is refused by
#    Dawn); otherwise it prints the exact commands and stops;
#  - Debian's chromium for the web demo's browser tests (headless, driven by playwright-core;
#    no browser download), as root on Debian; elsewhere those tests skip and say why.
#    FUSIONFM_SKIP_BROWSER=1 (or --runtime) skips it.
# --runtime: only what running fusionfm needs (npm packages and an adapter), as `npm run demo` asks.
# Safe to run repeatedly: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  case "$arg" in
    --runtime) FUSIONFM_SKIP_BROWSER=1 ;;
    *) echo "setup.sh: unknown argument '$arg' (expected --runtime)" >&2; exit 2 ;;
  esac
done

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x /usr/bin/chromium ] && [ "${FUSIONFM_SKIP_BROWSER:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium (headless browser tests of the web demo)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; the browser tests will skip (as root on Debian: apt-get install chromium)"
  fi
fi

probe() {
  node --input-type=module -e "
    import { create, globals } from 'webgpu';
    Object.assign(globalThis, globals);
    const gpu = create([]);
    const a = await gpu.requestAdapter();
    if (!a) process.exit(3);
    console.log(a.info.vendor + ' ' + a.info.device + ' (' + a.info.description + ')');
  " 2>/dev/null
}

if adapter=$(probe); then
  echo "setup: WebGPU adapter: $adapter"
  exit 0
fi

CMDS="echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
apt-get update
apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1"

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$(id -u)" = 0 ] && [ "$codename" = bookworm ] && command -v apt-get >/dev/null; then
  echo "setup: no WebGPU adapter; installing Mesa lavapipe from bookworm-backports"
  export DEBIAN_FRONTEND=noninteractive
  grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ || \
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
  apt-get update -qq
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  if adapter=$(probe); then
    echo "setup: WebGPU adapter: $adapter"
    exit 0
  fi
  echo "setup: lavapipe was installed but Dawn still finds no adapter" >&2
  exit 1
fi

cat >&2 <<MSG
setup: no WebGPU adapter was found, and this script can only install one as root on Debian bookworm.
Install Mesa's software Vulkan driver (lavapipe, version 25 or newer), e.g. on Debian bookworm as root:
$CMDS
On other systems install your GPU's Vulkan driver or Mesa >= 25 'mesa-vulkan-drivers', and set XDG_RUNTIME_DIR.
MSG
exit 1
