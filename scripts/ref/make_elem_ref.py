#!/usr/bin/python3
"""make_elem_ref.py - reference cases for pixl's normalisation, activation,
elementwise and shape ops that ../shared/golden/torch does not cover, made
by PyTorch 1.13 in float64.

Writes tests/ref/elem/*.safetensors in the case format of
../shared/golden/README.md (metadata op/params/inputs/mode/tolerances,
float64 tensors computed from float32-representable inputs, parameters and
buffers under their state_dict names, `output`, `grad_output`,
`grad.<name>`, `after.<buffer>` for buffers changed by forward), written by
hand with json+struct.

Module cases (op = torch.nn class, params = constructor keywords):
BatchNorm2d train with affine=False, with momentum=None (cumulative average)
and with eps/momentum set, BatchNorm2d without running statistics in eval,
BatchNorm1d on (N, C), GroupNorm with more groups (instance- and layer-norm
extremes, no affine, eps), ELU alpha 0.5, LeakyReLU default slope, PReLU
with one shared weight, Softmax dim -3, LogSoftmax on (N, C).
Function cases (op named after the torch function, checked by
tools/check/torch_norm_act.c): cat (several dims), pad (F.pad: constant
value, reflect, replicate, negative pads), add/mul with broadcasting, slice,
crop2d, reshape, sum, normalize (F.normalize incl. vectors below eps).

Usage: /usr/bin/python3 scripts/ref/make_elem_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref", "elem")
TOL = "1e-4"
MADE_BY = "scripts/ref/make_elem_ref.py, torch " + torch.__version__


def write_case(path, meta, tensors):
    """tensors: list of (name, tensor) with float64 or int64 dtype; PyTorch's
    0-dim buffers (num_batches_tracked) are stored as [1]"""
    st_write.write(path, [(n, t.reshape(1) if t.dim() == 0 else t) for n, t in tensors], meta)


def f32(t):
    """float32-representable float64 values"""
    return t.float().double()


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def spaced(shape, g):
    """distinct values 0.05 apart (no ties, none near 0) in random order"""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=g).double()
    return f32(((perm - n // 2) * 0.05 + 0.025).reshape(shape))


def meta_for(op, params, input_names, mode):
    return {
        "op": op,
        "params": json.dumps(params),
        "inputs": json.dumps(input_names),
        "mode": mode,
        "rtol_f32": TOL,
        "atol_f32": TOL,
        "made_by": MADE_BY,
    }


def finish(name, op, params, inputs, xs, y, mode, g, extra=()):
    gy = uniform(y.shape, g)
    (y * gy).sum().backward()
    tensors = [(nm, t) for nm, t in inputs] + list(extra)
    tensors += [("output", y), ("grad_output", gy)]
    for (nm, _), x in zip(inputs, xs):
        if x.grad is not None:
            tensors.append(("grad." + nm, x.grad))
    return tensors, gy


def make_fn(name, op, params, fn, inputs, g):
    """a function case: fn(*inputs) -> tensor"""
    xs = [t.clone().requires_grad_(True) for _, t in inputs]
    y = fn(*xs)
    tensors, _ = finish(name, op, params, inputs, xs, y, "train", g)
    write_case(os.path.join(OUT, name + ".safetensors"), meta_for(op, params, [nm for nm, _ in inputs], "train"),
               tensors)
    print(name, tuple(y.shape))


def make_module(name, cls, params, x, g, mode="train", perturb=True, nbt=None):
    """a module case: parameters perturbed, state saved before forward,
    changed buffers saved again as after.<name>"""
    m = cls(**params).double()
    with torch.no_grad():
        for pn, p in m.named_parameters():
            p.copy_(f32(p + uniform(p.shape, g, -0.5, 0.5)) if perturb else p)
        for bn, b in m.named_buffers():
            if bn == "running_mean":
                b.copy_(uniform(b.shape, g, -0.5, 0.5))
            elif bn == "running_var":
                b.copy_(uniform(b.shape, g, 0.5, 2.0))
            elif bn == "num_batches_tracked" and nbt is not None:
                b.fill_(nbt)
    m.train(mode == "train")
    before = [(k, v.clone()) for k, v in m.state_dict().items()]
    xi = x.clone().requires_grad_(True)
    y = m(xi)
    gy = uniform(y.shape, g)
    (y * gy).sum().backward()
    tensors = [("input", x)] + before + [("output", y), ("grad_output", gy)]
    if mode == "train":
        for bn, b in m.named_buffers():
            tensors.append(("after." + bn, b.clone()))
    tensors.append(("grad.input", xi.grad))
    for pn, p in m.named_parameters():
        if p.grad is not None:
            tensors.append(("grad." + pn, p.grad))
    cls_name = cls.__name__
    write_case(os.path.join(OUT, name + ".safetensors"), meta_for(cls_name, params, ["input"], mode), tensors)
    print(name, cls_name, tuple(y.shape))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4321)
    nn = torch.nn

    # ------------------------------------------------------------ normalisation
    make_module("bn_train_noaffine", nn.BatchNorm2d, {"num_features": 4, "affine": False},
                uniform((2, 4, 5, 6), g, -2, 3), g)
    make_module("bn_train_momentum_none", nn.BatchNorm2d, {"num_features": 3, "momentum": None},
                uniform((3, 3, 4, 5), g, -1, 2), g, nbt=4)
    make_module("bn_train_eps_momentum", nn.BatchNorm2d, {"num_features": 3, "eps": 1e-3, "momentum": 0.3},
                uniform((2, 3, 3, 7), g, 0, 4), g)
    make_module("bn_eval_noaffine", nn.BatchNorm2d, {"num_features": 4, "affine": False},
                uniform((2, 4, 5, 3), g, -2, 2), g, mode="eval")
    make_module("bn_no_running_stats_eval", nn.BatchNorm2d, {"num_features": 3, "track_running_stats": False},
                uniform((2, 3, 4, 4), g, -1, 3), g, mode="eval")
    make_module("bn1d_train_2d_input", nn.BatchNorm1d, {"num_features": 5}, uniform((8, 5), g, -2, 2), g)
    make_module("gn_4_of_8", nn.GroupNorm, {"num_groups": 4, "num_channels": 8}, uniform((2, 8, 5, 6), g, -2, 2), g)
    make_module("gn_instance", nn.GroupNorm, {"num_groups": 6, "num_channels": 6}, uniform((2, 6, 4, 5), g, -1, 3), g)
    make_module("gn_layer", nn.GroupNorm, {"num_groups": 1, "num_channels": 6}, uniform((2, 6, 4, 5), g, -1, 3), g)
    make_module("gn_noaffine", nn.GroupNorm, {"num_groups": 2, "num_channels": 6, "affine": False},
                uniform((3, 6, 3, 4), g, -2, 2), g)
    make_module("gn_eps", nn.GroupNorm, {"num_groups": 3, "num_channels": 6, "eps": 1e-3},
                uniform((2, 6, 3, 3), g, -0.1, 0.1), g)

    # ---------------------------------------------------------------- activations
    make_module("elu_alpha05", nn.ELU, {"alpha": 0.5}, spaced((2, 3, 6, 7), g), g)
    make_module("leaky_default", nn.LeakyReLU, {}, spaced((2, 3, 5, 5), g), g)
    make_module("prelu_shared", nn.PReLU, {"num_parameters": 1, "init": 0.1}, spaced((2, 3, 5, 4), g), g)
    make_module("softmax_dim_neg3", nn.Softmax, {"dim": -3}, uniform((2, 5, 3, 4), g, -3, 3), g)
    make_module("logsoftmax_2d", nn.LogSoftmax, {"dim": 1}, uniform((6, 7), g, -3, 3), g)

    # --------------------------------------------------------- concat, pad, slice
    a, b, c = uniform((2, 1, 3, 4), g), uniform((2, 3, 3, 4), g), uniform((2, 2, 3, 4), g)
    make_fn("cat_dim1_three", "cat", {"dim": 1}, lambda *t: torch.cat(t, 1), [("x0", a), ("x1", b), ("x2", c)], g)
    make_fn("cat_dim0", "cat", {"dim": 0}, lambda *t: torch.cat(t, 0),
            [("x0", uniform((1, 3, 2, 2), g)), ("x1", uniform((2, 3, 2, 2), g))], g)
    make_fn("cat_dim_neg1", "cat", {"dim": -1}, lambda *t: torch.cat(t, -1),
            [("x0", uniform((2, 3, 4, 1), g)), ("x1", uniform((2, 3, 4, 5), g))], g)
    make_fn("cat_dim2", "cat", {"dim": 2}, lambda *t: torch.cat(t, 2),
            [("x0", uniform((1, 2, 3, 4), g)), ("x1", uniform((1, 2, 2, 4), g))], g)

    pads = [
        ("pad_constant_value", [1, 2, 0, 3], "constant", 0.5),
        ("pad_zero_lr_only", [2, 1], "constant", 0.0),
        ("pad_reflect", [2, 1, 3, 2], "reflect", 0.0),
        ("pad_reflect_max", [4, 4, 3, 3], "reflect", 0.0),
        ("pad_replicate", [3, 0, 1, 2], "replicate", 0.0),
        ("pad_constant_negative", [-1, 2, -2, 1], "constant", 0.0),
        ("pad_reflect_negative", [-2, 3, 1, -1], "reflect", 0.0),
        ("pad_replicate_negative", [1, -2, -1, 2], "replicate", 0.0),
    ]
    for name, p, mode, value in pads:
        x = uniform((2, 2, 4, 5), g)
        params = {"pad": p, "mode": mode}
        if mode == "constant":
            params["value"] = value
        try:
            make_fn(name, "pad", params,
                    lambda t, p=p, mode=mode, value=value: F.pad(t, p, mode=mode, value=value) if mode == "constant"
                    else F.pad(t, p, mode=mode), [("input", x)], g)
        except RuntimeError as e:  # a combination this PyTorch refuses
            print("skip", name, ":", str(e).splitlines()[0])

    make_fn("slice_dim1", "slice", {"dim": 1, "start": 1, "end": 3}, lambda t: t[:, 1:3],
            [("input", uniform((2, 4, 3, 3), g))], g)
    make_fn("slice_dim_neg1", "slice", {"dim": -1, "start": 2, "end": 5}, lambda t: t[..., 2:5],
            [("input", uniform((2, 3, 2, 6), g))], g)
    make_fn("slice_dim0", "slice", {"dim": 0, "start": 1, "end": 2}, lambda t: t[1:2],
            [("input", uniform((3, 2, 2, 2), g))], g)
    make_fn("crop2d", "crop2d", {"top": 1, "left": 2, "height": 3, "width": 2}, lambda t: t[:, :, 1:4, 2:4],
            [("input", uniform((2, 2, 5, 6), g))], g)
    make_fn("reshape", "reshape", {"shape": [2, -1, 6]}, lambda t: t.reshape(2, -1, 6) * 1.0,
            [("input", uniform((2, 3, 2, 6), g))], g)
    make_fn("sum", "sum", {}, lambda t: t.sum().reshape(1), [("input", uniform((2, 3, 4, 5), g))], g)

    # ---------------------------------------------------- broadcasting add / mul
    bc = [
        ("add_same", "add", (2, 3, 4, 5), (2, 3, 4, 5)),
        ("add_bias", "add", (2, 3, 4, 5), (1, 3, 1, 1)),
        ("add_outer", "add", (3, 1, 5), (4, 1)),
        ("add_both_broadcast", "add", (2, 1, 4, 1), (1, 3, 1, 5)),
        ("mul_channel_mask", "mul", (2, 3, 4, 5), (2, 1, 4, 5)),
        ("mul_lastdim", "mul", (2, 3, 4, 5), (5,)),
        ("mul_scalar", "mul", (1,), (2, 3, 4)),
        ("mul_long_rows", "mul", (1, 3, 1, 70), (2, 1, 4, 70)),
    ]
    for name, op, sa, sb in bc:
        fn = (lambda p, q: p + q) if op == "add" else (lambda p, q: p * q)
        make_fn(name, op, {}, fn, [("a", uniform(sa, g)), ("b", uniform(sb, g))], g)

    # --------------------------------------------------------------- normalize
    make_fn("normalize", "normalize", {"p": 2.0, "dim": 1, "eps": 1e-12}, lambda t: F.normalize(t, 2.0, 1, 1e-12),
            [("input", uniform((2, 4, 3, 5), g))], g)
    x = uniform((2, 3, 4, 4), g)
    x[:, :, :2] *= 0.05  # norms below eps = 0.5 in the top half
    make_fn("normalize_below_eps", "normalize", {"p": 2.0, "dim": 1, "eps": 0.5},
            lambda t: F.normalize(t, 2.0, 1, 0.5), [("input", f32(x))], g)
    make_fn("normalize_2d", "normalize", {"dim": 1}, lambda t: F.normalize(t, dim=1),
            [("input", uniform((5, 6), g))], g)

    # -------------------------------------------------------------- reciprocal
    x = uniform((2, 3, 4, 5), g)
    x = f32(torch.sign(x) * (0.2 + x.abs()))  # |x| >= 0.2
    make_fn("reciprocal", "reciprocal", {}, torch.reciprocal, [("input", x)], g)


if __name__ == "__main__":
    main()
