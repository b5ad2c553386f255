#!/bin/sh
# The table of a lambda sweep (scripts/pag/lambda_sweep.sh) for
# docs/benchmarks.md: per run, the last validation line of its log and the
# inference time of its last checkpoint at 360x480 on IMAGE (its own gates:
# sparse, and the same network computed densely and masked), THREADS threads.
#   sh scripts/pag/sweep_table.sh camvid ../shared/datasets/camvid/val/0016E5_07959.jpg [THREADS]
#   sh scripts/pag/sweep_table.sh normals - [THREADS]     (-: pixl bench pag's synthetic image)
set -e
NAME=$1
IMAGE=$2
THREADS=${3:-2}
PIXL=${PIXL:-./pixl}
[ -n "$NAME" ] && [ -n "$IMAGE" ] || { echo "usage: $0 NAME IMAGE [THREADS]"; exit 2; }
echo "| lambda | epochs | last validation | gates computing | mean run | GFLOPs (dense -> sparse) | sparse ms | dense-masked ms |"
echo "|---|---|---|---|---|---|---|---|"
for L in 1 0.9 0.7 0.5 0.3; do
    RUN=runs/pag/${NAME}_l$L
    [ -f "$RUN/last.safetensors" ] || continue
    VAL=$(grep "^val" "$RUN.log" | tail -1 | sed 's/^val *step [0-9]* epoch \([0-9]*\) *[0-9.]* min *//; s/ *([0-9.]* s).*//')
    EP=$(grep "^val" "$RUN.log" | tail -1 | sed 's/^val *step [0-9]* epoch \([0-9]*\).*/\1/')
    if [ "$IMAGE" = - ]; then IMG=""; else IMG="--image $IMAGE"; fi
    B=$($PIXL bench pag --model "$RUN/last.safetensors" $IMG --threads "$THREADS" --runs 5)
    FR=$(echo "$B" | sed -n 's/.*gates computing \([0-9.]*\).*/\1/p')
    RN=$(echo "$B" | sed -n 's/.*mean run \([0-9.]*\) pixels.*/\1/p')
    GF=$(echo "$B" | sed -n 's/.*GFLOPs dense \([0-9.]*\), sparse \([0-9.]*\).*/\1 -> \2/p')
    TS=$(echo "$B" | sed -n 's/.*time: sparse \([0-9.]*\) ms, dense \([0-9.]*\) ms.*/\1/p')
    TD=$(echo "$B" | sed -n 's/.*time: sparse \([0-9.]*\) ms, dense \([0-9.]*\) ms.*/\2/p')
    [ "$RN" = "0.0" ] && RN=-  # no gates
    echo "| $L | $EP | $VAL | $FR | $RN | $GF | $TS | $TD |"
done
