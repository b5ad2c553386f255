#!/usr/bin/python3
"""bench_torch_ops.py — PyTorch side of `pixl bench ops`.

Times forward and backward (median of --runs after warm-up, milliseconds)
of the same ops and shapes as tools/cmd_bench.c, with
torch.set_num_threads(--threads), and prints one JSON object on stdout:
    {"threads": N, "torch": "1.13.0", "ops": {"name": {"fwd": ms, "bwd": ms}}}
Backward is timed alone: y.backward(grad, retain_graph=True) after one
forward, with gradients of the input and of every parameter.
Usage: bench_torch_ops.py [--threads N] [--filter STR] [--runs R]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(ic, oc, k, stride=1, padding=1, groups=1):
    return nn.Conv2d(ic, oc, k, stride=stride, padding=padding, groups=groups, bias=True)


class BNReLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(x))


class Resize(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


# name -> (module factory, input shape); names and shapes match cmd_bench.c
OPS = [
    ("conv3x3_64_64", lambda: conv(64, 64, 3), (1, 64, 180, 240)),
    ("conv3x3_128_128", lambda: conv(128, 128, 3), (1, 128, 90, 120)),
    ("conv3x3_s2_64_128", lambda: conv(64, 128, 3, stride=2), (1, 64, 180, 240)),
    ("dwconv3x3_128", lambda: conv(128, 128, 3, groups=128), (1, 128, 90, 120)),
    ("conv1x1_256_64", lambda: conv(256, 64, 1, padding=0), (1, 256, 90, 120)),
    ("convT3x3_s2_64", lambda: nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1),
     (1, 64, 90, 120)),
    ("bn_relu_64", lambda: BNReLU(64), (1, 64, 180, 240)),
    ("resize_bilinear_x2", lambda: Resize(), (1, 64, 90, 120)),
    ("maxpool2x2", lambda: nn.MaxPool2d(2), (1, 64, 180, 240)),
]


def median_ms(fn, runs, warmup=3, warmup_s=0.3):
    # warm-up by count and by time: thread pools and allocators settle
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
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--filter", default="")
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {}
    for name, make, shape in OPS:
        if a.filter and a.filter not in name:
            continue
        m = make().train()
        x = torch.randn(*shape, requires_grad=True)
        with torch.no_grad():
            y = m(x)
        g = torch.randn_like(y)

        def fwd():
            with torch.no_grad():
                m(x)

        fwd_ms = median_ms(fwd, a.runs)
        y = m(x)

        def bwd():
            y.backward(g, retain_graph=True)

        bwd_ms = median_ms(bwd, a.runs)
        out[name] = {"fwd": fwd_ms, "bwd": bwd_ms}
    json.dump({"threads": a.threads, "torch": torch.__version__, "ops": out}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
