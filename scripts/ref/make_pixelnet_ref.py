#!/usr/bin/python3
"""make_pixelnet_ref.py - reference cases for pixl's PixelNet ops, made by
PyTorch in float64 (run with /usr/bin/python3, Debian's python3-torch).

Writes tests/ref/pixelnet/*.safetensors in the case format of
../shared/golden/README.md (metadata op/params/inputs/mode/tolerances,
float64 tensors from float32-representable inputs, `output`, `grad_output`,
`grad.<name>`). The ops are pixl's own, so `op` names pixl's builder
(tools/check/pixelnet.c) and `params` its arguments:

  Hypercolumn   inputs map0..mapB-1 (N,C_b,H_b,W_b) and pixels (P,3) int64
                rows (n, y, x); params strides [s_b], offsets [o_b] (absent:
                (s_b-1)/2). Reference: PixelNet's RandBI geometry
                t = clamp((coord - o)/s, 0, size-1), written twice - as an
                explicit gather (floor / floor+1 / weights) and as
                torch.nn.functional.grid_sample(align_corners=True) at the
                normalised coordinates 2t/(size-1)-1 - the script checks that
                the two agree and stores the gather's result; gradients of the
                maps come from autograd (scatter-add).
  NormalLoss    pred, target (P,3) or (N,3,H,W), optional mask (one value per
                pixel): 0.5 * mean over masked pixels of
                ||normalize(pred) - target||^2
  AngularLoss   the same inputs; params eps: mean over masked pixels of
                acos(clamp(<normalize(pred, eps), target>, -1+1e-6, 1-1e-6))
                (PAG's acos loss), gradients of pred and target by autograd
  BalancedBCEWithLogits  logits, target, optional mask (same shape); params
                reduction mean|sum: HED's class-balanced
                binary_cross_entropy_with_logits (weights from the counted
                targets, not differentiated).

Usage: /usr/bin/python3 scripts/ref/make_pixelnet_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref",
                                                          "pixelnet")
MADE_BY = "scripts/ref/make_pixelnet_ref.py, torch " + torch.__version__


def f32(t):
    return t.float().double()


def fl32(v):
    """the float32 value of a parameter, as pixl reads it"""
    return float(torch.tensor(v, dtype=torch.float32))


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def cell_coords(coord, s, o, size):
    return ((coord - o) / s).clamp(0, size - 1)


def hypercolumn_gather(maps, pix, strides, offsets):
    n, y, x = pix[:, 0], pix[:, 1].double(), pix[:, 2].double()
    cols = []
    for m, s, o in zip(maps, strides, offsets):
        H, W = m.shape[2], m.shape[3]
        ty, tx = cell_coords(y, s, o, H), cell_coords(x, s, o, W)
        y0, x0 = ty.floor().long(), tx.floor().long()
        y1, x1 = (y0 + 1).clamp(max=H - 1), (x0 + 1).clamp(max=W - 1)
        ry, rx = (ty - y0.double())[:, None], (tx - x0.double())[:, None]
        f = lambda yy, xx: m[n, :, yy, xx]  # (P, C)
        cols.append((1 - ry) * (1 - rx) * f(y0, x0) + (1 - ry) * rx * f(y0, x1) + ry * (1 - rx) * f(y1, x0) +
                    ry * rx * f(y1, x1))
    return torch.cat(cols, 1)


def hypercolumn_grid_sample(maps, pix, strides, offsets):
    n, y, x = pix[:, 0], pix[:, 1].double(), pix[:, 2].double()
    cols = []
    for m, s, o in zip(maps, strides, offsets):
        H, W = m.shape[2], m.shape[3]
        ty, tx = cell_coords(y, s, o, H), cell_coords(x, s, o, W)
        gx = 2 * tx / max(W - 1, 1) - 1
        gy = 2 * ty / max(H - 1, 1) - 1
        out = torch.empty(pix.shape[0], m.shape[1], dtype=torch.float64)
        for i in range(m.shape[0]):  # one image at a time: grid (1, 1, P_i, 2)
            sel = (n == i).nonzero().flatten()
            grid = torch.stack([gx[sel], gy[sel]], 1)[None, None]
            v = F.grid_sample(m[i:i + 1], grid, mode="bilinear", padding_mode="border", align_corners=True)
            out[sel] = v[0, :, 0, :].t()
        cols.append(out)
    return torch.cat(cols, 1)


def write(name, op, params, inputs, out, grads, g, tol="1e-5"):
    gy = uniform(out.shape, g, 0.5, 1.5)
    tensors = list(inputs) + [("output", out.detach()), ("grad_output", gy)]
    (out * gy).sum().backward()
    for nm, t in grads:
        tensors.append(("grad." + nm, t.grad))
    meta = {"op": op, "params": json.dumps(params), "inputs": json.dumps([nm for nm, _ in inputs]),
            "mode": "eval", "rtol_f32": tol, "atol_f32": tol, "made_by": MADE_BY}
    st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)


def hypercolumn_case(name, g, N, chans, sizes, strides, P, span, offsets=None):
    maps = [uniform((N, c, h, w), g).requires_grad_(True) for c, (h, w) in zip(chans, sizes)]
    pix = torch.stack([torch.randint(0, N, (P,), generator=g),
                       torch.randint(-2, span[0] + 2, (P,), generator=g),
                       torch.randint(-2, span[1] + 2, (P,), generator=g)], 1)
    offs = offsets if offsets is not None else [(s - 1) / 2 for s in strides]
    out = hypercolumn_gather(maps, pix, strides, offs)
    alt = hypercolumn_grid_sample([m.detach() for m in maps], pix, strides, offs)
    assert torch.allclose(out.detach(), alt, atol=1e-12), (out.detach() - alt).abs().max()
    params = {"strides": strides}
    if offsets is not None:
        params["offsets"] = offsets
    inputs = [("map%d" % i, m) for i, m in enumerate(maps)] + [("pixels", pix)]
    write(name, "Hypercolumn", params, [(nm, t.detach() if t.dtype == torch.float64 else t) for nm, t in inputs],
          out, [("map%d" % i, m) for i, m in enumerate(maps)], g)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1702)
    # VGG-like pyramid on a 24x20 input: strides 1, 2, 4, 8 (PixelNet offsets)
    hypercolumn_case("hypercolumn_vgg_like", g, 2, [3, 4, 5, 6], [(24, 20), (12, 10), (6, 5), (3, 3)],
                     [1, 2, 4, 8], 60, (24, 20))
    # strided-conv offsets (0), a 1x1 map (global feature) and a 1-wide map
    hypercolumn_case("hypercolumn_corner_global", g, 3, [2, 3, 4], [(9, 7), (1, 1), (5, 1)], [2, 32, 2], 45, (18, 14),
                     offsets=[0.0, 0.0, 0.5])
    # many pixels on a small map: repeated cells accumulate in backward
    hypercolumn_case("hypercolumn_dense_repeats", g, 1, [17, 2], [(4, 4), (2, 2)], [2, 4], 200, (8, 8))

    # normal loss
    for masked in (False, True):
        P = 29
        pred = uniform((P, 3), g).requires_grad_(True)
        tgt = F.normalize(uniform((P, 3), g), dim=1)
        tgt = f32(tgt).requires_grad_(True)
        mask = (torch.rand(P, generator=g) > 0.3).double() if masked else torch.ones(P, dtype=torch.float64)
        err = ((F.normalize(pred, dim=1, eps=1e-12) - tgt) ** 2).sum(1)
        out = (0.5 * (err * mask).sum() / mask.sum()).reshape(1)
        inputs = [("pred", pred.detach()), ("target", tgt.detach())] + ([("mask", mask)] if masked else [])
        write("normal_loss" + ("_masked" if masked else ""), "NormalLoss", {}, inputs, out,
              [("pred", pred), ("target", tgt)], g)

    # class-balanced sigmoid cross-entropy
    for red, masked in (("mean", False), ("mean", True), ("sum", True)):
        shape = (37, 1) if red == "mean" and not masked else (5, 1, 4, 6)
        x = uniform(shape, g, -4, 4).requires_grad_(True)
        t = (torch.rand(shape, generator=g) < 0.2).double()
        mask = (torch.rand(shape, generator=g) > 0.25).double() if masked else torch.ones(shape, dtype=torch.float64)
        npos, nneg = (t * mask).sum(), ((1 - t) * mask).sum()
        w = torch.where(t > 0.5, nneg / (npos + nneg), npos / (npos + nneg)) * mask
        s = F.binary_cross_entropy_with_logits(x, t, weight=w, reduction="sum")
        out = (s / mask.sum() if red == "mean" else s).reshape(1)
        inputs = [("logits", x.detach()), ("target", t)] + ([("mask", mask)] if masked else [])
        write("balanced_bce_%s%s" % (red, "_masked" if masked else ""), "BalancedBCEWithLogits", {"reduction": red},
              inputs, out, [("logits", x)], g)

    angular_cases(torch.Generator().manual_seed(1805))
    print("wrote", OUT)


def unit_targets(shape, g):
    return f32(F.normalize(uniform(shape, g), dim=1))


def angular_cases(g):
    """the angular loss on rows and dense maps, and the normal loss on dense maps"""
    eps = 1e-5
    for name, shape, masked, special in (("angular_loss", (29, 3), False, False),
                                         ("angular_loss_masked", (31, 3), True, True),
                                         ("angular_loss_dense", (2, 3, 4, 5), False, False),
                                         ("angular_loss_dense_masked", (2, 3, 5, 3), True, True)):
        tgt = unit_targets(shape, g)
        pred = uniform(shape, g)
        rows = (shape[0],) + tuple(shape[2:])
        if special:  # pixel 0 parallel, pixel 1 opposite to its target (both clamped: no gradient), pixel 2 zero
            flat = pred.movedim(1, -1).reshape(-1, 3)
            tflat = tgt.movedim(1, -1).reshape(-1, 3)
            flat[0], flat[1], flat[2] = 2 * tflat[0], -3 * tflat[1], 0
            pred = flat.reshape(rows + (3,)).movedim(-1, 1).contiguous()
        pred.requires_grad_(True)
        tgt.requires_grad_(True)
        mask = (torch.rand(rows, generator=g) > 0.3).double() if masked else torch.ones(rows, dtype=torch.float64)
        if special:
            mask.view(-1)[:3] = 1
        u = F.normalize(pred, dim=1, eps=fl32(eps))
        ang = torch.acos((u * tgt).sum(1).clamp(-1 + 1e-6, 1 - 1e-6))
        out = ((ang * mask).sum() / mask.sum()).reshape(1)
        inputs = [("pred", pred.detach()), ("target", tgt.detach())] + ([("mask", mask)] if masked else [])
        write(name, "AngularLoss", {"eps": eps}, inputs, out, [("pred", pred), ("target", tgt)], g)
    for name, shape in (("normal_loss_dense_masked", (2, 3, 4, 6)),):
        tgt = unit_targets(shape, g).requires_grad_(True)
        pred = uniform(shape, g).requires_grad_(True)
        mask = (torch.rand((shape[0],) + shape[2:], generator=g) > 0.3).double()
        err = ((F.normalize(pred, dim=1, eps=1e-12) - tgt) ** 2).sum(1)
        out = (0.5 * (err * mask).sum() / mask.sum()).reshape(1)
        write(name, "NormalLoss", {}, [("pred", pred.detach()), ("target", tgt.detach()), ("mask", mask)], out,
              [("pred", pred), ("target", tgt)], g)


if __name__ == "__main__":
    main()
