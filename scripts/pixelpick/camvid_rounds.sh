#!/bin/sh
# PixelPick's rounds on CamVid from scratch (docs/benchmarks.md, "PixelPick on
# CamVid"): ENet at 176x240, 30 epochs a round, 10, 20, 50 and 100 labelled
# pixels per image; margin queries (with the fully supervised baseline, the
# same 30 epochs on the full label maps), random queries, and margin queries
# with warm start. Two runs at a time on one thread each; about 1.5 hours on
# 2 cores. Then the table:
#   /usr/bin/python3 scripts/pixelpick/rounds_table.py runs/pixelpick/enet_margin \
#       runs/pixelpick/enet_random runs/pixelpick/enet_margin_warm
# A run that was interrupted continues where it stopped when this is run again.
set -e
cd "$(dirname "$0")/../.."
CFG=configs/pixelpick/camvid_enet.yaml
S=10,20,50,100
OUT=${OUT:-runs/pixelpick}
mkdir -p "$OUT"
./pixl pixelpick $CFG --run "$OUT/enet_margin" --schedule $S --full --threads 1 --quiet > "$OUT/enet_margin.log" 2>&1 &
A=$!
{
    ./pixl pixelpick $CFG --run "$OUT/enet_random" --schedule $S --strategy random --threads 1 --quiet
    ./pixl pixelpick $CFG --run "$OUT/enet_margin_warm" --schedule $S --warm-start --threads 1 --quiet
} > "$OUT/enet_random.log" 2>&1 &
B=$!
wait $A
wait $B
