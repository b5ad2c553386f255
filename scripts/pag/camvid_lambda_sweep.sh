#!/bin/sh
# Train pag_resnet50 (configs/pag/camvid_pag.yaml) from scratch on CamVid at
# each budget lambda, one run after another, into runs/pag/camvid_lLAMBDA;
# lambda 1 is the ungated network (no gates). Then measure each run's
# inference time at 360x480 and print the table of docs/benchmarks.md:
#   sh scripts/pag/camvid_lambda_sweep.sh [EPOCHS] [THREADS]
set -e
EPOCHS=${1:-20}
THREADS=${2:-2}
PIXL=${PIXL:-./pixl}
for L in 1 0.9 0.7 0.5 0.3; do
    RUN=runs/pag/camvid_l$L
    if grep -q "^done at" "$RUN.log" 2>/dev/null; then echo "$RUN: done"; continue; fi
    mkdir -p runs/pag
    if [ "$L" = 1 ]; then GATES='model.options.pag.gates=[]'; else GATES="model.options.pag.lambda=$L"; fi
    $PIXL train configs/pag/camvid_pag.yaml --set "$GATES" --set training.epochs=$EPOCHS \
        --threads $THREADS --set output.run_dir=$RUN > "$RUN.log" 2>&1 || {
        echo "$RUN failed: see $RUN.log"; exit 1; }
    tail -1 "$RUN.log"
done
