#!/bin/sh
# Install what pixl needs on a fresh Debian (bookworm) machine.
# Build: a C compiler, make, pkg-config, OpenBLAS, cJSON, libpng, libjpeg-turbo, libyaml,
# libmatio (BSDS500 .mat ground truth), libmicrohttpd (the web page of pixl annotate).
# Fuzzing (make fuzz, docs/reliability.md): clang, its libFuzzer and sanitizer runtimes
# (libclang-rt-14-dev) and its OpenMP runtime and omp.h (libomp-14-dev).
# Optional (reference scripts and benchmarks against PyTorch, torchvision for the
# backbone references and make check-convert): PIXL_WITH_TORCH=1.
# Optional (make check-annotate: pixl annotate driven in headless Chromium): PIXL_WITH_BROWSER=1.
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS="build-essential pkg-config libopenblas-dev libcjson-dev libpng-dev libjpeg62-turbo-dev libyaml-dev libmatio-dev libmicrohttpd-dev"
PKGS="$PKGS clang libclang-rt-14-dev libomp-14-dev"
[ "${PIXL_WITH_TORCH:-0}" = "1" ] && PKGS="$PKGS python3-torch python3-torchvision python3-numpy"
[ "${PIXL_WITH_BROWSER:-0}" = "1" ] && PKGS="$PKGS chromium chromium-driver python3-selenium"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
