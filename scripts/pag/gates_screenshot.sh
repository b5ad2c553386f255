#!/bin/sh
# The Gates section of a PAG run's report as a picture: writes the report
# (pixl report RUN) when it is missing, cuts the section out with the page's
# style, and screenshots it with headless Chromium.
#   sh scripts/pag/gates_screenshot.sh runs/pag/camvid_ft_l0.7 docs/img/pag_gates.png
set -eu
RUN=$1
OUT=$2
PIXL=${PIXL:-./pixl}
[ -f "$RUN/report.html" ] || $PIXL report "$RUN" --threads 1 >/dev/null
grep -q "<h2>Gates</h2>" "$RUN/report.html" || { echo "$0: $RUN/report.html has no Gates section" >&2; exit 1; }
page=$(mktemp -d)
awk '
    /<\/head>/ { print "</head><body><main>"; head = 1; next }
    !head { print; next }
    /^<h2>Gates<\/h2>/ { on = 1 }
    on && (/^<details>/ || /^<\/main>/ || (/^<h2>/ && !/Gates/)) { exit }
    on { print }
    END { print "</main></body></html>" }
' "$RUN/report.html" > "$page/gates.html"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome) ||
    { echo "$0: no Chromium found (apt-get install -y chromium)" >&2; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --user-data-dir="$page/profile" --hide-scrollbars --force-device-scale-factor="${SCALE:-1}" \
    --screenshot="$OUT" --window-size="${SIZE:-1280,1000}" "file://$page/gates.html" >"$page/log.txt" 2>&1 ||
    { cat "$page/log.txt" >&2; rm -rf "$page"; exit 1; }
rm -rf "$page"
[ -s "$OUT" ] || { echo "$0: no screenshot written to $OUT" >&2; exit 1; }
echo "ok: $OUT ($(wc -c < "$OUT") bytes)"
