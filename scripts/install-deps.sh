#!/usr/bin/env bash
# Installs the Debian packages graphc builds against, and the real Fashion-MNIST, when missing.
set -euo pipefail
packages=(pkg-config zlib1g-dev libopenblas-dev libtiff-dev libjson-c-dev libhdf5-dev libcairo2-dev fonts-dejavu-core dataset-fashion-mnist)
# Open MPI for data-parallel jobs (mpirun -np N graphc ... --train); iproute2 for scripts/mpi-two-hosts.sh.
packages+=(libopenmpi-dev openmpi-bin iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH (Swift 5.9 or newer is needed: https://swift.org/install)"; exit 1; }
