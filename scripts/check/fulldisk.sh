#!/bin/bash
# fulldisk.sh — `pixl train` when the disk fills up, simulated with a file-size
# limit (ulimit -f: a write past it fails with EFBIG, as one on a full disk
# fails with ENOSPC; pixl train ignores SIGXFSZ so that the write fails
# instead of the process dying). A small training runs one epoch, then
# resumes under the limit until its next checkpoint write fails, in three
# cases: the first file to fail is best.safetensors; the optimizer state
# (output.keep_best=false); last.safetensors after the optimizer state was
# written (SGD without momentum: a small optimizer state). Each time: exit
# status 1, a message naming the file and the reason, the previous
# checkpoint loadable and of its step, no temporary file left.
#
#   scripts/check/fulldisk.sh [--pixl PATH] [--out DIR]
set -u
cd "$(dirname "$0")/../.." || exit 2
PIXL=build/pixl
OUT=${TMPDIR:-/tmp}/pixl_fulldisk
while [ $# -gt 0 ]; do
    case $1 in
    --pixl) PIXL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
[ -x "$PIXL" ] || { echo "fulldisk: $PIXL not found (make first)"; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
CHECK=$OUT/ckpt_check
# shellcheck disable=SC2046
cc -O1 -std=c11 -D_GNU_SOURCE -Iinclude scripts/check/ckpt_check.c "$(dirname "$PIXL")/libpixl.a" \
    $(make -s --no-print-directory print-ldlibs) -o "$CHECK" || { echo "fulldisk: cannot build ckpt_check"; exit 2; }
CFG=$OUT/tiny.yaml
cat > "$CFG" <<EOF
model:
  arch: unet
  options:
    width: 0.25
data:
  dataset: synthetic
  img_rows: 16
  img_cols: 16
  n_workers: 0
training:
  epochs: 3
  batch_size: 32
  threads: 1
  optimizer:
    name: adam
    lr: 0.003
validation:
  every_epochs: 1
  limit: 8
EOF
LIMIT_KB=512 # the model checkpoint is about 1.9 MB, the Adam state 3.9 MB, config and log a few KB
ok=1
# case NAME FILE_EXPECTED SETTINGS...
run_case() {
    local name=$1 want=$2
    shift 2
    local run=$OUT/$name
    echo "== $name: the write of $want fails"
    if ! "$PIXL" train "$CFG" --set output.run_dir="$run" --set training.epochs=1 "$@" > "$OUT/$name.1.log" 2>&1; then
        echo "FAIL: the first epoch failed"; tail -3 "$OUT/$name.1.log"; ok=0; return
    fi
    local before
    before=$("$CHECK" load "$run/last.safetensors" | sed -n 's/.* step //p')
    (ulimit -f $LIMIT_KB; exec "$PIXL" train "$CFG" --set output.run_dir="$run" "$@" --resume "$run") \
        > "$OUT/$name.2.log" 2>&1
    local rc=$?
    local msg
    msg=$(grep '^pixl train:' "$OUT/$name.2.log")
    echo "exit status $rc; message: $msg"
    [ $rc = 1 ] || { echo "FAIL: exit status $rc, not 1"; ok=0; }
    case $msg in *"$run/$want"*"File too large"*) ;; *) echo "FAIL: the message does not name $run/$want and the reason"; ok=0 ;; esac
    local after
    after=$("$CHECK" load "$run/last.safetensors" | sed -n 's/.* step //p')
    # shellcheck disable=SC2046
    "$CHECK" load $(ls "$run"/*.safetensors) > "$OUT/check.txt" || { cat "$OUT/check.txt"; echo "FAIL: a checkpoint does not load"; ok=0; }
    "$CHECK" pair "$run" > "$OUT/check.txt" || { cat "$OUT/check.txt"; echo "FAIL: model and optimizer state disagree"; ok=0; }
    echo "last.safetensors: step $before before, step $after after; files: $(cd "$run" && ls | tr '\n' ' ')"
    [ "$before" = "$after" ] || { echo "FAIL: last.safetensors changed"; ok=0; }
    local left
    left=$(cd "$run" && ls -1 | grep -E '\.tmp\.|\.next\.')
    [ -z "$left" ] || { echo "FAIL: left behind: $left"; ok=0; }
    # the same run resumes and finishes once there is room again
    if "$PIXL" train "$CFG" --set output.run_dir="$run" "$@" --resume "$run" > "$OUT/$name.3.log" 2>&1; then
        echo "resumed without the limit: finished at step $("$CHECK" load "$run/last.safetensors" | sed -n 's/.* step //p')"
    else
        echo "FAIL: the run does not resume after the failure"; tail -3 "$OUT/$name.3.log"; ok=0
    fi
}
run_case best best.safetensors
run_case optim last.optim.next.safetensors --set output.keep_best=false
run_case model last.safetensors --set output.keep_best=false --set training.optimizer.name=sgd \
    --set training.optimizer.momentum=0
if [ $ok = 1 ]; then echo "fulldisk: PASS"; else echo "fulldisk: FAIL (logs in $OUT)"; exit 1; fi
