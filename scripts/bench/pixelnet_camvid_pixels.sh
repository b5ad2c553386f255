#!/bin/sh
# The PixelNet pixels-per-image study on CamVid: one
# training run per sample size, each with the same wall-clock budget
# (training.max_minutes of configs/pixelnet/camvid_pixels.yaml) on one
# thread, then the val mIoU of the final validation (all 101 val images)
# from each run's log.jsonl. Runs one after the other so that every run has
# a core to itself.
#   scripts/bench/pixelnet_camvid_pixels.sh [P ...]      (default: 100 500 2000 8000 all)
# Extra pixl options (e.g. --set training.seed=1) via PIXL_TRAIN_ARGS;
# run directories runs/pn_camvid_<P>${RUN_SUFFIX}.
set -e
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- 100 500 2000 8000 all
for p in "$@"; do
    dir=runs/pn_camvid_$p${RUN_SUFFIX:-}
    if [ "$p" = all ]; then s="--set training.sampling.strategy=all"; else s="--set training.sampling.pixels_per_image=$p"; fi
    # shellcheck disable=SC2086
    ./pixl train configs/pixelnet/camvid_pixels.yaml --threads 1 $s --set output.run_dir=$dir ${PIXL_TRAIN_ARGS:-} \
        >"$dir.out" 2>&1 || { echo "run $p failed, see $dir.out"; exit 1; }
    echo "$p: $(grep '"type":"val"' $dir/log.jsonl | tail -1)"
done
