#!/usr/bin/env bash
# setup.sh — install what hakmem needs on a fresh Debian/Ubuntu machine:
# the C toolchain, valgrind and the peer allocators (system packages, as root),
# then the Python side (SCons, jinja2, pydantic, pytest…, and the `hakmem` command).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential gcc python3-pip valgrind strace time sqlite3 git redis-server redis-tools
              libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup.sh: system packages already installed"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${APT_PACKAGES[@]}"
else
    echo "setup.sh: not root or no apt-get; install these yourself: ${missing[*]}" >&2
fi

# A distribution Python may refuse pip outside a venv (PEP 668); then install for the user anyway.
if ! python3 -m pip install -r requirements.txt; then
    python3 -m pip install --break-system-packages -r requirements.txt
fi
