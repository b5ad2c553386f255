#!/bin/sh
# Does pixl train ENet on CamVid exactly as the PyTorch anchor does?
# (docs/benchmarks.md "per epoch"). Needs ../shared (CamVid, the
# anchor) and Debian's python3-torch; about 5 minutes on 2 cores.
#   0. initialisation: every tensor's spread and range as PyTorch's
#   1. data: pixl's loader batch = the anchor's preprocessing (up to 8-bit rounding)
#   2. 40 training steps on 4 real batches of 8 (dropout off): pixl's loss follows
#      PyTorch's float64 trajectory as closely as PyTorch's float32 does
#   3. one step WITH dropout, PyTorch given pixl's masks: same loss and gradients
# Cross-evaluation of trained checkpoints: scripts/bench/camvid_torch_eval.py.
set -e
cd "$(dirname "$0")/../.."
ROOT=../shared/datasets/camvid
PY=/usr/bin/python3
OUT=${OUT:-/tmp/pixl_enet_vs_anchor}
mkdir -p "$OUT"
make -s build/libpixl.a build/pixl_tests
LIBS="build/libpixl.a $(make -s print-ldlibs)"
for t in enet_init_stats loader_dump enet_dropout_dump; do
    cc -std=c11 -O2 -Wall -Wextra -fopenmp -D_GNU_SOURCE -Iinclude -Isrc scripts/check/$t.c $LIBS -o "$OUT/$t"
done
"$OUT/enet_init_stats" > "$OUT/init_stats.txt"
$PY scripts/check/enet_vs_anchor.py init "$OUT/init_stats.txt"
"$OUT/loader_dump" $ROOT "$OUT/loader.safetensors"
$PY scripts/check/enet_vs_anchor.py loader "$OUT/loader.safetensors" $ROOT
$PY scripts/ref/make_enet_train_ref.py --camvid $ROOT --batches 4 --batch 8 --steps 40 --full \
    --out "$OUT/enet_train_camvid.safetensors"
PIXL_ENET_TRAIN_REF="$OUT/enet_train_camvid.safetensors" ./build/pixl_tests model_enet_train_steps_match_pytorch
"$OUT/enet_dropout_dump" "$OUT/enet_train_camvid.safetensors" "$OUT/dropout.safetensors" 12345
$PY scripts/check/enet_vs_anchor.py dropout "$OUT/enet_train_camvid.safetensors" "$OUT/dropout.safetensors"
