#!/bin/bash
# kill9.sh — crash safety of `pixl train`: a small training on the embedded
# synthetic data set, killed with SIGKILL again and again and resumed with
# --resume each time, against the same training run without interruption.
#
#   scripts/check/kill9.sh [--kills N] [--terms T] [--epochs E] [--workers W] [--pixl PATH] [--out DIR] [--seed S]
#   make check-kill9                      (the same, 20 kills)
#
# The kills take turns between three moments:
#   random   a random moment (0.2 to 2.5 s after the start)
#   write    inside a checkpoint write: the temporary file complete, not yet
#            renamed (the test hook PIXL_TEST_COMMIT_SLEEP_MS holds it there)
#   commit   right after last.safetensors is replaced, before the optimizer
#            state's final rename (the same hook holds it there)
# Before every 4th kill (T times in all, default 5) the run is also stopped
# once with SIGTERM at a random moment: it must save a checkpoint (mostly in
# the middle of an epoch), exit with 143, and resume from there with the
# same data order. --workers sets data.n_workers (default 0: images prepared
# in the training thread).
#
# After every kill: every *.safetensors file of the run directory loads (model
# checkpoints with pixl_model_load, optimizer states read whole, all values
# finite), the model and the optimizer state a resume takes are of the same
# step, and the next start removes the temporary files the kill left. At the
# end: the run finished, no temporary file is left, and last.safetensors,
# last.optim.safetensors and best.safetensors equal the uninterrupted run's
# bit for bit. Prints "kills passed N/N"; exit status 0 when everything holds.
set -u
cd "$(dirname "$0")/../.." || exit 2
KILLS=20
EPOCHS=30
PIXL=build/pixl
OUT=${TMPDIR:-/tmp}/pixl_kill9
SEED=$$
TERMS=5
WORKERS=0
while [ $# -gt 0 ]; do
    case $1 in
    --kills) KILLS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --pixl) PIXL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --terms) TERMS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    *) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 2 ;;
    esac
done
RANDOM=$SEED
[ -x "$PIXL" ] || { echo "kill9: $PIXL not found (make first)"; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
CHECK=$OUT/ckpt_check
# shellcheck disable=SC2046
cc -O1 -std=c11 -D_GNU_SOURCE -Iinclude scripts/check/ckpt_check.c "$(dirname "$PIXL")/libpixl.a" \
    $(make -s --no-print-directory print-ldlibs) -o "$CHECK" || { echo "kill9: cannot build ckpt_check"; exit 2; }

# a small U-Net on 16x16 synthetic images: 16 steps an epoch, a checkpoint
# (validation, best.safetensors, last.safetensors) after every epoch
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
  flip: true
  n_workers: $WORKERS
training:
  epochs: $EPOCHS
  batch_size: 32
  seed: 3
  threads: 1
  print_interval: 4
  optimizer:
    name: adam
    lr: 0.003
  lr_schedule:
    name: poly
validation:
  every_epochs: 1
  limit: 8
EOF

now() { date +%s.%N; }
t0=$(now)
echo "kill9: reference run ($EPOCHS epochs of 16 steps, uninterrupted)"
if ! "$PIXL" train "$CFG" --set output.run_dir="$OUT/ref" > "$OUT/ref.log" 2>&1; then
    echo "kill9: the reference run failed:"; tail -5 "$OUT/ref.log"; exit 1
fi
t_ref=$(echo "$(now) - $t0" | bc)

RUN=$OUT/run
alive() { kill -0 "$1" 2> /dev/null; }
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
# wait until `$@` succeeds or the process $pid ends; 0 when `$@` succeeded
wait_for() {
    local i=0
    while alive "$pid"; do
        "$@" && return 0
        sleep 0.01
        i=$((i + 1))
        [ $i -gt 6000 ] && return 1
    done
    return 1
}
tmp_names() { (cd "$RUN" 2> /dev/null && ls -1 -- *.tmp.* 2> /dev/null); }
ckpt_tmp_seen() { # the n-th distinct temporary file of a .safetensors
    local f
    for f in "$RUN"/*.safetensors.tmp.*; do
        [ -e "$f" ] || continue
        grep -qxF "${f##*/}" "$OUT/before" && continue
        grep -qxF "$f" "$OUT/seen" 2> /dev/null || echo "$f" >> "$OUT/seen"
    done
    [ "$(wc -l < "$OUT/seen")" -ge "$need" ]
}
ino() { stat -c %i "$RUN/last.safetensors" 2> /dev/null || echo none; }
replaced() { [ "$(ino)" != "$ino0" ] && [ "$(ino)" != none ]; }

t1=$(now)
kills=0 passed=0 starts=0 finished=0
n_random=0 n_write=0 n_commit=0 n_next=0 n_left=0
pending=""    # kills whose check waits for a start that gets past loading their checkpoint
pending_bad=""
expect_resume=""
terms=0 term_at="" term_bad=0 n_mid=0
leftover=""   # the temporary files those kills left
fail() { echo "  FAIL: $*"; pending_bad="$pending_bad $1"; }
while [ $starts -lt $((KILLS * 4 + 20)) ]; do
    starts=$((starts + 1))
    resume=()
    [ -f "$RUN/last.safetensors" ] && resume=(--resume "$RUN")
    mode=none
    [ $kills -lt "$KILLS" ] && mode=$(echo random write commit | cut -d' ' -f$((kills % 3 + 1)))
    # before every 4th kill, a SIGTERM stop: a checkpoint in the middle of an epoch
    if [ "$mode" != none ] && [ $terms -lt "$TERMS" ] && [ $((kills % 4)) = 3 ] && [ "$term_at" != $kills ]; then
        mode=term term_at=$kills
    fi
    hook=
    [ "$mode" = write ] || [ "$mode" = commit ] && hook=300
    tmp_names > "$OUT/before" # leftovers of the last kill: not a write of this start
    : > "$OUT/seen"
    ino0=$(ino)
    log=$OUT/start_$starts.log
    PIXL_TEST_COMMIT_SLEEP_MS=$hook "$PIXL" train "$CFG" --set output.run_dir="$RUN" "${resume[@]}" > "$log" 2>&1 &
    pid=$!
    hit=1
    case $mode in
    random) ms_sleep $((200 + RANDOM % 2300)) ;;
    write) need=$((1 + RANDOM % 3)); wait_for ckpt_tmp_seen || hit=0 ;;
    commit) wait_for replaced || hit=0 ;;
    term) ms_sleep $((300 + RANDOM % 1700)); alive $pid && kill -TERM $pid; hit=0 ;;
    none) hit=0 ;;
    esac
    killed=0
    if [ $hit = 1 ] && alive $pid; then
        kill -9 $pid
        killed=1
    fi
    wait $pid 2> /dev/null
    rc=$?
    # the kills before pass once a start has resumed from their checkpoint and removed their leftovers
    if [ -n "$pending" ] && grep -q '^train ' "$log"; then
        [ -n "$expect_resume" ] && ! grep -q '^resumed from ' "$log" && fail "$pending" "the next start did not resume"
        for f in $leftover; do
            [ -e "$RUN/$f" ] && fail "$pending" "$f left by a kill was not removed by the next start"
        done
        for k in $pending; do
            case " $pending_bad " in *" $k "*) ;; *) passed=$((passed + 1)) ;; esac
        done
        pending="" leftover="" expect_resume=""
    fi
    if [ "$mode" = term ]; then
        terms=$((terms + 1))
        msg=$(grep -o 'stopped by SIGTERM at step [0-9]*' "$log")
        if [ $rc = 143 ] && [ -n "$msg" ]; then
            s=${msg##* }
            step=$("$CHECK" load "$RUN/last.safetensors" 2> /dev/null | sed -n 's/.* step //p')
            [ $((s % 16)) != 0 ] && n_mid=$((n_mid + 1))
            echo "SIGTERM $terms: exit status 143, saved at step $s (batch $((s % 16)) of its epoch)"
            [ "$s" = "$step" ] || { echo "  FAIL: last.safetensors is of step $step"; term_bad=$((term_bad + 1)); }
            # shellcheck disable=SC2046
            "$CHECK" load $(ls "$RUN"/*.safetensors) > "$OUT/check.txt" && "$CHECK" pair "$RUN" >> "$OUT/check.txt" ||
                { cat "$OUT/check.txt"; echo "  FAIL: after SIGTERM"; term_bad=$((term_bad + 1)); }
            [ -z "$(tmp_names)" ] || { echo "  FAIL: SIGTERM left $(tmp_names)"; term_bad=$((term_bad + 1)); }
        elif [ $rc != 0 ]; then
            echo "  FAIL: SIGTERM: exit status $rc, message '${msg}'"; tail -3 "$log"; term_bad=$((term_bad + 1))
        fi
        continue
    fi
    if [ $killed = 1 ]; then
        kills=$((kills + 1))
        eval "n_$mode=\$((n_$mode + 1))"
        pending="$pending $kills"
        step=$("$CHECK" load "$RUN/last.safetensors" 2> /dev/null | sed -n 's/.* step //p')
        left=$(tmp_names | tr '\n' ' ')
        leftover="$leftover $left"
        [ -n "$left" ] && n_left=$((n_left + 1))
        [ -e "$RUN/last.safetensors" ] && expect_resume=1
        echo "kill $kills ($mode): last.safetensors at step ${step:-none}${left:+; left: $left}"
        files=$(ls "$RUN"/*.safetensors 2> /dev/null)
        if [ -n "$files" ]; then
            # shellcheck disable=SC2086
            "$CHECK" load $files > "$OUT/check.txt" || { cat "$OUT/check.txt"; fail $kills "a checkpoint does not load"; }
        fi
        "$CHECK" pair "$RUN" > "$OUT/check.txt" || { cat "$OUT/check.txt"; fail $kills "model and optimizer state disagree"; }
        grep -q 'last.optim.next' "$OUT/check.txt" && n_next=$((n_next + 1)) && echo "  the optimizer state of step $step is in last.optim.next.safetensors"
        continue
    fi
    if [ $rc -ne 0 ]; then
        echo "kill9: pixl train exited with $rc:"; tail -5 "$log"
        [ -n "$pending" ] && fail "$pending" "the run does not resume"
        break
    fi
    if [ "$mode" = none ]; then finished=1; break; fi
    # the run ended before the kill: start again, for the same kill
done
cat "$OUT"/start_*.log > "$OUT/run.log" 2> /dev/null
t_run=$(echo "$(now) - $t1" | bc)

ok=1
echo "kills: $kills ($n_random at random moments, $n_write inside a checkpoint write, $n_commit between a checkpoint's commit and its last rename); in $n_next the optimizer state was still in last.optim.next.safetensors, $n_left left temporary files"
echo "kills passed $passed/$KILLS"
[ "$passed" -eq "$KILLS" ] || ok=0
echo "SIGTERM stops: $terms ($n_mid in the middle of an epoch), $term_bad failed"
[ "$term_bad" = 0 ] || ok=0
if [ $finished = 1 ]; then
    left=$(tmp_names)
    [ -n "$left" ] && { echo "FAIL: temporary files left at the end: $left"; ok=0; }
    [ -e "$RUN/last.optim.next.safetensors" ] && { echo "FAIL: last.optim.next.safetensors left at the end"; ok=0; }
    for f in last.safetensors last.optim.safetensors best.safetensors; do
        printf '%s: ' "$f"
        "$CHECK" same "$OUT/ref/$f" "$RUN/$f" || ok=0
    done
    "$PIXL" report "$RUN" > /dev/null 2> "$OUT/report.log" || { echo "FAIL: pixl report on the run: $(cat "$OUT/report.log")"; ok=0; }
else
    echo "FAIL: the killed run did not finish"; ok=0
fi
printf 'time: reference run %.1f s, killed and resumed run %.1f s (%d starts)\n' "$t_ref" "$t_run" "$starts"
if [ $ok = 1 ]; then echo "kill9: PASS"; else echo "kill9: FAIL (logs in $OUT)"; exit 1; fi
