#!/usr/bin/python3
"""make_pac_ref.py - reference cases for pixl's PAC layers (pixel-adaptive
convolution, NVlabs/pacnet semantics), computed in float64 by an independent
PyTorch implementation of pacnet's definitions (written from the spec in
../shared/research/seeds-spec.md section 2, not pacnet's code):

  packernel2d  K = phi(sum_c (f_c(j) - f0_c)^2) with f0 = centre tap or the
               smoothed guidance, phi = exp(-D/2) or alpha + (D+1e-4)^(lambda/2),
               optional ReLU on the difference (asym), mask / normalisation,
               transposed geometry (guide at output resolution)
  pacconv2d    sum over window of W * K * x (shared filters: no channel mixing)
  pacconv_transpose2d  zero-insert by stride, pad (k-1)d-p (+output_padding),
               correlate with the UNFLIPPED weight (C, O, k, k)
  pacpool2d    kernel-weighted sum (channel_wise kernels allowed)

Writes tests/ref/pac/*.safetensors in the case format of
../shared/golden/README.md (op/params/inputs/tolerances metadata, float64
tensors from float32-representable values, output[.i], grad_output[.0],
grad.<name>). Parameters are perturbed away from their initial values.

  /usr/bin/python3 scripts/ref/make_pac_ref.py [OUTDIR]
  /usr/bin/python3 scripts/ref/make_pac_ref.py --golden ../shared/golden/pac
      recompute the golden pacconv2d/pacconv_transpose2d/pacpool2d cases
      (made by pacnet itself) with this implementation and print the worst
      differences: the sanity check of this reference.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
TOL = "1e-4"
MADE_BY = "scripts/ref/make_pac_ref.py, torch " + torch.__version__


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ----------------------------------------------------------------- geometry
def windows(x, k, s, p, d):
    """(B, C, H, W) -> (B, C, kh, kw, OH, OW), zero outside the image"""
    B, C, H, W = x.shape
    OH = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    OW = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    cols = F.unfold(x, k, dilation=d, padding=p, stride=s)
    return cols.reshape(B, C, k[0], k[1], OH, OW)


def zero_insert_pad(x, k, s, p, op, d):
    """pacnet's transposed-conv input: stride-s zero insertion, then padding
    (k-1)d-p on top/left and that + output_padding on bottom/right"""
    B, C, h, w = x.shape
    z = x.new_zeros(B, C, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1)
    z[:, :, ::s[0], ::s[1]] = x
    P = [(k[i] - 1) * d[i] - p[i] for i in range(2)]
    return F.pad(z, (P[1], P[1] + op[1], P[0], P[0] + op[0]))


# --------------------------------------------------------------- the kernel
def packernel(f, mask, k, s, p, op, d, kind, smooth, alpha, lam, channel_wise, normalize, transposed):
    """returns (kernel (B, Ck, kh, kw, OH, OW), output mask or None)"""
    B, Cf, H, W = f.shape
    if transposed:
        in_h = (H - op[0] - 1 - (k[0] - 1) * d[0] + 2 * p[0]) // s[0] + 1
        in_w = (W - op[1] - 1 - (k[1] - 1) * d[1] + 2 * p[1]) // s[1] + 1
        pattern = windows(zero_insert_pad(f.new_ones(1, 1, in_h, in_w), k, s, p, op, d), k, (1, 1), (0, 0), d)
        mcols = None if mask is None else windows(zero_insert_pad(mask, k, s, p, op, d), k, (1, 1), (0, 0), d)
        gs, gp = (1, 1), ((k[0] - 1) * d[0] // 2, (k[1] - 1) * d[1] // 2)
    else:
        pattern = windows(f.new_ones(1, 1, H, W), k, s, p, d)
        mcols = None if mask is None else windows(mask, k, s, p, d)
        gs, gp = s, p
    cols = windows(f, k, gs, gp, d)  # (B, Cf, kh, kw, OH, OW)
    OH, OW = cols.shape[-2:]
    if smooth is None:
        f0 = cols[:, :, k[0] // 2, k[1] // 2][:, :, None, None]
    else:
        sk = smooth.shape[-1]
        sp = [gp[i] - (k[i] - sk) // 2 for i in range(2)]
        g = F.pad(f.reshape(B * Cf, 1, H, W), (sp[1], sp[1], sp[0], sp[0]))  # negative pads crop
        f0 = F.conv2d(g, smooth, stride=gs).reshape(B, Cf, 1, 1, OH, OW)
    diff = cols - f0
    if kind["asym"]:
        diff = torch.relu(diff)
    D = diff * diff
    if not channel_wise:
        D = D.sum(1, keepdim=True)
    if kind["inv"]:
        a = alpha.reshape(1, -1, 1, 1, 1, 1)
        l = lam.reshape(1, -1, 1, 1, 1, 1)
        K = a + (D + 1e-4) ** (0.5 * l)
    else:
        K = torch.exp(-0.5 * D)
    norm = None
    if mcols is not None:
        K = K * mcols
        if not normalize:
            norm = mcols.sum((2, 3), keepdim=True) / pattern.sum((2, 3), keepdim=True)
    elif normalize:
        K = K * pattern
    if normalize:
        norm = K.sum((2, 3), keepdim=True)
    omask = None
    if norm is not None:
        empty = (norm == 0).double()
        K = K / (norm + empty)
        if mask is not None:
            omask = (1 - empty).reshape(B, -1, OH, OW)
    return K, omask


def pacconv(x, K, w, b, s, p, d, shared):
    k = w.shape[-2:]
    cols = windows(x, k, s, p, d) * K
    if shared:
        y = torch.einsum("bcijhw,ij->bchw", cols, w[0, 0])
    else:
        y = torch.einsum("bcijhw,ocij->bohw", cols, w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pacconv_t(x, K, w, b, s, p, op, d, shared):
    k = w.shape[-2:]
    xz = zero_insert_pad(x, k, s, p, op, d)
    return pacconv(xz, K, w if shared else w.transpose(0, 1), b, (1, 1), (0, 0), d, shared)


def pacpool(x, K, k, s, p, d):
    return (windows(x, k, s, p, d) * K).sum((2, 3))


# ------------------------------------------------------------ layer params
def parse_kind(kt):
    if kt == "gaussian":
        return {"inv": False, "asym": False, "fixed": False}
    parts = kt.split("_")
    assert parts[0] == "inv"
    return {"inv": True, "alpha": float(parts[1]), "lambda": float(parts[2]), "asym": "asym" in parts[3:],
            "fixed": "fixed" in parts[3:]}


def smooth_init(st):
    if st == "none":
        return None, False
    if st == "gaussian":
        g = torch.tensor([.25, .5, .25])
        return (g[:, None] * g[None, :])[None, None], False
    n = int(st.split("_")[1])
    if st.startswith("average_"):
        return torch.full((1, 1, n, n), (1.0 / n) * (1.0 / n)), False
    return torch.full((1, 1, n, n), 1.0 / (n * n)), True  # full_n: learnable


def f32(t):
    return t.float().double()


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g) * (hi - lo) + lo)


def run_layer(op, P, inputs, params, g=None):
    """forward of the layer: inputs dict (input, guide[, mask]); params dict
    name -> tensor (requires_grad set by the caller). Returns list of outputs."""
    k = pair(P["kernel_size"])
    s, p, d = pair(P.get("stride", 1)), pair(P.get("padding", 0)), pair(P.get("dilation", 1))
    op_ = pair(P.get("output_padding", 0))
    kind = parse_kind(P.get("kernel_type", "gaussian"))
    smooth = params.get("smooth_kernel")
    transposed = op == "pacconv_transpose2d"
    cw = P.get("channel_wise", False)
    K, om = packernel(inputs["guide"], inputs.get("mask"), k, s, p, op_, d, kind, smooth, params.get("inv_alpha"),
                      params.get("inv_lambda"), cw, P.get("normalize_kernel", False), transposed)
    if op == "pacconv2d":
        y = pacconv(inputs["input"], K, params["weight"], params.get("bias"), s, p, d, P.get("shared_filters", False))
    elif transposed:
        y = pacconv_t(inputs["input"], K, params["weight"], params.get("bias"), s, p, op_, d,
                      P.get("shared_filters", False))
    else:
        y = pacpool(inputs["input"], K, k, s, p, d)
    return [y] if om is None else [y, om]


def make_params(op, P, C, g):
    """parameters (name, tensor, learnable) near pacnet's initialisation, perturbed"""
    out = []
    k = pair(P["kernel_size"])
    kind = parse_kind(P.get("kernel_type", "gaussian"))
    if op != "pacpool2d":
        O = P["out_channels"]
        if P.get("shared_filters"):
            ws = (1, 1) + k
        elif op == "pacconv_transpose2d":
            ws = (C, O) + k
        else:
            ws = (O, C) + k
        out.append(("weight", uniform(ws, g, -0.5, 0.5), True))
        if P.get("bias", True):
            out.append(("bias", uniform((O,), g, -0.5, 0.5), True))
    if kind["inv"]:
        n = C if (P.get("channel_wise") and not kind["fixed"]) else 1
        a = f32(kind["alpha"] + 0.1 * (torch.rand(n, generator=g) - 0.5))
        lam = f32(kind["lambda"] + 0.1 * (torch.rand(n, generator=g) - 0.5))
        if kind["fixed"]:
            a, lam = torch.full((n,), kind["alpha"]), torch.full((n,), kind["lambda"])
        out.append(("inv_alpha", a, not kind["fixed"]))
        out.append(("inv_lambda", lam, not kind["fixed"]))
    sk, learn = smooth_init(P.get("smooth_kernel_type", "none"))
    if sk is not None:
        if learn:
            sk = f32(sk + 0.05 * (torch.rand(sk.shape, generator=g) - 0.5))
        out.append(("smooth_kernel", sk, learn))
    return out


def make_case(path, op, P, shapes, seed, mask=None):
    g = torch.Generator().manual_seed(seed)
    x = uniform(shapes["input"], g)
    guide = uniform(shapes["guide"], g, -1.5, 1.5)
    names = ["input", "guide"]
    inputs = {"input": x.clone().requires_grad_(True), "guide": guide.clone().requires_grad_(True)}
    if mask is not None:
        m = (torch.rand(mask, generator=g) > 0.3).double()
        inputs["mask"] = m
        names.append("mask")
    plist = make_params(op, P, x.shape[1], g)
    params = {n: t.clone().requires_grad_(learn) for n, t, learn in plist}
    outs = run_layer(op, P, inputs, params)
    go = uniform(outs[0].shape, g)
    (outs[0] * go).sum().backward()
    tensors = [(n, inputs[n].detach()) for n in names]
    tensors += [(n, t) for n, t, _ in plist]
    if len(outs) == 1:
        tensors += [("output", outs[0].detach()), ("grad_output", go)]
    else:
        tensors += [("output.0", outs[0].detach()), ("output.1", outs[1].detach()), ("grad_output.0", go)]
    for n in ("input", "guide"):
        tensors.append(("grad." + n, inputs[n].grad))
    for n, _, learn in plist:
        if learn:
            tensors.append(("grad." + n, params[n].grad))
    meta = {"op": op, "params": json.dumps(P), "inputs": json.dumps(names), "rtol_f32": TOL, "atol_f32": TOL,
            "made_by": MADE_BY}
    st_write.write(path, tensors, meta)


CASES = [
    # name, op, params, shapes, mask shape
    ("conv_s2_normalize_nobias", "pacconv2d",
     dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, dilation=1, bias=False,
          kernel_type="gaussian", smooth_kernel_type="none", normalize_kernel=True, shared_filters=False),
     {"input": (2, 3, 8, 13), "guide": (2, 4, 8, 13)}, None),
    ("conv_dil2_pad4_inv", "pacconv2d",
     dict(in_channels=3, out_channels=2, kernel_size=5, stride=1, padding=4, dilation=2,
          kernel_type="inv_0.3_-1.5", smooth_kernel_type="none", normalize_kernel=False, shared_filters=False),
     {"input": (1, 3, 9, 8), "guide": (1, 2, 9, 8)}, None),
    ("conv_inv_asym_fixed_full3_norm", "pacconv2d",
     dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=1, dilation=1,
          kernel_type="inv_1_-2_asym_fixed", smooth_kernel_type="full_3", normalize_kernel=True,
          shared_filters=False),
     {"input": (2, 2, 7, 9), "guide": (2, 3, 7, 9)}, None),
    ("conv_rect_k3x5_smooth_gauss", "pacconv2d",
     dict(in_channels=3, out_channels=3, kernel_size=[3, 5], stride=[1, 2], padding=[1, 2], dilation=1,
          kernel_type="gaussian", smooth_kernel_type="gaussian", normalize_kernel=False, shared_filters=False),
     {"input": (2, 3, 8, 11), "guide": (2, 2, 8, 11)}, None),
    ("conv_shared_s2_avg3_norm", "pacconv2d",
     dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, padding=1, dilation=1,
          kernel_type="gaussian", smooth_kernel_type="average_3", normalize_kernel=True, shared_filters=True),
     {"input": (2, 4, 9, 10), "guide": (2, 3, 9, 10)}, None),
    ("conv_pad0_full5", "pacconv2d",
     dict(in_channels=2, out_channels=3, kernel_size=5, stride=1, padding=0, dilation=1,
          kernel_type="inv_0.2_-1_asym", smooth_kernel_type="full_5", normalize_kernel=False, shared_filters=False),
     {"input": (1, 2, 9, 10), "guide": (1, 3, 9, 10)}, None),
    ("conv_mask", "pacconv2d",
     dict(in_channels=3, out_channels=2, kernel_size=3, stride=1, padding=1, dilation=1,
          kernel_type="gaussian", smooth_kernel_type="none", normalize_kernel=False, shared_filters=False),
     {"input": (2, 3, 7, 8), "guide": (2, 2, 7, 8)}, (2, 1, 7, 8)),
    ("conv_mask_normalize_s2", "pacconv2d",
     dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, padding=1, dilation=1,
          kernel_type="inv_0.5_-1", smooth_kernel_type="none", normalize_kernel=True, shared_filters=False),
     {"input": (1, 2, 9, 9), "guide": (1, 3, 9, 9)}, (1, 1, 9, 9)),
    ("convT_s3_op2_norm", "pacconv_transpose2d",
     dict(in_channels=3, out_channels=2, kernel_size=3, stride=3, padding=1, output_padding=2, dilation=1,
          kernel_type="gaussian", smooth_kernel_type="none", normalize_kernel=True, shared_filters=False,
          filler="uniform"),
     {"input": (2, 3, 4, 3), "guide": (2, 2, 12, 9)}, None),
    ("convT_dil2_shared", "pacconv_transpose2d",
     dict(in_channels=3, out_channels=3, kernel_size=5, stride=2, padding=1, output_padding=1, dilation=2,
          kernel_type="gaussian", smooth_kernel_type="none", normalize_kernel=False, shared_filters=True,
          filler="uniform"),
     {"input": (1, 3, 4, 5), "guide": (1, 2, 14, 16)}, None),
    ("convT_s1_full3_inv_asym", "pacconv_transpose2d",
     dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=1, output_padding=0, dilation=1,
          kernel_type="inv_0.5_-1_asym", smooth_kernel_type="full_3", normalize_kernel=False,
          shared_filters=False, filler="uniform"),
     {"input": (2, 2, 6, 7), "guide": (2, 3, 6, 7)}, None),
    ("convT_mask", "pacconv_transpose2d",
     dict(in_channels=2, out_channels=2, kernel_size=5, stride=2, padding=2, output_padding=1, dilation=1,
          kernel_type="gaussian", smooth_kernel_type="none", normalize_kernel=False, shared_filters=False,
          filler="uniform"),
     {"input": (1, 2, 4, 5), "guide": (1, 3, 8, 10)}, (1, 1, 4, 5)),
    ("pool_channelwise", "pacpool2d",
     dict(kernel_size=3, stride=1, padding=1, dilation=1, kernel_type="gaussian", smooth_kernel_type="none",
          channel_wise=True, normalize_kernel=False),
     {"input": (2, 3, 7, 9), "guide": (2, 3, 7, 9)}, None),
    ("pool_channelwise_inv_norm_s2", "pacpool2d",
     dict(kernel_size=5, stride=2, padding=2, dilation=1, kernel_type="inv_0.5_-1", smooth_kernel_type="none",
          channel_wise=True, normalize_kernel=True, out_channels=3),
     {"input": (1, 3, 9, 11), "guide": (1, 3, 9, 11)}, None),
    ("pool_avg5_smooth", "pacpool2d",
     dict(kernel_size=5, stride=1, padding=2, dilation=1, kernel_type="gaussian", smooth_kernel_type="average_5",
          channel_wise=False, normalize_kernel=False),
     {"input": (2, 2, 8, 9), "guide": (2, 3, 8, 9)}, None),
    ("pool_mask_normalize_dil2", "pacpool2d",
     dict(kernel_size=3, stride=1, padding=2, dilation=2, kernel_type="gaussian", smooth_kernel_type="none",
          channel_wise=False, normalize_kernel=True),
     {"input": (1, 3, 8, 8), "guide": (1, 2, 8, 8)}, (1, 1, 8, 8)),
]


# ------------------------------------------------------------ golden check
def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", {})
    out = {}
    for name, v in h.items():
        a, b = v["data_offsets"]
        dt = {"F64": np.float64, "F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).copy()).double()
    return meta, out


def check_golden(d):
    worst_all = 0.0
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".safetensors"):
            continue
        meta, T = read_st(os.path.join(d, fn))
        op = meta["op"]
        if op not in ("pacconv2d", "pacconv_transpose2d", "pacpool2d"):
            continue
        P = json.loads(meta["params"])
        names = json.loads(meta["inputs"])
        inputs = {n: T[n].clone().requires_grad_(("grad." + n) in T) for n in names}
        params = {n: T[n].clone().requires_grad_(("grad." + n) in T)
                  for n in ("weight", "bias", "inv_alpha", "inv_lambda", "smooth_kernel") if n in T}
        outs = run_layer(op, P, inputs, params)
        (outs[0] * T["grad_output"]).sum().backward()
        worst = (outs[0].detach() - T["output"]).abs().max().item()
        for n, t in list(inputs.items()) + list(params.items()):
            if ("grad." + n) in T:
                worst = max(worst, (t.grad - T["grad." + n]).abs().max().item())
        worst_all = max(worst_all, worst)
        print("%-40s %-22s max |ours - pacnet| = %.3g" % (fn, op, worst))
    print("worst over all golden cases: %.3g" % worst_all)
    return worst_all


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--golden":
        sys.exit(0 if check_golden(sys.argv[2]) < 1e-9 else 1)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                              "tests", "ref", "pac")
    os.makedirs(out, exist_ok=True)
    for i, (name, op, P, shapes, mask) in enumerate(CASES):
        make_case(os.path.join(out, "%02d_%s.safetensors" % (i, name)), op, P, shapes, 1000 + i, mask)
    print("wrote %d cases to %s" % (len(CASES), out))
