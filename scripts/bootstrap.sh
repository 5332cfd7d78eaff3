#!/usr/bin/env bash
# Install what building and testing pzbench needs on a fresh Debian/Ubuntu machine:
# the system HDF5 library (for hdf5-metno) and pkg-config. Idempotent; a no-op when present.
set -euo pipefail
need=()
for pkg in libhdf5-dev pkg-config; do
  dpkg -s "$pkg" > /dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" > /dev/null
fi
command -v cargo > /dev/null || { echo "pzbench needs a Rust toolchain (rustup.rs)" >&2; exit 2; }
