#!/usr/bin/env bash
# Check the runtime-only install of edgecnn on emulated aarch64 Debian against x86_64.
#
# usage: ci/arm64.sh SUITE OUT_DIR
#   SUITE    bookworm: Python 3.11, edgecnn[onnx,tflite] from constraints/device-legacy.txt
#            trixie:   Python 3.13, edgecnn[onnx,litert] from constraints/device.txt
#   OUT_DIR  receives arm64/ and amd64/ (bench, predict and output dumps) and agreement.json
#
# Environment (all optional):
#   WHEEL            an edgecnn wheel to test; built from this checkout when unset
#   PYTHON           the host Python that builds the wheel (default: python3)
#   CACHE_DIR        where prepared trees are kept between runs (default: /var/cache/edgecnn-arm64)
#   WORK_DIR         where the trees are unpacked (default: /tmp/edgecnn-arm64)
#   EDGECNN_DATA_DIR folder with mnist/, fashion-mnist/ and cifar10/ (default: ../shared/datasets)
#   QEMU_CPU         emulated CPU (default: cortex-a72, a Raspberry Pi 4; cortex-a76 is a Pi 5)
#   LIMIT            test images per artifact for the output dumps (default: 500)
#   EXTRA_MODELS     a folder of .onnx/.tflite artifacts (with export.json) to check besides the shipped ones
#   KEEP_TREES       1 keeps the unpacked trees under WORK_DIR after the run, for debugging
#
# Each architecture gets its own Debian tree of the same suite, built with
# `mmdebstrap --variant=extract`, which runs nothing under emulation. The host's pip unpacks
# exactly the pins of the constraints file into the tree's venv. The arm64 tree runs under qemu-user through
# binfmt_misc; the amd64 tree runs natively and is the reference, so the two runs differ only in
# architecture. Needs root, binfmt_misc and network access to the Debian mirror and PyPI when
# a tree is not cached. No Docker engine is needed.
set -euo pipefail

SUITE=${1:?usage: ci/arm64.sh bookworm|trixie OUT_DIR}
OUT_DIR=${2:?usage: ci/arm64.sh bookworm|trixie OUT_DIR}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/edgecnn-arm64}
WORK_DIR=${WORK_DIR:-/tmp/edgecnn-arm64}
DATA_DIR=${EDGECNN_DATA_DIR:-$REPO/../shared/datasets}
PYTHON=${PYTHON:-python3}
LIMIT=${LIMIT:-500}
PREDICT_IMAGES=8
export QEMU_CPU=${QEMU_CPU:-cortex-a72}

# GLIBC_MINOR: the suite's glibc is 2.<minor> (bookworm 2.36, trixie 2.41).
case $SUITE in
  bookworm) CONSTRAINTS=constraints/device-legacy.txt EXTRAS=onnx,tflite PYTHON_VERSION=3.11 GLIBC_MINOR=36
            TFLITE_MODULE=tflite_runtime.interpreter ;;
  trixie)   CONSTRAINTS=constraints/device.txt        EXTRAS=onnx,litert PYTHON_VERSION=3.13 GLIBC_MINOR=41
            TFLITE_MODULE=ai_edge_litert.interpreter ;;
  *) echo "unknown suite '$SUITE'; use bookworm or trixie" >&2; exit 2 ;;
esac
# The runtime wheels link against libstdc++6 and libgcc-s1 beyond glibc. dash and coreutils run
# arm64_checks.sh, because the extract variant installs only the listed packages and their dependencies.
DEBIAN_PACKAGES=python3-minimal,python3-venv,ca-certificates,libstdc++6,libgcc-s1,dash,coreutils
TREE_FORMAT=3  # bump when the way a tree is prepared changes, so old caches are not reused
ARM_ROOT=$WORK_DIR/$SUITE-arm64
X86_ROOT=$WORK_DIR/$SUITE-amd64
BACKGROUND_JOB=""

log() { printf '[arm64 %s] %s\n' "$SUITE" "$*" >&2; }
timed() {
  local start=$SECONDS
  "$@"
  log "$(printf '%4ds  %s' $((SECONDS - start)) "$*")"
}

# Host tools and binfmt_misc -------------------------------------------------------------
check_host() {
  if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (chroot, mounts)" >&2; exit 77; fi
  # The legs of both suites start together, and on a fresh machine both would run apt-get,
  # which fails on its lock: one leg installs and registers qemu while the other waits.
  exec 9>/var/lock/edgecnn-arm64-host.lock
  flock 9
  if ! command -v qemu-aarch64-static >/dev/null || ! command -v mmdebstrap >/dev/null \
     || ! command -v update-binfmts >/dev/null || ! command -v zstd >/dev/null; then
    log "installing qemu-user-static binfmt-support mmdebstrap zstd"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      qemu-user-static binfmt-support mmdebstrap zstd >/dev/null
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
      || { echo "SKIP: binfmt_misc is not available (cannot mount it here)" >&2; exit 77; }
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
  # The F flag makes the kernel open the interpreter at registration, so it works inside a chroot.
  if ! grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    echo "SKIP: qemu-aarch64 is registered without the F flag, so it cannot run inside a chroot" >&2; exit 77
  fi
  flock -u 9
}

mirror() {
  awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
    || awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null \
    || echo http://deb.debian.org/debian
}

# Running inside a tree ------------------------------------------------------------------
in_tree() {  # in_tree ROOT COMMAND...
  local root=$1; shift
  env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 QEMU_CPU="$QEMU_CPU" \
    EDGECNN_DATA_DIR=/work/data EDGECNN_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore /usr/sbin/chroot "$root" "$@"
}

mount_tree() {
  local root=$1
  # Not /sys: with the host's sysfs mounted, importing onnxruntime segfaults under qemu-user 7.2.
  mountpoint -q "$root/dev" || { mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"; }
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
}

unmount_tree() {
  local root=$1 point
  for point in "$root/proc" "$root/dev"; do
    if mountpoint -q "$point"; then umount -R "$point"; fi
  done
}

cleanup() {
  # A tree prepared in the background is mounted by its own subshell, so wait for that job
  # before unmounting both trees.
  if [ -n "$BACKGROUND_JOB" ]; then wait "$BACKGROUND_JOB" 2>/dev/null || true; fi
  unmount_tree "$ARM_ROOT"
  unmount_tree "$X86_ROOT"
  if [ "${KEEP_TREES:-0}" != 1 ]; then
    rm -rf --one-file-system "$ARM_ROOT" "$X86_ROOT"  # 600-700 MB per suite; the cache keeps them packed
  fi
}
trap cleanup EXIT

remove_tree() {
  local root=$1
  unmount_tree "$root"
  rm -rf --one-file-system "$root"  # never crosses into a still-mounted /dev or /proc
}

copy_host_network_files() {
  local root=$1
  mkdir -p "$root/etc/ssl/certs"
  # The host's trust store, so TLS through a proxy with its own CA also works inside the tree.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

# Preparing a tree (cached) --------------------------------------------------------------
cache_key() {
  local arch=$1
  { echo "$TREE_FORMAT $SUITE $arch $DEBIAN_PACKAGES"; cat "$REPO/$CONSTRAINTS"; } | sha256sum | cut -c1-16
}

install_packages() {  # install_packages ARCH ROOT: the pinned closure and pip into the tree's venv
  local arch=$1 root=$2
  local machine=aarch64 platforms=() minor pip_wheel
  if [ "$arch" = amd64 ]; then machine=x86_64; fi
  # Every manylinux tag the suite's glibc accepts, so pip picks what pip in the tree would pick.
  # pip does not expand these, nor the legacy alias manylinux2014 (tflite-runtime's x86_64 tag).
  for minor in $(seq 17 "$GLIBC_MINOR"); do platforms+=(--platform "manylinux_2_${minor}_$machine"); done
  platforms+=(--platform "manylinux2014_$machine")
  pip_wheel=$(ls "$root"/usr/share/python-wheels/pip-*.whl)
  # The host's pip unpacks the wheels straight into site-packages: running pip under emulation
  # costs minutes, and the wheels are the same files either way. --no-deps because the
  # constraints file lists the whole closure; `pip check` in the tree confirms that it does.
  "$PYTHON" -m pip install -q --no-compile --no-deps --only-binary=:all: "${platforms[@]}" \
    --python-version "$PYTHON_VERSION" --implementation cp \
    --target "$root/opt/venv/lib/python$PYTHON_VERSION/site-packages" \
    -r "$REPO/$CONSTRAINTS" "$pip_wheel"
}

build_tree() {
  local arch=$1 root=$2
  remove_tree "$root"
  mkdir -p "$(dirname "$root")"
  timed mmdebstrap --quiet --mode=root --arch="$arch" --variant=extract --include="$DEBIAN_PACKAGES" \
    --setup-hook=/usr/share/mmdebstrap/hooks/merged-usr/setup00.sh "$SUITE" "$root" "$(mirror)"
  mkdir -p "$root/proc" "$root/root" "$root/tmp"
  copy_host_network_files "$root"
  mkdir -p "$root/opt"
  cp "$REPO/$CONSTRAINTS" "$root/opt/constraints.txt"
  mount_tree "$root"
  timed in_tree "$root" /usr/bin/python3 -m venv --without-pip /opt/venv
  timed install_packages "$arch" "$root"
  # The first imports write the .pyc files of what edgecnn uses, and they are cached with the
  # tree; byte-compiling everything instead costs minutes under emulation.
  timed in_tree "$root" /opt/venv/bin/python -c "import numpy, onnxruntime, $TFLITE_MODULE, PIL.Image, typer, rich, pip._internal.cli.main"
  timed in_tree "$root" /opt/venv/bin/python -m pip check
  unmount_tree "$root"
}

save_tree() {
  local root=$1 tarball=$2
  mkdir -p "$CACHE_DIR"
  tar -C "$root" --exclude=./proc/* --exclude=./dev/* -cf - . | zstd -q -T0 -3 -o "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  # Trees of this suite and architecture under older keys are never used again.
  local stale
  for stale in "${tarball%-*}"-*.tar.zst; do
    if [ "$stale" != "$tarball" ]; then rm -f "$stale"; fi
  done
}

load_tree() {
  local root=$1 tarball=$2
  remove_tree "$root"
  mkdir -p "$root"
  zstd -q -dc "$tarball" | tar -C "$root" -xf -
  copy_host_network_files "$root"
}

prepare_tree() {  # prepare_tree ARCH ROOT: a tree with the pinned venv, from the cache when possible
  local arch=$1 root=$2
  local tarball
  tarball="$CACHE_DIR/$SUITE-$arch-$(cache_key "$arch").tar.zst"
  if [ -f "$tarball" ]; then
    timed load_tree "$root" "$tarball"
  else
    log "no cached $arch tree at $tarball; building it"
    timed build_tree "$arch" "$root"
    timed save_tree "$root" "$tarball"
  fi
}

# The wheel and the inputs ---------------------------------------------------------------
build_wheel() {
  local dist=$WORK_DIR/dist-$SUITE  # per suite, so both legs can run at once
  rm -rf "$dist"
  mkdir -p "$dist"
  if "$PYTHON" -c "import setuptools, wheel" 2>/dev/null; then
    "$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$dist" "$REPO"
  else
    "$PYTHON" -m pip wheel -q --no-deps -w "$dist" "$REPO"
  fi
  WHEEL=$(ls "$dist"/edgecnn-*.whl)
}

stage_files() {  # stage_files ROOT: copy the wheel, test data, scripts and extra models into a tree
  local root=$1
  rm -rf "$root/work"
  mkdir -p "$root/work/data/mnist" "$root/work/data/fashion-mnist" "$root/work/data/cifar10/cifar-10-batches-py" \
    "$root/work/out" "$root/work/models"
  cp "$WHEEL" "$root/work/"
  cp "$REPO/ci/arm64_outputs.py" "$REPO/ci/arm64_checks.sh" "$root/work/"
  # Test splits only: what the output dumps and the accuracy check read.
  cp "$DATA_DIR"/mnist/t10k-* "$root/work/data/mnist/"
  cp "$DATA_DIR"/fashion-mnist/t10k-* "$root/work/data/fashion-mnist/"
  cp "$DATA_DIR"/cifar10/cifar-10-batches-py/{test_batch,batches.meta} "$root/work/data/cifar10/cifar-10-batches-py/"
  if [ -n "${EXTRA_MODELS:-}" ]; then cp -r "$EXTRA_MODELS"/. "$root/work/models/"; fi
}

run_checks() {  # run_checks ARCH ROOT: install the wheel, run bench, predict and the output dump in a tree
  local arch=$1 root=$2
  mount_tree "$root"
  if ! in_tree "$root" /usr/bin/dash /work/arm64_checks.sh "/work/$(basename "$WHEEL")" "$EXTRAS" "$PREDICT_IMAGES" "$LIMIT" \
       > "$OUT_DIR/$arch.log" 2>&1; then
    log "checks failed in the $arch tree; the end of $OUT_DIR/$arch.log:"
    tail -n 30 "$OUT_DIR/$arch.log" >&2
    return 1
  fi
  unmount_tree "$root"
  rm -rf "${OUT_DIR:?}/$arch"
  cp -r "$root/work/out" "$OUT_DIR/$arch"
}

compare_dumps() {  # run in the reference tree, which has numpy; writes OUT_DIR/agreement.json
  local x86_root=$1
  rm -rf "$x86_root/work/arm64-dump"
  cp -r "$OUT_DIR/arm64/dump" "$x86_root/work/arm64-dump"
  in_tree "$x86_root" /opt/venv/bin/python /work/arm64_outputs.py compare /work/out/dump /work/arm64-dump \
    --report /work/agreement.json
  local status=$?
  cp "$x86_root/work/agreement.json" "$OUT_DIR/agreement.json"
  return $status
}

# Main -----------------------------------------------------------------------------------
main() {
  local started=$SECONDS
  check_host
  [ -d "$DATA_DIR/mnist" ] || { echo "MNIST not found under $DATA_DIR; set EDGECNN_DATA_DIR" >&2; exit 2; }
  mkdir -p "$OUT_DIR" "$WORK_DIR"
  OUT_DIR=$(cd "$OUT_DIR" && pwd)
  if [ -z "${WHEEL:-}" ]; then timed build_wheel; fi
  WHEEL=$(readlink -f "$WHEEL")
  log "wheel: $WHEEL"

  # The two trees are independent: prepare the native one in the background while the
  # emulated one is built, which takes much longer.
  local arm_root=$ARM_ROOT x86_root=$X86_ROOT
  prepare_tree amd64 "$x86_root" > "$OUT_DIR/prepare-amd64.log" 2>&1 &
  BACKGROUND_JOB=$!
  prepare_tree arm64 "$arm_root"
  local x86_status=0
  wait "$BACKGROUND_JOB" || x86_status=$?
  BACKGROUND_JOB=""
  if [ "$x86_status" != 0 ]; then
    log "preparing the amd64 tree failed:"
    cat "$OUT_DIR/prepare-amd64.log" >&2
    exit 1
  fi
  cat "$OUT_DIR/prepare-amd64.log" >&2

  # The reference side writes the PNGs once; the arm64 side predicts on the same files.
  stage_files "$x86_root"
  stage_files "$arm_root"
  timed run_checks amd64 "$x86_root"
  mkdir -p "$arm_root/work/images"
  cp "$OUT_DIR"/amd64/images/*.png "$arm_root/work/images/"
  timed run_checks arm64 "$arm_root"

  mount_tree "$x86_root"
  local status=0
  compare_dumps "$x86_root" || status=$?
  unmount_tree "$x86_root"
  log "total $((SECONDS - started))s"
  return $status
}
main
