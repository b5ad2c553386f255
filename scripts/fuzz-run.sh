#!/bin/sh
# Run every fuzz harness of `make fuzz` for SECONDS seconds each (make fuzz-run SECONDS=N).
# fuzz/dict/<name>.dict, when there, is the harness's libFuzzer dictionary (the keys and
# words of the files it reads). Each harness works on its own corpus under $FUZZ_BUILD/corpus/<name>/, a copy of the
# seed corpus fuzz/corpus/<name>/ plus what earlier runs found (the repository's seed
# folders are never written). Crash, leak and sanitizer inputs go to
# $FUZZ_BUILD/crashes/<name>/, the log to $FUZZ_BUILD/logs/<name>.log. Prints one line
# per harness (executions per second, final corpus size) into $FUZZ_BUILD/summary.txt;
# exits 1 when any harness found a crash, leak, timeout or sanitizer report. Running out
# of memory (-rss_limit_mb=2048, -malloc_limit_mb=2048) is counted and reported, and the
# harness goes on for the time left, unless FUZZ_FAIL_ON_OOM=1 (then it is a failure).
# FUZZ_SUMMARY=FILE: the summary there instead (two runs side by side on disjoint names).
#   usage: scripts/fuzz-run.sh FUZZ_BUILD SECONDS [NAME...]
set -u
B=${1:?build folder}
S=${2:?seconds}
shift 2
if [ $# -eq 0 ]; then
    set -- $(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_\(.*\)\.c|\1|')
fi
# one thread for pixl; allocations over 512 MB return NULL (the readers must say so), a leak is a failure
export PIXL_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1:max_allocation_size_mb=512}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# the harnesses write each input to a file: in memory when /dev/shm is there (many times faster)
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
mkdir -p "$B/corpus" "$B/crashes" "$B/logs"
summary="${FUZZ_SUMMARY:-$B/summary.txt}"
printf '%-14s %8s %10s %8s %10s  %s\n' harness seconds execs exec/s corpus result | tee "$summary"
failed=0
for name in "$@"; do
    bin="$B/fuzz/fuzz_$name"
    [ -x "$bin" ] || { echo "fuzz-run: $bin not built (make fuzz)" >&2; exit 2; }
    work="$B/corpus/$name"
    mkdir -p "$work" "$B/crashes/$name"
    cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
    log="$B/logs/$name.log"
    : > "$log"
    dict=""
    [ -f fuzz/dict/"$name".dict ] && dict="-dict=fuzz/dict/$name.dict"
    # run for S seconds; running out of memory (a file claiming a giant size, past
    # -rss_limit_mb) ends a run: it is counted and the harness starts again for the
    # time left (FUZZ_FAIL_ON_OOM=1: a failure instead). Limits on the sizes a file
    # may claim are their own work (docs/reliability.md).
    t0=$(date +%s); execs=0; ooms=0; res=ok; corp=
    while :; do
        left=$((S - ($(date +%s) - t0)))
        [ $left -gt 0 ] || break
        "$bin" -max_total_time="$left" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 -close_fd_mask=1 \
            -print_final_stats=1 -artifact_prefix="$B/crashes/$name/" $dict "$work" > "$log.run" 2>&1
        rc=$?
        cat "$log.run" >> "$log"
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -1)
        execs=$((execs + ${n:-0}))
        corp=$(grep -o 'corp: [0-9]*/[0-9]*[bKM]*b*' "$log.run" | tail -1 | sed 's/corp: //')
        [ $rc -eq 0 ] && break
        if grep -q 'ERROR: libFuzzer: out-of-memory' "$log.run" && [ "${FUZZ_FAIL_ON_OOM:-0}" != 1 ]; then
            ooms=$((ooms + 1))
        else
            res="FAILED (exit $rc, see $log and $B/crashes/$name/)"; failed=1; break
        fi
    done
    rm -f "$log.run"
    secs=$(($(date +%s) - t0))
    eps=$((execs / (secs > 0 ? secs : 1)))
    [ $ooms -gt 0 ] && [ "$res" = ok ] && res="ok; $ooms x out of memory (inputs in $B/crashes/$name/)"
    printf '%-14s %8s %10s %8s %10s  %s\n' "$name" "$secs" "$execs" "$eps" "${corp:-?}" "$res" | tee -a "$summary"
done
echo "fuzz-run: summary in $summary"
exit $failed
