#!/usr/bin/python3
"""make_jointup_ref.py - reference cases for pixl's joint-upsampling networks
(pacnet's task_jointUpsampling: PacJointUpsample, PacJointUpsampleLite, DJIF,
JBU_<k>_<scale_color>_<scale_space>),
computed in float64 by an independent PyTorch implementation written from
../shared/research/seeds-spec.md section 2.6 on top of make_pac_ref.py's
packernel / pacconv_t (pacnet's PacConvTranspose2d semantics).

Writes tests/ref/jointup/*.safetensors (case format of ../shared/golden/README.md;
op "joint_upsample", params {"network": NAME}, inputs target and guide, every
parameter under pacnet's state_dict name, output, grad_output and gradients).
`pixl check tests/ref/jointup` runs them (tools/check/jointup.c). To keep
the files small only the first case stores parameter gradients; the others
carry the metadata param_grads = "omitted" (input gradients are always there).

  /usr/bin/python3 scripts/ref/make_jointup_ref.py [OUTDIR]
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_pac_ref as pr  # noqa: E402
import st_write  # noqa: E402

torch.set_default_dtype(torch.float64)
TOL = "1e-4"
MADE_BY = "scripts/ref/make_jointup_ref.py, torch " + torch.__version__

LITE = {4: dict(g=(12, 22), t=(12, 16, 22), f=(12, 16, 22), k=12),
        8: dict(g=(12, 16), t=(12, 16, 16), f=(12, 16, 16, 20), k=12),
        16: dict(g=(8, 16), t=(8, 16, 16), f=(8, 16, 16, 16, 16), k=10)}


def widths(name, factor):
    nu = int(math.log2(factor))
    if "lite" in name:
        w = LITE[factor]
        return w["t"], w["g"], w["f"], w["k"], nu
    return (32, 32, 32), (32, 32), (32,) * (nu + 1), 16, nu


def jbu_spec(name, factor):
    """jbu_K_SC_SS -> kernel, scale_color, scale_space, padding, output_padding (pacnet's JointBilateral)"""
    k, sc, ss = name.split("_")[1:]
    k = int(k)
    return k, float(sc), float(ss), 1 + (k - factor - 1) // 2, (k - factor) % 2


def params_of(name, factor, gch, g):
    """list of (state_dict name, shape)"""
    out = []
    if name.startswith("jbu"):
        k = jbu_spec(name, factor)[0]
        return [("convt.weight", (1, 1, k, k))]
    if name.startswith("djif"):
        ks, ntg, nf = (9, 1, 5), (96, 48, 1), (64, 32, 1)
        for br, cin in (("branch_t", 1), ("branch_g", gch)):
            c = cin
            for l in range(3):
                out += [(f"{br}.{2 * l}.weight", (ntg[l], c, ks[l], ks[l])), (f"{br}.{2 * l}.bias", (ntg[l],))]
                c = ntg[l]
        c = 2
        for l in range(3):
            out += [(f"branch_joint.{2 * l}.weight", (nf[l], c, ks[l], ks[l])), (f"branch_joint.{2 * l}.bias", (nf[l],))]
            c = nf[l]
        return out
    tf, gf, ff, kch, nu = widths(name, factor)
    c = 1
    for l in range(3):
        out += [(f"branch_t.conv{l + 1}.weight", (tf[l], c, 5, 5)), (f"branch_t.conv{l + 1}.bias", (tf[l],))]
        c = tf[l]
    gc, c = gf + (kch * nu,), gch
    for l in range(3):
        out += [(f"branch_g.conv{l + 1}.weight", (gc[l], c, 5, 5)), (f"branch_g.conv{l + 1}.bias", (gc[l],))]
        c = gc[l]
    c = tf[2]
    for i in range(nu):
        out += [(f"up_convts.{i}.weight", (c, ff[i], 5, 5)), (f"up_convts.{i}.bias", (ff[i],))]
        c = ff[i]
    out += [("branch_f.conv1.weight", (ff[nu], c, 5, 5)), ("branch_f.conv1.bias", (ff[nu],)),
            ("branch_f.conv2.weight", (1, ff[nu], 5, 5)), ("branch_f.conv2.bias", (1,))]
    return out


def forward(name, factor, P, target, guide):
    B, C, h, w = target.shape
    t = target.reshape(B * C, 1, h, w)

    def rep(x):  # each sample repeated C times
        if C == 1:
            return x
        return x.repeat(1, C, *([1] * (x.dim() - 2))).reshape(B * C, *x.shape[1:])

    if name.startswith("jbu"):  # guide [colour * sc, y * ss, x * ss], normalised Gaussian, identity weights
        k, sc, ss, p, op = jbu_spec(name, factor)
        H, W = guide.shape[2:]
        yy = torch.arange(H, dtype=guide.dtype).reshape(1, 1, H, 1).expand(B, 1, H, W)
        xx = torch.arange(W, dtype=guide.dtype).reshape(1, 1, 1, W).expand(B, 1, H, W)
        feat = torch.cat([guide * sc, yy * ss, xx * ss], 1)
        K, _ = pr.packernel(feat, None, (k, k), (factor, factor), (p, p), (op, op), (1, 1), pr.parse_kind("gaussian"),
                            None, None, None, False, True, True)
        x = pr.pacconv_t(t, rep(K), P["convt.weight"], None, (factor, factor), (p, p), (op, op), (1, 1), False)
        return x.reshape(B, C, x.shape[2], x.shape[3])

    if name.startswith("djif"):
        t = F.interpolate(t, scale_factor=factor, mode="bilinear", align_corners=False)
        pads, pj = (2, 2, 2), (4, 0, 2)
        a, b = t, guide
        for l in range(3):
            a = F.conv2d(a, P[f"branch_t.{2 * l}.weight"], P[f"branch_t.{2 * l}.bias"], padding=pads[l])
            b = F.conv2d(b, P[f"branch_g.{2 * l}.weight"], P[f"branch_g.{2 * l}.bias"], padding=pads[l])
            if l < 2:
                a, b = F.relu(a), F.relu(b)
        x = torch.cat([a, rep(b)], 1)
        for l in range(3):
            x = F.conv2d(x, P[f"branch_joint.{2 * l}.weight"], P[f"branch_joint.{2 * l}.bias"], padding=pj[l])
            if l < 2:
                x = F.relu(x)
        return x.reshape(B, C, x.shape[2], x.shape[3])
    tf, gf, ff, kch, nu = widths(name, factor)
    x = t
    for l in range(3):
        x = F.conv2d(x, P[f"branch_t.conv{l + 1}.weight"], P[f"branch_t.conv{l + 1}.bias"], padding=2)
        if l < 2:
            x = F.relu(x)
    gg = guide
    for l in range(3):
        gg = F.conv2d(gg, P[f"branch_g.conv{l + 1}.weight"], P[f"branch_g.conv{l + 1}.bias"], padding=2)
        if l < 2:
            gg = F.relu(gg)
    for i in range(nu):
        scale = 2 ** (i + 1) / factor
        gc = gg[:, i * kch:(i + 1) * kch]
        if scale != 1:
            gc = F.interpolate(gc, scale_factor=scale, mode="bilinear", align_corners=False)
        gc = rep(gc)
        K, _ = pr.packernel(gc, None, (5, 5), (1, 1), (2, 2), (0, 0), (1, 1), pr.parse_kind("gaussian"), None, None,
                            None, False, False, False)
        x = F.relu(pr.pacconv_t(x, K, P[f"up_convts.{i}.weight"], P[f"up_convts.{i}.bias"], (2, 2), (2, 2), (1, 1),
                                (1, 1), False))
    x = F.relu(F.conv2d(x, P["branch_f.conv1.weight"], P["branch_f.conv1.bias"], padding=2))
    x = F.conv2d(x, P["branch_f.conv2.weight"], P["branch_f.conv2.bias"], padding=2)
    return x.reshape(B, C, x.shape[2], x.shape[3])


def make_case(path, name, factor, B, C, h, w, seed, param_grads):
    g = torch.Generator().manual_seed(seed)
    target = pr.uniform((B, C, h, w), g).requires_grad_(True)
    guide = pr.uniform((B, 3, h * factor, w * factor), g).requires_grad_(True)
    plist = params_of(name, factor, 3, g)
    P = {}
    for n, shape in plist:
        fan = 1
        for s in shape[1:]:
            fan *= s
        bound = 1.0 / math.sqrt(max(fan, 1)) if len(shape) > 1 else 0.1
        P[n] = pr.uniform(shape, g, -bound, bound).requires_grad_(True)
    y = forward(name, factor, P, target, guide)
    go = pr.uniform(y.shape, g)
    (y * go).sum().backward()
    tensors = [("target", target.detach()), ("guide", guide.detach())]
    tensors += [(n, P[n].detach()) for n, _ in plist]
    tensors += [("output", y.detach()), ("grad_output", go), ("grad.target", target.grad), ("grad.guide", guide.grad)]
    if param_grads:  # parameter gradients only where the file stays small (inputs' gradients always)
        tensors += [("grad." + n, P[n].grad) for n, _ in plist]
    meta = {"op": "joint_upsample", "params": json.dumps({"network": f"{name}_x{factor}"}),
            "inputs": json.dumps(["target", "guide"]), "rtol_f32": TOL, "atol_f32": TOL, "made_by": MADE_BY}
    if not param_grads:
        meta["param_grads"] = "omitted"  # pixl check then skips its no-gradient-where-none check
    st_write.write(path, tensors, meta)
    print(path, tuple(y.shape), sum(P[n].numel() for n, _ in plist), "parameters")


CASES = [  # name, factor, batch, target channels, low-res h, w, parameter gradients
    ("pacjointupsample_lite", 4, 1, 2, 3, 4, True),
    ("pacjointupsample_lite", 8, 2, 1, 2, 3, False),
    ("pacjointupsample_lite", 16, 1, 1, 1, 2, False),
    ("pacjointupsample", 8, 1, 2, 2, 2, False),
    ("djif", 4, 1, 2, 3, 4, False),
    ("jbu_5_2_0.5", 4, 1, 2, 3, 4, True),
    ("jbu_17_1_0.25", 8, 2, 1, 2, 3, True),
]

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                              "tests", "ref", "jointup")
    os.makedirs(out, exist_ok=True)
    for i, (name, f, B, C, h, w, pg) in enumerate(CASES):
        make_case(os.path.join(out, "%02d_%s_x%d.safetensors" % (i, name, f)), name, f, B, C, h, w, 3000 + i, pg)
