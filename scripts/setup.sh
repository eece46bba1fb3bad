#!/usr/bin/env bash
# Idempotent set-up: Debian packages, npm packages, build. Each step says what it does and skips itself when
# there is nothing to do, so `make run` and `make test` can call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages the product needs at run time and in tests; bench-only ones come with `make bench` (SETUP_BENCH=1).
APT_PACKAGES=(libtorch-dev libgloo-dev libjpeg-dev dataset-fashion-mnist hey python3-requests)
if [ "${SETUP_BENCH:-0}" = 1 ]; then APT_PACKAGES+=(python3-torch); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present (${APT_PACKAGES[*]})"
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "setup: npm packages up to date"
fi

make --no-print-directory build
