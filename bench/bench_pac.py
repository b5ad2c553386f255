#!/usr/bin/python3
"""bench_pac.py — PyTorch side of `pixl bench pac`.

PAC layers computed the way NVlabs/pacnet's native_impl path does it
(float32): the adapting kernel from unfolded guidance (subtract the centre
tap, square, sum over channels, exp(-x/2)), then unfold the input, multiply
by the kernel and contract with the weight by einsum; the transposed layer
first zero-inserts the input by stride (conv_transpose2d with a ones 1x1
kernel per channel), pads by (k-1)*d-p (+output_padding) and correlates.
PacCRF: pacnet's mean-field loop with one '4d' 5x5 term (11 classes, 5
steps) on the same native primitives. Times forward (no grad) and forward+backward (gradients of input, guidance,
weight, bias) with torch.set_num_threads(--threads); median of --runs after
warm-up, milliseconds. One JSON object on stdout:
    {"threads": N, "torch": "1.13.0", "ops": {"name": {"fwd": ms, "fwdbwd": ms}}}
Names and shapes match tools/cmd_bench_pac.c.
Usage: bench_pac.py [--threads N] [--runs R] [--filter STR]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F


def unfold6(x, k, s, p, d):
    B, C, H, W = x.shape
    OH = (H + 2 * p - d * (k - 1) - 1) // s + 1
    OW = (W + 2 * p - d * (k - 1) - 1) // s + 1
    return F.unfold(x, k, dilation=d, padding=p, stride=s).view(B, C, k, k, OH, OW)


def packernel_gauss(guide, k, s, p, d):
    B, C = guide.shape[:2]
    x = unfold6(guide, k, s, p, d)
    x = x.view(B, C, k * k, *x.shape[-2:])
    x = x - x[:, :, k * k // 2:k * k // 2 + 1]
    x = (x * x).sum(1, keepdim=True)
    x = torch.exp(-0.5 * x)
    return x.view(B, 1, k, k, *x.shape[-2:])


def pacconv(x, K, w, b, s, p, d):
    k = w.shape[-1]
    cols = unfold6(x, k, s, p, d)
    y = torch.einsum("ijklmn,ojkl->iomn", cols * K, w)
    return y + b.view(1, -1, 1, 1)


def pac_layer(x, guide, w, b, k, s, p, d):
    return pacconv(x, packernel_gauss(guide, k, s, p, d), w, b, s, p, d)


def pac_t_layer(x, guide, w, b, k, s, p, op, d):
    K = packernel_gauss(guide, k, 1, (k - 1) * d // 2, d)  # guide at output resolution, "same" padding
    ch = x.shape[1]
    z = F.conv_transpose2d(x, x.new_ones(ch, 1, 1, 1), stride=s, groups=ch)
    P = (k - 1) * d - p
    z = F.pad(z, (P, P + op, P, P + op))
    return pacconv(z, K, w.permute(1, 0, 2, 3), b, 1, 0, d)


def paccrf(unary, feat, w, uw, steps):
    """pacnet's PacCRF, one '4d' term (PacConv2d C->C 5x5, no bias), log_Q output"""
    K = packernel_gauss(feat, 5, 1, 2, 1)
    logQ = unary
    for _ in range(steps):
        Q = F.softmax(logQ, dim=1)
        cols = unfold6(Q, 5, 1, 2, 1)
        msg = torch.einsum("ijklmn,ojkl->iomn", cols * K, w)
        logQ = unary * uw - msg
    return logQ


def median_ms(fn, runs, warmup=2, warmup_s=0.3):
    t0 = time.perf_counter()
    n = 0
    while n < warmup or time.perf_counter() - t0 < warmup_s:
        fn()
        n += 1
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {}
    cases = [
        ("pacconv5x5_64_64", (1, 64, 180, 240), (1, 3, 180, 240), False),
        ("pacconvT5x5_s2_64_64", (1, 64, 90, 120), (1, 3, 180, 240), True),
        ("paccrf11_5steps", (1, 11, 180, 240), (1, 5, 180, 240), None),
    ]
    for name, xs, gs, transposed in cases:
        if a.filter and a.filter not in name:
            continue
        x = torch.randn(*xs, requires_grad=True)
        g = torch.randn(*gs, requires_grad=True)
        w = (torch.randn(64, 64, 5, 5) * 0.02).requires_grad_(True)
        b = torch.zeros(64, requires_grad=True)
        if transposed is None:
            wc = (torch.randn(11, 11, 5, 5) * 0.1).requires_grad_(True)
            uw = torch.ones(1, requires_grad=True)
            fn = lambda: paccrf(x, g, wc, uw, 5)  # noqa: E731
        elif transposed:
            fn = lambda: pac_t_layer(x, g, w, b, 5, 2, 2, 1, 1)  # noqa: E731
        else:
            fn = lambda: pac_layer(x, g, w, b, 5, 1, 2, 1)  # noqa: E731

        def fwd():
            with torch.no_grad():
                fn()

        y = fn()
        go = torch.randn_like(y)
        del y

        def fwdbwd():
            fn().backward(go)

        out[name] = {"fwd": median_ms(fwd, a.runs), "fwdbwd": median_ms(fwdbwd, a.runs)}
    json.dump({"threads": a.threads, "torch": torch.__version__, "ops": out}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
