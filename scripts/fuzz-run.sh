#!/bin/sh
# Run every fuzz harness of `make fuzz` for SECONDS seconds each (make fuzz-run SECONDS=N).
# Each harness works on its own corpus under $FUZZ_BUILD/corpus/<name>/, a copy of the
# seed corpus fuzz/corpus/<name>/ plus what earlier runs found (the repository's seed
# folders are never written). Crash, leak and sanitizer inputs go to
# $FUZZ_BUILD/crashes/<name>/, the log to $FUZZ_BUILD/logs/<name>.log. Prints one line
# per harness (executions per second, final corpus size) into $FUZZ_BUILD/summary.txt;
# exits 1 when any harness found a crash, leak, timeout or sanitizer report. Running out
# of memory (-rss_limit_mb=2048, -malloc_limit_mb=2048) ends that harness's run and is
# reported as "oom", without failing, unless FUZZ_FAIL_ON_OOM=1.
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
summary="$B/summary.txt"
printf '%-14s %8s %10s %8s %10s  %s\n' harness seconds execs exec/s corpus result | tee "$summary"
failed=0
for name in "$@"; do
    bin="$B/fuzz/fuzz_$name"
    [ -x "$bin" ] || { echo "fuzz-run: $bin not built (make fuzz)" >&2; exit 2; }
    work="$B/corpus/$name"
    mkdir -p "$work" "$B/crashes/$name"
    cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
    log="$B/logs/$name.log"
    "$bin" -max_total_time="$S" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 -close_fd_mask=1 \
        -print_final_stats=1 -artifact_prefix="$B/crashes/$name/" "$work" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[bKM]*b*' "$log" | tail -1 | sed 's/corp: //')
    if [ $rc -eq 0 ]; then res=ok
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log" && [ "${FUZZ_FAIL_ON_OOM:-0}" != 1 ]; then
        # a file claiming a giant size ran past -rss_limit_mb: resource limits are
        # their own work (docs/reliability.md); reported, not a failure (FUZZ_FAIL_ON_OOM=1: fail)
        res="oom after $(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#') runs (input in $B/crashes/$name/)"
    else res="FAILED (exit $rc, see $log and $B/crashes/$name/)"; failed=1; fi
    printf '%-14s %8s %10s %8s %10s  %s\n' "$name" "$S" "${execs:-?}" "${eps:-?}" "${corp:-?}" "$res" | tee -a "$summary"
done
echo "fuzz-run: summary in $summary"
exit $failed
