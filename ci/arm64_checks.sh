#!/bin/sh
# Run inside a prepared Debian tree by ci/arm64.sh: install the wheel and run the device commands.
# usage: arm64_checks.sh WHEEL EXTRAS PREDICT_IMAGES LIMIT
# Writes /work/out: bench*.json, predict-ARTIFACT.json, images/ and dump/ (raw outputs, accuracy).
# Every Python process costs seconds under emulation, so the steps are few and batched.
set -eu
WHEEL=$1 EXTRAS=$2 PREDICT_IMAGES=$3 LIMIT=$4
OUT=/work/out
mkdir -p "$OUT"
cd /work
step() { echo "== $(date +%T) $*" >&2; }

# Every dependency is already in the venv, pinned by the constraints file: --no-index makes
# the install fail if the extras need anything the constraints file does not list.
step "install $WHEEL[$EXTRAS]"
python -m pip install -q --no-compile --no-index -c /opt/constraints.txt "$WHEEL[$EXTRAS]"

step "list the artifacts"
if [ -z "$(ls /work/images 2>/dev/null)" ]; then
  python /work/arm64_outputs.py inputs --out /work/images --count "$PREDICT_IMAGES"
fi
cp -r /work/images "$OUT/images"
python /work/arm64_outputs.py list --shipped /work/models > "$OUT/artifacts.txt"
SHIPPED="" EXTRA="" MNIST=""
while read -r kind dataset path; do
  if [ "$kind" = shipped ]; then SHIPPED="$SHIPPED $path"; else EXTRA="$EXTRA $path"; fi
  if [ "$dataset" = mnist ]; then MNIST="$MNIST $path"; fi
done < "$OUT/artifacts.txt"

# Few timed runs, because latencies under emulation are no measure of a board. This step checks
# that every artifact loads, runs and scores on real test images.
BENCH_OPTIONS="--warmup-runs 3 --warmup-seconds 0 --runs 10 --min-seconds 0 --max-seconds 5 --throughput-runs 2
  --batch-size 16 --dataset auto --test-limit 200"
step "edgecnn bench"
# shellcheck disable=SC2086  # word splitting wanted: one argument per option and per path
if [ -n "$SHIPPED" ]; then edgecnn bench $BENCH_OPTIONS --json "$OUT/bench.json"; fi
# shellcheck disable=SC2086
if [ -n "$EXTRA" ]; then edgecnn bench $BENCH_OPTIONS --json "$OUT/bench-extra.json" $EXTRA; fi

# The PNGs are MNIST digits, so only the MNIST artifacts classify them.
for artifact in $MNIST; do
  step "edgecnn predict $artifact"
  edgecnn predict --json "$artifact" /work/images > "$OUT/predict-$(basename "$artifact").json"
done

step "dump raw outputs"
# shellcheck disable=SC2086
python /work/arm64_outputs.py dump --out "$OUT/dump" --limit "$LIMIT" $SHIPPED $EXTRA
