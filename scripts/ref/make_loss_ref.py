#!/usr/bin/python3
"""make_loss_ref.py - reference cases for pixl's loss ops that
../shared/golden/torch does not cover, made by PyTorch 1.13 in float64.

Writes tests/ref/loss/*.safetensors in the case format of
../shared/golden/README.md (metadata op/params/inputs/mode/tolerances,
float64 tensors computed from float32-representable inputs, the module's
buffers under their state_dict names, `output` (a loss: shape [1]),
`grad_output`, `grad.<name>`), written by hand with json+struct.

Cases: CrossEntropyLoss on (N,C) 2-D logits (default ignore_index -100
present in the targets), on (N,C,L) 3-D logits, with class weights and
reduction sum, and with most pixels ignore_index (sparse labels) and class
weights; BCEWithLogitsLoss with a (C,1,1) pos_weight over several channels
(and the gradient w.r.t. the target), with an element weight, with reduction
sum; SmoothL1Loss with beta 0.5 and 0 (target gradient too); L1Loss and
MSELoss with reduction sum and target gradients.

Usage: /usr/bin/python3 scripts/ref/make_loss_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref", "loss")
TOL = "1e-4"
MADE_BY = "scripts/ref/make_loss_ref.py, torch " + torch.__version__


def write_case(path, meta, tensors):
    """tensors: list of (name, tensor) with float64 or int64 dtype"""
    st_write.write(path, tensors, meta)


def f32(t):
    """float32-representable float64 values"""
    return t.float().double()


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def make(name, cls, params, inputs, g, grad_inputs, buffers=()):
    """inputs: list of (name, tensor); grad_inputs: names that get a gradient;
    buffers: (name, tensor) stored under the module's state_dict names."""
    kw = dict(params)
    for bn, bt in buffers:
        kw[bn] = bt
    m = cls(**kw).double()
    xs = [t.clone().requires_grad_(nm in grad_inputs) if t.dtype == torch.float64 else t for nm, t in inputs]
    y = m(*xs).reshape(1)
    gy = uniform((1,), g, 0.5, 1.5)
    (y * gy).sum().backward()
    tensors = [(nm, t) for nm, t in inputs] + list(buffers)
    tensors += [("output", y), ("grad_output", gy)]
    for (nm, _), x in zip(inputs, xs):
        if nm in grad_inputs:
            tensors.append(("grad." + nm, x.grad))
    meta = {
        "op": cls.__name__,
        "params": json.dumps(params),
        "inputs": json.dumps([nm for nm, _ in inputs]),
        "mode": "train",
        "rtol_f32": TOL,
        "atol_f32": TOL,
        "made_by": MADE_BY,
    }
    write_case(os.path.join(OUT, name + ".safetensors"), meta, tensors)
    print(name, float(y))


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(4321)
    CE = torch.nn.CrossEntropyLoss

    # CE on (N,C) logits; two targets carry the default ignore_index -100
    x = uniform((9, 5), g, -3, 3)
    t = torch.randint(0, 5, (9,), generator=g)
    t[2] = -100
    t[7] = -100
    make("ce_2d", CE, {}, [("input", x), ("target", t)], g, {"input"})

    # CE on (N,C,L) logits, ignore_index 0 (class 0 skipped), mean
    x = uniform((2, 4, 7), g, -2, 2)
    t = torch.randint(0, 4, (2, 7), generator=g)
    make("ce_3d_ignore0", CE, {"ignore_index": 0}, [("input", x), ("target", t)], g, {"input"})

    # CE with class weights and reduction sum, NCHW, ignore_index 255
    x = uniform((2, 4, 5, 6), g, -2, 2)
    t = torch.randint(0, 4, (2, 5, 6), generator=g)
    t[0, 1, 2] = 255
    t[1, 4, 0] = 255
    w = f32(torch.tensor([0.5, 1.7, 1.0, 0.25]))
    make("ce_weight_sum", CE, {"ignore_index": 255, "reduction": "sum", "weight": w.tolist()},
         [("input", x), ("target", t)], g, {"input"}, buffers=[("weight", w)])

    # CE where most pixels are ignore_index (sparse labels), with class weights, mean
    x = uniform((2, 6, 13, 17), g, -4, 4)
    t = torch.full((2, 13, 17), 255, dtype=torch.int64)
    keep = torch.rand((2, 13, 17), generator=g) < 0.04
    t[keep] = torch.randint(0, 6, (int(keep.sum()),), generator=g)
    w = f32(torch.tensor([1.0, 2.0, 0.5, 1.5, 0.75, 3.0]))
    make("ce_sparse_weighted", CE, {"ignore_index": 255, "weight": w.tolist()},
         [("input", x), ("target", t)], g, {"input"}, buffers=[("weight", w)])
    # the same labels without weights, reduction sum
    make("ce_sparse_sum", CE, {"ignore_index": 255, "reduction": "sum"},
         [("input", x), ("target", t)], g, {"input"})

    BCE = torch.nn.BCEWithLogitsLoss
    # BCE with a per-channel pos_weight (C,1,1) over 4 channels; target gradient too
    x = uniform((2, 4, 5, 6), g, -4, 4)
    tb = uniform((2, 4, 5, 6), g, 0, 1)
    pw = f32(torch.tensor([0.5, 1.0, 2.0, 4.0])).reshape(4, 1, 1)
    make("bce_pos_weight_channels", BCE, {"pos_weight": pw.tolist()},
         [("input", x), ("target", tb)], g, {"input", "target"}, buffers=[("pos_weight", pw)])
    # BCE on (N,C) with pos_weight (C) and reduction sum, hard 0/1 targets
    x = uniform((6, 3), g, -6, 6)
    tb = (torch.rand((6, 3), generator=g) < 0.5).double()
    pw = f32(torch.tensor([3.0, 0.3, 1.5]))
    make("bce_2d_pos_weight_sum", BCE, {"pos_weight": pw.tolist(), "reduction": "sum"},
         [("input", x), ("target", tb)], g, {"input"}, buffers=[("pos_weight", pw)])
    # BCE with an element weight broadcast over channels (1,C,1,1)
    x = uniform((2, 3, 4, 5), g, -3, 3)
    tb = uniform((2, 3, 4, 5), g, 0, 1)
    w = f32(torch.tensor([0.2, 1.0, 2.5])).reshape(1, 3, 1, 1)
    make("bce_weight", BCE, {"weight": w.tolist()}, [("input", x), ("target", tb)], g, {"input", "target"},
         buffers=[("weight", w)])

    # SmoothL1 with beta 0.5 and beta 0 (= L1); L1 and MSE with reduction sum; target gradients
    x = uniform((2, 3, 7, 5), g, -2, 2)
    d = uniform((2, 3, 7, 5), g, -1.5, 1.5)
    d = torch.where(d.abs() < 0.02, d + 0.05, d)  # off the |d| = 0 kink
    tr = f32(x + d)
    make("smooth_l1_beta05", torch.nn.SmoothL1Loss, {"beta": 0.5}, [("input", x), ("target", tr)], g,
         {"input", "target"})
    make("smooth_l1_beta0_sum", torch.nn.SmoothL1Loss, {"beta": 0.0, "reduction": "sum"},
         [("input", x), ("target", tr)], g, {"input", "target"})
    make("l1_sum", torch.nn.L1Loss, {"reduction": "sum"}, [("input", x), ("target", tr)], g, {"input", "target"})
    make("mse_sum", torch.nn.MSELoss, {"reduction": "sum"}, [("input", x), ("target", tr)], g, {"input", "target"})


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
