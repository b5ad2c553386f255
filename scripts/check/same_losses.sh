#!/bin/sh
# Same seeds, same numbers: the first 50 training losses of three tasks
# (ENet on CamVid with the anchor's recipe, PixelNet edges on BSDS500,
# PixelNet normals on the embedded synthetic set), each logged at every step
# with 9 significant digits (a float reads back exactly), one thread.
#   sh scripts/check/same_losses.sh PIXL OUT_DIR      runs and writes OUT_DIR/{enet,edges,normals}.losses
#   sh scripts/check/same_losses.sh PIXL_A A_DIR PIXL_B B_DIR   then compares the two sets
set -e
run() {
    pixl=$1; out=$2
    mkdir -p "$out"
    common="--set training.max_minutes=0 --set training.epochs=0 --set training.max_iters=50 \
            --set training.print_interval=1 --set validation.every_minutes=0 --set validation.limit=2 \
            --set training.threads=1 --set output.keep_best=false"
    for t in enet:configs/camvid_enet_anchor.yaml edges:configs/pixelnet/bsds_edges_tiny.yaml \
             normals:configs/pixelnet/synthetic_normals.yaml; do
        name=${t%%:*}; cfg=${t#*:}
        rm -rf "$out/run_$name"
        $pixl train "$cfg" $common --set output.run_dir="$out/run_$name" > "$out/$name.stdout" 2> "$out/$name.stderr"
        # every logged loss as the float32 it is, 9 digits
        python3 -c 'import json, struct, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "train":
        print(r["step"], "%.9g" % struct.unpack("f", struct.pack("f", r["loss"]))[0])' "$out/run_$name/log.jsonl" > "$out/$name.losses"
        echo "$name: $(wc -l < "$out/$name.losses") steps, last: $(tail -1 "$out/$name.losses")"
    done
}
run "$1" "$2"
if [ -n "$3" ]; then
    run "$3" "$4"
    for name in enet edges normals; do
        if cmp -s "$2/$name.losses" "$4/$name.losses"; then echo "$name: identical"; else echo "$name: DIFFER"; diff "$2/$name.losses" "$4/$name.losses" | head -5; fi
    done
fi
