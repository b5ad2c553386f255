#!/bin/sh
# Train pag_resnet50 from scratch with CONFIG at each budget lambda, one run
# after another, into runs/pag/NAME_lLAMBDA (log: runs/pag/NAME_lLAMBDA.log);
# lambda 1 is the ungated network (no gates, the same MultiPool). A finished
# run is skipped and an interrupted one resumed from its last checkpoint, so
# running the script again continues a sweep. Then see
# scripts/pag/sweep_table.sh for the table of docs/benchmarks.md.
#   sh scripts/pag/lambda_sweep.sh configs/pag/camvid_pag.yaml camvid [EPOCHS] [THREADS]
#   sh scripts/pag/lambda_sweep.sh configs/pag/normals_pag.yaml normals [EPOCHS] [THREADS]
# LAMBDAS="0.9 0.5" runs only those budgets (two lanes at THREADS=1 each use
# two cores better than one lane at 2 threads). SETS adds --set options to
# every run, e.g. fine-tuning the trained ungated network with gates that
# start on (docs/pag.md):
#   SETS="model.options.pretrained=runs/pag/camvid_l1/best.safetensors model.options.pag.gate_init=3
#         training.optimizer.lr=0.0003" sh scripts/pag/lambda_sweep.sh configs/pag/camvid_pag.yaml camvid_ft 10 1
set -e
CONFIG=$1
NAME=$2
EPOCHS=${3:-20}
THREADS=${4:-2}
PIXL=${PIXL:-./pixl}
[ -n "$CONFIG" ] && [ -n "$NAME" ] || { echo "usage: $0 CONFIG NAME [EPOCHS] [THREADS]"; exit 2; }
mkdir -p runs/pag
for L in ${LAMBDAS:-1 0.9 0.7 0.5 0.3}; do
    RUN=runs/pag/${NAME}_l$L
    if grep -q "^done at" "$RUN.log" 2>/dev/null; then echo "$RUN: done"; continue; fi
    if [ "$L" = 1 ]; then GATES='model.options.pag.gates=[]'; else GATES="model.options.pag.lambda=$L"; fi
    RESUME=""
    if [ -f "$RUN/last.safetensors" ]; then RESUME="--resume $RUN"; fi  # an interrupted run goes on
    EXTRA=""
    for S in $SETS; do EXTRA="$EXTRA --set $S"; done
    $PIXL train "$CONFIG" --set "$GATES" --set training.epochs=$EPOCHS $EXTRA \
        --threads $THREADS --set output.run_dir=$RUN $RESUME >> "$RUN.log" 2>&1 || {
        echo "$RUN failed: see $RUN.log"; exit 1; }
    tail -1 "$RUN.log"
done
