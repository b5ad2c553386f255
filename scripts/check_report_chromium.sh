#!/bin/sh
# check_report_chromium.sh — render run reports with headless Chromium and
# check that each screenshot is non-trivial (exists, > 20 KB).
#
#   scripts/check_report_chromium.sh RUN_DIR [OUT.png]
#       one run: writes RUN_DIR/report.html first when it is missing (with
#       ./pixl or $PIXL); the screenshot defaults to RUN_DIR/report.png.
#   scripts/check_report_chromium.sh --all [--fresh]
#       one run of each task, each about a minute or two on one thread
#       (THREADS=N for more): segmentation (U-Net on the embedded synthetic
#       set), edges (PixelNet tiny on ../shared/datasets/bsds500, skipped when
#       absent) and surface normals (PixelNet tiny on synthetic_normals), under
#       runs/check_report_{seg,edges,normals}; a run that is already there is
#       reused unless --fresh. Each report is written again, checked for its
#       task's sections and screenshotted to docs/img/report_<task>.png.
#
# Installs Debian's chromium package when no browser is found (needs root).
# Network features are switched off: each page must render from its file alone.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
pixl=${PIXL:-$root/pixl}
threads=${THREADS:-1}

find_browser() {
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then echo "$b"; return; fi
    done
    echo "$0: installing chromium" >&2
    apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
    echo chromium
}

# screenshot HTML OUT.png HEIGHT
screenshot() {
    html=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
    out=$2
    [ -n "${browser:-}" ] || browser=$(find_browser)
    profile=$(mktemp -d)
    rm -f "$out"
    # Chromium prints harmless D-Bus/GPU warnings on stderr; keep them for failures only.
    if ! "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor="${SCALE:-1}" \
            --screenshot="$out" --window-size="1280,$3" "file://$html" >"$profile/log.txt" 2>&1; then
        cat "$profile/log.txt" >&2
        rm -rf "$profile"
        echo "$0: $browser failed on $html" >&2
        return 1
    fi
    if [ ! -f "$out" ]; then
        cat "$profile/log.txt" >&2
        rm -rf "$profile"
        echo "$0: no screenshot written to $out" >&2
        return 1
    fi
    rm -rf "$profile"
    size=$(wc -c <"$out")
    if [ "$size" -le 20480 ]; then
        echo "$0: $out is only $size bytes: the page looks empty" >&2
        return 1
    fi
    echo "ok: $out ($size bytes) from $html"
}

# expect HTML TEXT...: every TEXT is in the page
expect() {
    f=$1
    shift
    for t in "$@"; do
        grep -qF -- "$t" "$f" || { echo "$0: '$t' missing from $f" >&2; return 1; }
    done
}

# train NAME CONFIG OVERRIDES...: a short run unless it is there already
train() {
    dir=$root/runs/check_report_$1
    cfg=$2
    shift 2
    if [ "$fresh" = 1 ] || [ ! -f "$dir/best.safetensors" ] || [ ! -f "$dir/log.jsonl" ]; then
        rm -rf "$dir"
        echo "training $dir ..."
        (cd "$root" && "$pixl" train "$cfg" --threads "$threads" --set output.run_dir="$dir" --set data.n_workers=0 "$@" \
            >"$dir.log" 2>&1) || { tail -5 "$dir.log" >&2; echo "$0: training $dir failed" >&2; return 1; }
    fi
}

report() { # NAME: write and screenshot the report of runs/check_report_NAME
    dir=$root/runs/check_report_$1
    "$pixl" report "$dir" --threads "$threads" >/dev/null
}

if [ "${1:-}" = "--all" ]; then
    fresh=0
    [ "${2:-}" = "--fresh" ] && fresh=1
    mkdir -p "$root/docs/img" "$root/runs"
    SCALE=${SCALE:-0.5}

    train seg scripts/check/report_seg_tiny.yaml
    report seg
    expect "$root/runs/check_report_seg/report.html" "best val mIoU" "Validation vs step" "Per-class results" \
        "Confusion matrix" "Sample predictions" "data:image/png;base64,"
    screenshot "$root/runs/check_report_seg/report.html" "$root/docs/img/report_seg.png" 3000

    if [ -d "$root/../shared/datasets/bsds500" ]; then
        train edges configs/pixelnet/bsds_edges_tiny.yaml --set training.max_minutes=2 \
            --set validation.every_minutes=0.4 --set validation.limit=10 --set validation.edge_thresholds=25
        report edges
        expect "$root/runs/check_report_edges/report.html" "best val ODS F" "OIS F" "Precision-recall curve" \
            "lines of equal F" "boundary probability" "edges at the ODS threshold" "data:image/png;base64,"
        if grep -q "No precision-recall curve" "$root/runs/check_report_edges/report.html"; then
            echo "$0: the edge report has no precision-recall curve" >&2
            exit 1
        fi
        screenshot "$root/runs/check_report_edges/report.html" "$root/docs/img/report_edges.png" 3000
    else
        echo "skip: $root/../shared/datasets/bsds500 not found (no edge run)"
    fi

    train normals configs/pixelnet/synthetic_normals.yaml --set model.options.backbone=pixelnet_tiny \
        --set "model.options.mlp=[128, 128]" --set training.max_minutes=2 --set validation.every_minutes=0.25 \
        --set validation.limit=16
    report normals
    expect "$root/runs/check_report_normals/report.html" "best val mean angle" "Angular error vs step" \
        "Within an angle vs step" "predicted normals" "angular error (degrees)" "data:image/png;base64,"
    screenshot "$root/runs/check_report_normals/report.html" "$root/docs/img/report_normals.png" 2600
    exit 0
fi

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 RUN_DIR [OUT.png] | --all [--fresh]" >&2
    exit 2
fi
run=$1
out=${2:-$run/report.png}
[ -d "$run" ] || { echo "$0: $run: not a directory" >&2; exit 1; }
[ -f "$run/report.html" ] || "$pixl" report "$run"
screenshot "$run/report.html" "$out" 2400
