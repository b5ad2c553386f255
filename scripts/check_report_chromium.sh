#!/bin/sh
# check_report_chromium.sh — render a run's HTML report with headless
# Chromium and check that the screenshot is non-trivial (exists, > 20 KB).
#
#   scripts/check_report_chromium.sh RUN_DIR [OUT.png]
#
# Writes RUN_DIR/report.html first when it is missing (with ./pixl or
# $PIXL). Installs Debian's chromium package when no browser is found
# (needs root). The screenshot defaults to RUN_DIR/report.png. Network
# features are switched off: the page must render from the file alone.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 RUN_DIR [OUT.png]" >&2
    exit 2
fi
run=$1
out=${2:-$run/report.png}
[ -d "$run" ] || { echo "$0: $run: not a directory" >&2; exit 1; }

if [ ! -f "$run/report.html" ]; then
    pixl=${PIXL:-$(dirname "$0")/../pixl}
    "$pixl" report "$run"
fi

browser=
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
    echo "$0: installing chromium" >&2
    apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
    browser=chromium
fi

html=$(cd "$(dirname "$run/report.html")" && pwd)/report.html
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT INT TERM
rm -f "$out"
# Chromium prints harmless D-Bus/GPU warnings on stderr; keep them for failures only.
if ! "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --screenshot="$out" --window-size=1280,2400 \
        "file://$html" >"$profile/log.txt" 2>&1; then
    cat "$profile/log.txt" >&2
    echo "$0: $browser failed" >&2
    exit 1
fi
if [ ! -f "$out" ]; then
    cat "$profile/log.txt" >&2
    echo "$0: no screenshot written to $out" >&2
    exit 1
fi
size=$(wc -c <"$out")
if [ "$size" -le 20480 ]; then
    echo "$0: $out is only $size bytes: the page looks empty" >&2
    exit 1
fi
echo "ok: $out ($size bytes) from $html"
