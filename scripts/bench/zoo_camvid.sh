#!/bin/sh
# The zoo's CamVid comparison (docs/benchmarks.md): train each model of configs/zoo/ from scratch on
# CamVid train (same recipe, same time budget), one after the other so they
# do not share the 2 cores, then print the table for docs/benchmarks.md.
#   scripts/bench/zoo_camvid.sh [MINUTES] [MODEL ...]
# MINUTES (default 15) overrides training.max_minutes of every config; the
# models default to enet fc_densenet56 unet segnet_basic linknet. Logs go to
# runs/zoo_camvid_MODEL/ (log.jsonl, train.log).
set -e
cd "$(dirname "$0")/../.."
MIN=${1:-15}
[ $# -gt 0 ] && shift
MODELS=${*:-"enet fc_densenet56 unet segnet_basic linknet"}
make -s all
cp build/pixl runs/.pixl_zoo_bin 2>/dev/null || { mkdir -p runs && cp build/pixl runs/.pixl_zoo_bin; }
for m in $MODELS; do
    cfg=configs/zoo/camvid_$m.yaml
    dir=runs/zoo_camvid_$m
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "== $m: $MIN minutes ($cfg)"
    runs/.pixl_zoo_bin train "$cfg" --set training.max_minutes="$MIN" --set output.run_dir="$dir" > "$dir/train.log" 2>&1 ||
        echo "$m: pixl train failed, see $dir/train.log"
done
/usr/bin/python3 scripts/bench/zoo_table.py $(for m in $MODELS; do echo runs/zoo_camvid_$m; done)
