#!/usr/bin/python3
"""make_paccrf_ref.py - reference cases for pixl's PacCRF / PacCRFLoose
(NVlabs/pacnet semantics), computed in float64 by an independent PyTorch
implementation written from ../shared/research/seeds-spec.md section 2.5
(not pacnet's code), on top of make_pac_ref.py's packernel/pacconv:

  K_m   = packernel2d(avgpool_b(edge_feat)), gaussian, k x k, dilation d,
          padding (k//2)*d; avgpool_b: kernel = stride = b, padding
          ((b - n % b) % b + 1) // 2 per dim, padding not counted
  step: Q = softmax(logQ); logQ = w_u * unary - sum_m pw_m * R_m(Compat_m(Msg_m(avgpool_b(Q), K_m)))
  R_m   = bilinear x b (align_corners=False), crop at the pooling padding
  pw_m  = constant initial weight (-w for Potts) except Potts without a
          spatial filter (learnable); PacCRFLoose = untied steps.s. copies

Writes tests/ref/paccrf/*.safetensors in the case format of
../shared/golden/README.md with op paccrf / paccrf_loose and the
constructor arguments as params. Shapes and settings differ from the golden
cases (blur 2 and 3 on odd sizes, batch 2, softmax / log_softmax outputs,
fixed weighting, a unary weight of 0.8, three terms).

  /usr/bin/python3 scripts/ref/make_paccrf_ref.py [OUTDIR]
  /usr/bin/python3 scripts/ref/make_paccrf_ref.py --golden ../shared/golden/pac
      recompute the golden paccrf cases (made by pacnet itself) with this
      implementation and print the worst differences.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_pac_ref as pr  # noqa: E402  (packernel, pacconv, f32, uniform, read_st)
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
TOL = "1e-4"
MADE_BY = "scripts/ref/make_paccrf_ref.py, torch " + torch.__version__


def ceil_pad(n, b):
    return ((b - n % b) % b + 1) // 2


def blur(x, b):
    if b == 1:
        return x
    p = (ceil_pad(x.shape[2], b), ceil_pad(x.shape[3], b))
    return F.avg_pool2d(x, b, b, p, count_include_pad=False)


def terms_of(P):
    pk = P.get("pairwise_kernels") or []
    if isinstance(pk, dict):
        pk = [pk]
    out = []
    for t in pk:
        out.append(dict(k=t.get("kernel_size", 3), d=t.get("dilation", 1), b=t.get("blur", 1),
                        compat=t.get("compat_type", "4d"), spatial=t.get("spatial_filter", True),
                        w=t.get("pairwise_weight", 1.0)))
    return out


def step_params(P, C, g, prefix):
    """(name, tensor, learnable) of one step, perturbed away from the init"""
    out = []
    if not P.get("fixed_weighting", False):
        out.append((prefix + "unary_weight", pr.f32(torch.tensor([P.get("unary_weight", 1.0)]) +
                                                    0.1 * (torch.rand(1, generator=g) - 0.5)), True))
    for m, t in enumerate(terms_of(P)):
        k = t["k"]
        if t["compat"] in ("na", "4d"):
            out.append((prefix + "messengers.%d.weight" % m, pr.uniform((C, C, k, k), g, -0.3, 0.3), True))
        elif t["spatial"]:
            out.append((prefix + "messengers.%d.weight" % m, pr.uniform((1, 1, k, k), g, 0.2, 1.0), True))
        else:
            w = torch.ones(1, 1, k, k)
            w[0, 0, k // 2, k // 2] = 0
            out.append((prefix + "messengers.%d.weight" % m, w, False))
        if t["compat"] == "2d":
            out.append((prefix + "compat.%d.weight" % m,
                        pr.f32(1 - torch.eye(C).view(C, C, 1, 1) + 0.2 * (torch.rand(C, C, 1, 1, generator=g) - 0.5)),
                        True))
        w0 = -t["w"] if t["compat"] == "potts" else t["w"]
        learn = t["compat"] == "potts" and not t["spatial"] and not P.get("fixed_weighting", False)
        out.append((prefix + "pairwise_weights.%d" % m,
                    pr.f32(torch.tensor([w0]) + (0.2 * (torch.rand(1, generator=g) - 0.5) if learn else 0)), learn))
    return out


def crf_forward(P, loose, unary, feat, params):
    terms = terms_of(P)
    steps = P["num_steps"]
    H, W = unary.shape[2:]
    pre0 = "steps.0." if loose else ""
    kernels = []
    for m, t in enumerate(terms):
        if t["compat"] == "na":
            kernels.append(None)
            continue
        k, d = (t["k"], t["k"]), (t["d"], t["d"])
        pad = (t["k"] // 2 * t["d"],) * 2
        K, _ = pr.packernel(blur(feat, t["b"]), None, k, (1, 1), pad, (0, 0), d, pr.parse_kind("gaussian"), None,
                            None, None, False, False, False)
        kernels.append(K)
    del pre0
    logQ = unary
    for s in range(steps):
        pre = "steps.%d." % s if loose else ""
        Q = F.softmax(logQ, dim=1)
        uw = params.get(pre + "unary_weight")
        new = unary * (uw if uw is not None else P.get("unary_weight", 1.0))
        for m, t in enumerate(terms):
            q = blur(Q, t["b"])
            w = params[pre + "messengers.%d.weight" % m]
            pad = t["k"] // 2 * t["d"]
            if t["compat"] == "na":
                msg = F.conv2d(q, w, None, 1, pad, t["d"])
            else:
                msg = pr.pacconv(q, kernels[m], w, None, (1, 1), (pad, pad), (t["d"], t["d"]), t["compat"] != "4d")
            if t["compat"] == "2d":
                msg = F.conv2d(msg, params[pre + "compat.%d.weight" % m])
            if t["b"] > 1:
                msg = F.interpolate(msg, scale_factor=t["b"], mode="bilinear", align_corners=False)
                p0, p1 = ceil_pad(H, t["b"]), ceil_pad(W, t["b"])
                msg = msg[:, :, p0:p0 + H, p1:p1 + W]
            learn = t["compat"] == "potts" and not t["spatial"] and not P.get("fixed_weighting", False)
            pw = params[pre + "pairwise_weights.%d" % m] if learn else (-t["w"] if t["compat"] == "potts" else t["w"])
            new = new - msg * pw
        logQ = new
    fo = P.get("final_output", "log_Q")
    if fo == "softmax":
        return F.softmax(logQ, dim=1)
    if fo == "log_softmax":
        return F.log_softmax(logQ, dim=1)
    return logQ


def make_case(path, op, P, B, H, W, NF, seed):
    g = torch.Generator().manual_seed(seed)
    C = P["channels"]
    loose = op == "paccrf_loose"
    unary = pr.uniform((B, C, H, W), g, -2, 2).requires_grad_(True)
    feat = pr.uniform((B, NF, H, W), g, -1.5, 1.5).requires_grad_(True)
    plist = []
    for s in range(P["num_steps"] if loose else 1):
        plist += step_params(P, C, g, "steps.%d." % s if loose else "")
    params = {n: t.clone().requires_grad_(learn) for n, t, learn in plist}
    y = crf_forward(P, loose, unary, feat, params)
    go = pr.uniform(y.shape, g)
    (y * go).sum().backward()
    tensors = [("unary", unary.detach()), ("edge_feat", feat.detach())]
    tensors += [(n, t) for n, t, _ in plist]
    tensors += [("output", y.detach()), ("grad_output", go), ("grad.unary", unary.grad),
                ("grad.edge_feat", feat.grad)]
    tensors += [("grad." + n, params[n].grad) for n, _, learn in plist if learn]
    meta = {"op": op, "params": json.dumps(P), "inputs": json.dumps(["unary", "edge_feat"]), "rtol_f32": TOL,
            "atol_f32": TOL, "made_by": MADE_BY}
    st_write.write(path, tensors, meta)


def pk(k, d, b, compat, spatial=True, w=1.0):
    return dict(kernel_size=k, dilation=d, blur=b, compat_type=compat, spatial_filter=spatial, pairwise_weight=w)


CASES = [
    # name, op, params, (B, H, W, feature channels)
    ("blur2_odd_4d_potts_s", "paccrf",
     dict(channels=3, num_steps=2, final_output="log_Q",
          pairwise_kernels=[pk(3, 1, 2, "4d"), pk(3, 2, 1, "potts", True, 0.6)]),
     (2, 9, 11, 3)),
    ("blur3_2d_nospatial_softmax", "paccrf",
     dict(channels=4, num_steps=3, final_output="softmax", unary_weight=0.8,
          pairwise_kernels=[pk(5, 1, 3, "2d", False, 1.3), pk(3, 1, 1, "potts", False, 0.7)]),
     (1, 11, 10, 5)),
    ("three_terms_log_softmax", "paccrf",
     dict(channels=3, num_steps=2, final_output="log_softmax",
          pairwise_kernels=[pk(3, 3, 1, "na"), pk(3, 1, 2, "2d", True, 0.9), pk(5, 2, 1, "4d", True, 0.5)]),
     (2, 8, 9, 2)),
    ("fixed_weighting_potts", "paccrf",
     dict(channels=3, num_steps=2, fixed_weighting=True, unary_weight=1.2,
          pairwise_kernels=[pk(3, 1, 1, "potts", False, 0.8), pk(3, 1, 3, "4d")]),
     (1, 7, 10, 3)),
    ("loose3_blur2_potts", "paccrf_loose",
     dict(channels=3, num_steps=3, final_output="log_Q",
          pairwise_kernels=[pk(3, 1, 2, "potts", False, 0.9), pk(3, 2, 1, "2d", True, 0.7)]),
     (2, 9, 8, 4)),
    ("loose2_single_dict", "paccrf_loose",
     dict(channels=4, num_steps=2, final_output="softmax", pairwise_kernels=pk(5, 1, 1, "4d")),
     (1, 6, 7, 3)),
]


def check_golden(d):
    worst_all = 0.0
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".safetensors"):
            continue
        meta, T = pr.read_st(os.path.join(d, fn))
        op = meta["op"]
        if op not in ("paccrf", "paccrf_loose"):
            continue
        P = json.loads(meta["params"])
        unary = T["unary"].clone().requires_grad_(True)
        feat = T["edge_feat"].clone().requires_grad_(True)
        params = {n: T[n].clone().requires_grad_(("grad." + n) in T) for n in T
                  if n not in ("unary", "edge_feat", "output", "grad_output") and not n.startswith("grad.")}
        y = crf_forward(P, op == "paccrf_loose", unary, feat, params)
        (y * T["grad_output"]).sum().backward()
        worst = (y.detach() - T["output"]).abs().max().item()
        for n, t in [("unary", unary), ("edge_feat", feat)] + list(params.items()):
            if ("grad." + n) in T:
                worst = max(worst, (t.grad - T["grad." + n]).abs().max().item())
        worst_all = max(worst_all, worst)
        print("%-40s %-14s max |ours - pacnet| = %.3g" % (fn, op, worst))
    print("worst over all golden CRF cases: %.3g" % worst_all)
    return worst_all


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--golden":
        sys.exit(0 if check_golden(sys.argv[2]) < 1e-9 else 1)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                              "tests", "ref", "paccrf")
    os.makedirs(out, exist_ok=True)
    for i, (name, op, P, (B, H, W, NF)) in enumerate(CASES):
        make_case(os.path.join(out, "%02d_%s.safetensors" % (i, name)), op, P, B, H, W, NF, 2000 + i)
    print("wrote %d cases to %s" % (len(CASES), out))
