#!/usr/bin/python3
"""make_pool_ref.py - reference cases for pixl's pooling and resampling ops
that ../shared/golden/torch does not cover, made by PyTorch 1.13 in float64.

Writes tests/ref/pool/*.safetensors in the case format of
../shared/golden/README.md (metadata op/params/inputs/mode/tolerances,
float64 tensors computed from float32-representable inputs, `output` or
`output.<i>`, `grad_output`, `grad.<name>`), written by hand with json+struct.

Cases: dilated and non-square max pooling (with ceil_mode), max unpooling
with an explicit output_size, ceil_mode average pooling with
count_include_pad=False, non-divisible adaptive pooling, bilinear
downsampling (align_corners True and False, by size and by scale), nearest
downsampling, nearest and bilinear by non-integer scale factors.

Usage: /usr/bin/python3 scripts/ref/make_pool_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref", "pool")
TOL = "1e-4"
MADE_BY = "scripts/ref/make_pool_ref.py, torch " + torch.__version__


def write_case(path, meta, tensors):
    """tensors: list of (name, tensor) with float64 or int64 dtype"""
    st_write.write(path, tensors, meta)


def f32(t):
    """float32-representable float64 values"""
    return t.float().double()


def uniform(shape, g):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1)


def spaced(shape, g):
    """distinct values 0.05 apart (no ties, none near 0) in random order"""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=g).double()
    return f32(((perm - n // 2) * 0.05 + 0.025).reshape(shape))


def make(name, op, params, fn, inputs, g, int_inputs=()):
    """fn(*inputs) -> tensor or tuple (second element integer, no gradient)"""
    xs = []
    for nm, t in inputs:
        if nm in int_inputs:
            xs.append(t)
        else:
            xs.append(t.clone().requires_grad_(True))
    out = fn(*xs)
    tensors = [(nm, t) for nm, t in inputs]
    if isinstance(out, tuple):
        y, idx = out
        gy = uniform(y.shape, g)
        tensors += [("output.0", y), ("grad_output.0", gy), ("output.1", idx)]
    else:
        y = out
        gy = uniform(y.shape, g)
        tensors += [("output", y), ("grad_output", gy)]
    (y * gy).sum().backward()
    for (nm, _), x in zip(inputs, xs):
        if nm not in int_inputs and x.grad is not None:
            tensors.append(("grad." + nm, x.grad))
    meta = {
        "op": op,
        "params": json.dumps(params),
        "inputs": json.dumps([nm for nm, _ in inputs]),
        "mode": "train",
        "rtol_f32": TOL,
        "atol_f32": TOL,
        "made_by": MADE_BY,
    }
    write_case(os.path.join(OUT, name + ".safetensors"), meta, tensors)
    print(name, tuple(y.shape))


def module_fn(cls, params):
    m = cls(**params).double()
    return lambda *a: m(*a)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    x13 = lambda: spaced((2, 3, 13, 11), g)

    # --- max pooling: dilation, non-square, ceil_mode
    for name, p in [
        ("maxpool_dil2", {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "return_indices": True}),
        ("maxpool_nonsq_ceil", {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 1], "dilation": [2, 1],
                                "ceil_mode": True, "return_indices": True}),
        ("maxpool_3x3s1", {"kernel_size": 3, "stride": 1, "padding": 1, "return_indices": True}),
        ("maxpool_2x2_odd_ceil", {"kernel_size": 2, "ceil_mode": True, "return_indices": True}),
        ("maxpool_nopad_k3s3_noidx", {"kernel_size": 3, "stride": 3}),
    ]:
        make(name, "MaxPool2d", p, module_fn(torch.nn.MaxPool2d, p), [("input", x13())], g)
    # 3-d input (C,H,W)
    p = {"kernel_size": 2, "stride": 2, "return_indices": True}
    make("maxpool_chw", "MaxPool2d", p, module_fn(torch.nn.MaxPool2d, p), [("input", spaced((3, 9, 11), g))], g)

    # --- max unpooling with output_size, overlapping pool windows
    xin = spaced((2, 3, 13, 11), g)
    _, idx = F.max_pool2d(xin, 3, stride=2, padding=1, return_indices=True)
    small = uniform(idx.shape, g)
    p = {"kernel_size": 3, "stride": 2, "padding": 1, "output_size": [13, 11]}
    m = torch.nn.MaxUnpool2d(3, stride=2, padding=1)
    make("maxunpool_k3s2p1_size", "MaxUnpool2d", p, lambda x, i: m(x, i, output_size=[13, 11]),
         [("input", small), ("indices", idx)], g, int_inputs=("indices",))
    _, idx = F.max_pool2d(xin, 2, stride=2, ceil_mode=True, return_indices=True)
    p = {"kernel_size": 2, "stride": 2, "output_size": [2, 3, 13, 11]}
    m2 = torch.nn.MaxUnpool2d(2, stride=2)
    make("maxunpool_k2_size4", "MaxUnpool2d", p, lambda x, i: m2(x, i, output_size=[2, 3, 13, 11]),
         [("input", uniform(idx.shape, g)), ("indices", idx)], g, int_inputs=("indices",))

    # --- average pooling
    for name, shape, p in [
        ("avgpool_ceil_nopadcount", (2, 3, 10, 12),
         {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
        ("avgpool_ceil_nopadcount_odd", (2, 3, 13, 11),
         {"kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 1], "ceil_mode": True, "count_include_pad": False}),
        ("avgpool_nonsq_ceil_pad", (2, 3, 13, 11),
         {"kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0], "ceil_mode": True}),
        ("avgpool_k4s3_ceil", (1, 2, 10, 12), {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
        ("avgpool_chw", (3, 9, 11), {"kernel_size": 2}),
    ]:
        make(name, "AvgPool2d", p, module_fn(torch.nn.AvgPool2d, p), [("input", uniform(shape, g))], g)

    # --- adaptive average pooling, non-divisible and upsampling sizes
    for name, shape, os_ in [
        ("adaptive_7x5_from_13x11", (2, 3, 13, 11), [7, 5]),
        ("adaptive_4x3_from_10x7", (2, 3, 10, 7), [4, 3]),
        ("adaptive_up_5x8_from_3x4", (2, 2, 3, 4), [5, 8]),
        ("adaptive_int6_from_13x11", (1, 2, 13, 11), 6),
    ]:
        p = {"output_size": os_}
        make(name, "AdaptiveAvgPool2d", p, module_fn(torch.nn.AdaptiveAvgPool2d, p),
             [("input", uniform(shape, g))], g)

    # --- interpolate (F.interpolate keywords; scale_factor with recompute_scale_factor=None)
    for name, shape, p in [
        ("bilinear_down_align", (2, 3, 13, 11), {"size": [5, 4], "mode": "bilinear", "align_corners": True}),
        ("bilinear_down_noalign", (2, 3, 13, 11), {"size": [5, 4], "mode": "bilinear", "align_corners": False}),
        ("bilinear_down_scale05", (2, 3, 13, 11), {"scale_factor": 0.5, "mode": "bilinear", "align_corners": False}),
        ("bilinear_scale1p5", (2, 3, 9, 11), {"scale_factor": 1.5, "mode": "bilinear", "align_corners": False}),
        ("bilinear_scale_hw", (1, 2, 9, 11), {"scale_factor": [1.7, 0.6], "mode": "bilinear", "align_corners": False}),
        ("bilinear_scale_align", (1, 2, 9, 11), {"scale_factor": 2.5, "mode": "bilinear", "align_corners": True}),
        ("bilinear_to_1x1", (1, 2, 5, 6), {"size": [1, 1], "mode": "bilinear", "align_corners": True}),
        ("bilinear_recompute", (1, 2, 9, 11), {"scale_factor": 1.5, "mode": "bilinear", "align_corners": False,
                                                "recompute_scale_factor": True}),
        ("nearest_down_size", (2, 3, 13, 11), {"size": [5, 4], "mode": "nearest"}),
        ("nearest_down_scale", (2, 3, 13, 11), {"scale_factor": 0.4, "mode": "nearest"}),
        ("nearest_scale1p7", (2, 3, 9, 11), {"scale_factor": 1.7, "mode": "nearest"}),
        # not [2.1, ...] on H=9: out == 2*in there, where torch 1.13's backward
        # (nearest_idx: i >> 1) disagrees with its own NCHW forward (floor(i / 2.1))
        ("nearest_scale_hw", (1, 2, 9, 11), {"scale_factor": [2.3, 1.3], "mode": "nearest"}),
        ("nearest_size_up", (1, 2, 9, 11), {"size": [20, 25], "mode": "nearest"}),
        ("nearest_scale3", (1, 2, 7, 5), {"scale_factor": 3, "mode": "nearest"}),
    ]:
        kw = dict(p)
        make(name, "interpolate", p, lambda x, kw=kw: F.interpolate(x, **kw), [("input", uniform(shape, g))], g)
    # nn.Upsample with a non-integer scale (module path)
    p = {"scale_factor": 1.25, "mode": "bilinear", "align_corners": False}
    make("upsample_bilinear_1p25", "Upsample", p, module_fn(torch.nn.Upsample, p),
         [("input", uniform((1, 3, 9, 11), g))], g)


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
