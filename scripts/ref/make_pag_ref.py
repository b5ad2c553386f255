#!/usr/bin/python3
"""make_pag_ref.py - reference cases for pixl's pixel-wise attentional gating
(PAG) ops, made by PyTorch autograd in float64 (run with /usr/bin/python3,
Debian's python3-torch).

Writes tests/ref/pag/*.safetensors in the case format of
../shared/golden/README.md (metadata op/params/inputs/mode/tolerances,
float64 tensors from float32-representable inputs, `output`, `grad_output`,
`grad.<name>`). The ops are pixl's own, so `op` names pixl's builder
(tools/check/pag.c) and `params` its arguments. Every formula below is
written out here from the definitions, not taken from pixl:

  GateSoftmax        logits (N,2,H,W) -> softmax over dim 1 (the gate)
  GumbelSoftmax      logits, noise u (same shape, [0,1)); params t; mode
                     train: u' = (u+1e-5)/1.001, g = -log(-log u'),
                     p = (softmax(x)+0.001)/1.001, y = softmax((log p + g)/t);
                     gradients of x and u by autograd (the exact gradient of
                     the relaxed expression). mode eval: the one-hot of the
                     argmax of softmax(x), no noise, no gradient (no
                     grad_output in the file).
  GumbelSoftmaxST    logits, noise u; params t; mode train: the
                     straight-through Gumbel softmax, y_hard - y_soft.detach()
                     + y_soft with y_soft the relaxed y above and y_hard the
                     one-hot of its argmax (every argmax at least 1e-3 ahead
                     of the runner-up); gradients of x and u by autograd
                     (those of y_soft). Drawn by their own generator after
                     every other case, so the others keep their bytes.
  MaskGating         g (N,2,H,W), h1, h2 (N,C,H,W); params rule true |
                     channel_mean: z = g0*h1 + g1*h2; channel_mean divides
                     autograd's gate gradient by C.
  GateKLLoss         g; params lambda: m_k = mean of g[:,k] over all images
                     and pixels; KL(Bern(l)||Bern(m2)) + KL(Bern(1-l)||Bern(m1)),
                     0 log 0 = 0 for l = 1.
  GateKLCombinedLoss gate0..gateK-1 of different sizes: one pixel-count
                     weighted mean m over all of them, then the KL.
  GateMildLoss       g; params lambda: log(1+(m1-(1-l))^2) + log(1+(m2-l)^2).
lambda and t are used as the float32 values pixl reads from the JSON.

The layers (pixl_nn_gate, pixl_nn_gated_conv3x3, pixl_nn_multipool; their
parameters and buffers under their state_dict names, perturbed away from
their initial values; BN with eps 1e-5, momentum 0.1):
  PAGGate            x (N,C,H,W)[, noise (N,2,H',W')]; params soft, t, blur,
                     stride: logits = conv2d(x, gate.weight, gate.bias,
                     stride); blur: conv2d with the seed's fixed (2,2,3,3)
                     filter (ones/9 on the diagonal, zeros across), pad 1;
                     train: softmax (soft) or the relaxed Gumbel softmax
                     above; eval / infer: the one-hot of the argmax.
  PAGGatedConv       h1 (N,C,H,W), g (N,2,H,W); params dilation, rule:
                     h2 = relu(batch_norm(conv2d(h1, conv.weight, dil, pad
                     dil), bn.*)), z = g0*h1 + g1*h2 by an autograd.Function
                     whose gate gradient is the mean over channels for rule
                     channel_mean (the seed's MaskGating backward).
  PAGBottleneck      x[, noise]; params width, soft, t, blur, stride,
                     dilation, rule: the gated part of a bottleneck,
                     h1 = relu(bn1(conv1(x))) (1x1, stride), g = the gate
                     unit on x, z = PAGGatedConv(h1, g).
  MultiPool          x (N,C,H,W)[, noise (N,K+1,H,W)]; params scales, hidden,
                     t: branch k = relu(branchk.affine.weight *
                     conv2d(x, branchk.weight, dil d_k, pad d_k) + .bias),
                     a = Gumbel(att.6(relu(att.4(att.3(relu(att.1(att.0(x))))))))
                     (att.3 3x3 pad 1), out = a0*x + sum_k a_k*branch_k.
Modes: train (batch statistics; the running statistics after the step are
stored as after.<name>), eval (pixl's EVAL_GRAD: running statistics, hard
gates, gradients where they flow) and infer (pixl's EVAL: the sparse
computation of the gated convs; no gradients). Hard-gate cases keep every
argmax at least 1e-3 ahead of the runner-up, so float32 takes the same.

Usage: /usr/bin/python3 scripts/ref/make_pag_ref.py [OUTDIR]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref", "pag")
MADE_BY = "scripts/ref/make_pag_ref.py, torch " + torch.__version__


def f32(t):
    return t.float().double()


def fl(v):
    """the float32 value of a parameter, as pixl reads it"""
    return float(np.float32(v))


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def write(name, op, params, inputs, out, grads, g, mode="eval", tol="1e-5"):
    tensors = list((nm, t.detach()) for nm, t in inputs) + [("output", out.detach())]
    if grads:
        gy = uniform(out.shape, g, 0.5, 1.5)
        tensors.append(("grad_output", gy))
        (out * gy).sum().backward()
        for nm, t in grads:
            tensors.append(("grad." + nm, t.grad))
    meta = {"op": op, "params": json.dumps(params), "inputs": json.dumps([nm for nm, _ in inputs]),
            "mode": mode, "rtol_f32": tol, "atol_f32": tol, "made_by": MADE_BY}
    st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)


def gumbel_relaxed(x, u, t):
    up = (u + 1e-5) / 1.001
    gn = -torch.log(-torch.log(up))
    p = (torch.softmax(x, 1) + 0.001) / 1.001
    return torch.softmax((torch.log(p) + gn) / t, 1)


def gumbel_st(x, u, t):
    """straight-through: the one-hot of the relaxed y's argmax forward, the relaxed y's gradient backward"""
    y_soft = gumbel_relaxed(x, u, t)
    y_hard = torch.zeros_like(y_soft).scatter_(1, y_soft.argmax(1, keepdim=True), 1.0)
    return y_hard - y_soft.detach() + y_soft, y_soft


def gumbel_hard(x):
    idx = torch.softmax(x, 1).argmax(1, keepdim=True)
    return torch.zeros_like(x).scatter_(1, idx, 1.0)


def budget_means(gates):
    s1 = sum(gt[:, 0].sum() for gt in gates)
    s2 = sum(gt[:, 1].sum() for gt in gates)
    n = sum(gt.shape[0] * gt.shape[2] * gt.shape[3] for gt in gates)
    return s1 / n, s2 / n


def a_log_a_over(a, m):  # a * log(a / m), with 0 log 0 = 0
    return a * (np.log(a) - torch.log(m)) if a > 0 else torch.zeros((), dtype=torch.float64)


def kl_loss(gates, lam):
    m1, m2 = budget_means(gates)
    l, r = lam, 1.0 - lam
    return (a_log_a_over(l, m2) + a_log_a_over(r, 1 - m2) + a_log_a_over(r, m1) + a_log_a_over(l, 1 - m1)).reshape(1)


def mild_loss(gates, lam):
    m1, m2 = budget_means(gates)
    return (torch.log(1 + (m1 - (1 - lam)) ** 2) + torch.log(1 + (m2 - lam) ** 2)).reshape(1)


def gate_probs(shape, g, spread=2.0):
    """softmax of random logits: gates as a network makes them"""
    return f32(torch.softmax(uniform(shape, g, -spread, spread), 1))


# ------------------------------------------------------------------ layers

def rnd(shape, g, lo=-1.0, hi=1.0):
    return uniform(shape, g, lo, hi)


def bn_state(prefix, c, g):
    """BatchNorm2d parameters and buffers, away from their initial values"""
    return {prefix + ".weight": rnd((c,), g, 0.6, 1.4), prefix + ".bias": rnd((c,), g, -0.3, 0.3),
            prefix + ".running_mean": rnd((c,), g, -0.3, 0.3), prefix + ".running_var": rnd((c,), g, 0.5, 1.5),
            prefix + ".num_batches_tracked": torch.tensor([3], dtype=torch.int64)}


def bn(x, st, prefix, train, after):
    """torch's batch_norm; the running statistics are updated on copies, kept in `after`"""
    rm, rv = st[prefix + ".running_mean"].clone(), st[prefix + ".running_var"].clone()
    y = F.batch_norm(x, rm, rv, st[prefix + ".weight"], st[prefix + ".bias"], training=train, momentum=0.1,
                     eps=1e-5)
    if train:
        after[prefix + ".running_mean"] = rm
        after[prefix + ".running_var"] = rv
        after[prefix + ".num_batches_tracked"] = st[prefix + ".num_batches_tracked"] + 1
    return y


class Redraw(Exception):
    """the drawn case does not test what it should: draw it again"""


def redraw_until_fit(make, g, *case):
    for _ in range(100):
        try:
            return make(g, *case)
        except Redraw:
            pass
    raise RuntimeError("%s%s: no fitting draw in 100" % (make.__name__, case[:1]))


def one_hot_argmax(z, min_gap=1e-3):
    """the one-hot of the argmax over dim 1; Redraw when a pixel is within
    min_gap of a tie (float32 might choose otherwise) or a channel is never
    chosen (the case would not test it)"""
    top = z.topk(2, dim=1).values
    used = torch.bincount(z.argmax(1).flatten(), minlength=z.shape[1])
    if (top[:, 0] - top[:, 1]).min().item() <= min_gap or not (used > 0).all():
        raise Redraw()
    return torch.zeros_like(z).scatter_(1, z.argmax(1, keepdim=True), 1.0).detach()


class MaskGating(torch.autograd.Function):
    """z = g0*h1 + g1*h2; the gate's gradient is the true one or its mean over channels"""

    @staticmethod
    def forward(ctx, g, h1, h2, channel_mean):
        ctx.save_for_backward(g, h1, h2)
        ctx.channel_mean = channel_mean
        return g[:, 0:1] * h1 + g[:, 1:2] * h2

    @staticmethod
    def backward(ctx, dz):
        g, h1, h2 = ctx.saved_tensors
        red = (lambda t: t.mean(1, keepdim=True)) if ctx.channel_mean else (lambda t: t.sum(1, keepdim=True))
        return torch.cat([red(h1 * dz), red(h2 * dz)], 1), g[:, 0:1] * dz, g[:, 1:2] * dz, None


def gate_unit(x, st, prefix, p, mode, noise):
    logits = F.conv2d(x, st[prefix + ".weight"], st[prefix + ".bias"], stride=p.get("stride", 1))
    if p.get("blur"):
        avg, zero = torch.full((3, 3), 1.0 / 9, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
        filt = torch.stack([torch.stack([avg, zero]), torch.stack([zero, avg])])  # (out 2, in 2, 3, 3)
        logits = F.conv2d(logits, filt, padding=1)
    if mode != "train":
        return one_hot_argmax(logits)
    if p.get("soft"):
        return torch.softmax(logits, 1)
    return gumbel_relaxed(logits, noise, fl(p["t"]))


def gated_conv(h1, gt, st, p, train):
    d = p.get("dilation", 1)
    after = {}
    h2 = F.relu(bn(F.conv2d(h1, st["conv.weight"], padding=d, dilation=d), st, "bn", train, after))
    return MaskGating.apply(gt, h1, h2, p.get("rule", "true") == "channel_mean"), after


def attention_logits(x, st, train, after, bias=True):
    z = F.relu(bn(F.conv2d(x, st["att.0.weight"]), st, "att.1", train, after))
    z = F.relu(bn(F.conv2d(z, st["att.3.weight"], padding=1), st, "att.4", train, after))
    return F.conv2d(z, st["att.6.weight"], st["att.6.bias"] if bias else None)


def multipool(x, st, p, mode, noise):
    train = mode == "train"
    after = {}
    logits = attention_logits(x, st, train, after)
    a = gumbel_relaxed(logits, noise, fl(p["t"])) if train else one_hot_argmax(logits)
    out = a[:, 0:1] * x
    for k, d in enumerate(p["scales"]):
        pre = "branch%d" % (k + 1)
        br = F.conv2d(x, st[pre + ".weight"], padding=d, dilation=d)
        br = F.relu(br * st[pre + ".affine.weight"][:, None, None] + st[pre + ".affine.bias"][:, None, None])
        out = out + a[:, k + 1:k + 2] * br
    return out, after


def write_layer(name, op, params, inputs, state, out, after, g, mode, tol="1e-5", grad_inputs=()):
    """inputs: (name, tensor); state: parameter/buffer name -> tensor (float64
    parameters require grad); gradients of grad_inputs and of every parameter
    that receives one (none in infer mode)"""
    tensors = [(nm, t.detach()) for nm, t in inputs] + [(k, v.detach()) for k, v in state.items()]
    tensors.append(("output", out.detach()))
    if mode != "infer" and out.requires_grad:
        gy = uniform(out.shape, g, 0.5, 1.5)
        tensors.append(("grad_output", gy))
        (out * gy).sum().backward()
        for nm, t in inputs:
            if nm in grad_inputs:
                tensors.append(("grad." + nm, t.grad))
        for k, v in state.items():
            if v.dtype == torch.float64 and v.requires_grad and v.grad is not None:
                tensors.append(("grad." + k, v.grad))
    for k, v in after.items():
        tensors.append(("after." + k, v.detach()))
    meta = {"op": op, "params": json.dumps(params), "inputs": json.dumps([nm for nm, _ in inputs]),
            "mode": mode, "rtol_f32": tol, "atol_f32": tol, "made_by": MADE_BY}
    st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)


def trainable(st):
    for k, v in st.items():
        if v.dtype == torch.float64 and not any(b in k for b in ("running_", "num_batches")):
            v.requires_grad_(True)
    return st


def make_gate(g, name, shape, p, mode):
    s = p["stride"]
    C = shape[1]
    st = trainable({"gate.weight": rnd((2, C, 1, 1), g, -1.5, 1.5), "gate.bias": rnd((2,), g, -0.2, 0.2)})
    x = rnd(shape, g).requires_grad_(mode == "train")
    oh, ow = (shape[2] - 1) // s + 1, (shape[3] - 1) // s + 1
    inputs = [("x", x)]
    u = None
    if not p["soft"] and mode == "train":
        u = f32(torch.rand((shape[0], 2, oh, ow), generator=g, dtype=torch.float64))
        inputs.append(("noise", u))
    out = gate_unit(x, st, "gate", p, mode, u)
    write_layer(name, "PAGGate", p, inputs, st, out, {}, g, mode, "1e-5", ("x",))


def make_gated_conv(g, name, N, C, H, W, p, mode):
    st = trainable(dict({"conv.weight": rnd((C, C, 3, 3), g, -0.4, 0.4)}, **bn_state("bn", C, g)))
    h1 = rnd((N, C, H, W), g).requires_grad_(mode != "infer")
    if mode == "train":
        gt = gate_probs((N, 2, H, W), g).requires_grad_(True)
    else:
        gt = one_hot_argmax(rnd((N, 2, H, W), g, -2, 2), 0).requires_grad_(mode == "eval")
    out, after = gated_conv(h1, gt, st, p, mode == "train")
    write_layer(name, "PAGGatedConv", p, [("h1", h1), ("g", gt)], st, out, after, g, mode, "1e-5", ("h1", "g"))


def make_bottleneck(g, name, shape, width, p, mode):
    N, C = shape[0], shape[1]
    s = p["stride"]
    st = {"gate.weight": rnd((2, C, 1, 1), g, -1.5, 1.5), "gate.bias": rnd((2,), g, -0.2, 0.2),
          "conv1.weight": rnd((width, C, 1, 1), g, -0.6, 0.6)}
    st.update(bn_state("bn1", width, g))
    st["conv.weight"] = rnd((width, width, 3, 3), g, -0.4, 0.4)
    st.update(bn_state("bn", width, g))
    trainable(st)
    x = rnd(shape, g).requires_grad_(mode != "infer")
    oh, ow = (shape[2] - 1) // s + 1, (shape[3] - 1) // s + 1
    inputs = [("x", x)]
    u = None
    if not p["soft"] and mode == "train":
        u = f32(torch.rand((N, 2, oh, ow), generator=g, dtype=torch.float64))
        inputs.append(("noise", u))
    train = mode == "train"
    after = {}
    h1 = F.relu(bn(F.conv2d(x, st["conv1.weight"], stride=s), st, "bn1", train, after))
    gt = gate_unit(x, st, "gate", p, mode, u)
    out, after2 = gated_conv(h1, gt, st, p, train)
    after.update(after2)
    params = dict(p, width=width)
    write_layer(name, "PAGBottleneck", params, inputs, st, out, after, g, mode, "1e-5", ("x",))


def make_multipool(g, name, shape, scales, hidden, t, mode):
    N, C, H, W = shape
    K = len(scales)
    st = {}
    for k in range(K):
        st["branch%d.weight" % (k + 1)] = rnd((C, C, 3, 3), g, -0.5, 0.5)
        st["branch%d.affine.weight" % (k + 1)] = rnd((C,), g, 0.6, 1.4)
        st["branch%d.affine.bias" % (k + 1)] = rnd((C,), g, -0.3, 0.3)
    st["att.0.weight"] = rnd((hidden[0], C, 1, 1), g, -0.7, 0.7)
    st.update(bn_state("att.1", hidden[0], g))
    st["att.3.weight"] = rnd((hidden[1], hidden[0], 3, 3), g, -0.3, 0.3)
    st.update(bn_state("att.4", hidden[1], g))
    st["att.6.weight"] = rnd((K + 1, hidden[1], 1, 1), g, -1.5, 1.5)
    st["att.6.bias"] = rnd((K + 1,), g, -0.3, 0.3)
    x = rnd(shape, g)
    if mode != "train":  # centre the attention logits, so that the hard choice takes every branch
        with torch.no_grad():
            st["att.6.bias"] = f32(-attention_logits(x, st, False, {}, bias=False).mean((0, 2, 3)))
    trainable(st)
    x.requires_grad_(mode != "infer")
    inputs = [("x", x)]
    u = None
    if mode == "train":
        u = f32(torch.rand((N, K + 1, H, W), generator=g, dtype=torch.float64))
        inputs.append(("noise", u))
    p = {"scales": scales, "hidden": hidden, "t": t}
    out, after = multipool(x, st, p, mode, u)
    write_layer(name, "MultiPool", p, inputs, st, out, after, g, mode, "1e-5", ("x",))


def layer_cases(g):
    # the gate unit
    for case in (
            ("layer_gate_soft_s1", (2, 3, 5, 6), {"soft": 1, "t": 1.0, "blur": 0, "stride": 1}, "train"),
            ("layer_gate_soft_blur_s2", (2, 4, 7, 6), {"soft": 1, "t": 1.0, "blur": 1, "stride": 2}, "train"),
            ("layer_gate_gumbel_s1_t0.5", (2, 3, 4, 5), {"soft": 0, "t": 0.5, "blur": 0, "stride": 1}, "train"),
            ("layer_gate_gumbel_blur_s2_t1", (1, 5, 7, 7), {"soft": 0, "t": 1.0, "blur": 1, "stride": 2}, "train"),
            ("layer_gate_gumbel_blur_s1_t0.3", (2, 2, 6, 4), {"soft": 0, "t": 0.3, "blur": 1, "stride": 1}, "train"),
            ("layer_gate_eval_blur_s2", (2, 3, 7, 8), {"soft": 0, "t": 0.1, "blur": 1, "stride": 2}, "eval"),
            ("layer_gate_infer_s1", (1, 4, 5, 5), {"soft": 1, "t": 1.0, "blur": 0, "stride": 1}, "infer")):
        redraw_until_fit(make_gate, g, *case)
    # the gated 3x3 conv on given h1 and gates
    for case in (
            ("layer_gated_conv_true_d1", 2, 4, 5, 6, {"dilation": 1, "rule": "true"}, "train"),
            ("layer_gated_conv_channel_mean_d1", 2, 4, 5, 6, {"dilation": 1, "rule": "channel_mean"}, "train"),
            ("layer_gated_conv_channel_mean_d2", 1, 3, 7, 5, {"dilation": 2, "rule": "channel_mean"}, "train"),
            ("layer_gated_conv_eval_hard_d1", 2, 4, 5, 6, {"dilation": 1, "rule": "true"}, "eval"),
            ("layer_gated_conv_infer_d1", 2, 5, 6, 7, {"dilation": 1, "rule": "true"}, "infer"),
            ("layer_gated_conv_infer_d2", 1, 4, 9, 8, {"dilation": 2, "rule": "channel_mean"}, "infer")):
        redraw_until_fit(make_gated_conv, g, *case)
    # the gated part of a bottleneck: reduce conv + gate unit on x, then the gated conv
    for case in (
            ("layer_bottleneck_gumbel_channel_mean", (2, 6, 6, 5), 4,
             {"soft": 0, "t": 0.5, "blur": 0, "stride": 1, "dilation": 1, "rule": "channel_mean"}, "train"),
            ("layer_bottleneck_gumbel_true_blur_s2", (2, 5, 8, 7), 3,
             {"soft": 0, "t": 1.0, "blur": 1, "stride": 2, "dilation": 1, "rule": "true"}, "train"),
            ("layer_bottleneck_soft_channel_mean_d2", (1, 4, 7, 7), 4,
             {"soft": 1, "t": 1.0, "blur": 1, "stride": 1, "dilation": 2, "rule": "channel_mean"}, "train"),
            ("layer_bottleneck_eval", (2, 6, 6, 5), 4,
             {"soft": 0, "t": 0.1, "blur": 1, "stride": 1, "dilation": 1, "rule": "channel_mean"}, "eval"),
            ("layer_bottleneck_infer_s2", (2, 6, 9, 8), 5,
             {"soft": 0, "t": 0.1, "blur": 1, "stride": 2, "dilation": 1, "rule": "true"}, "infer")):
        redraw_until_fit(make_bottleneck, g, *case)
    # MultiPool, two scale lists
    for case in (
            ("layer_multipool_s12_train", (2, 4, 6, 7), [1, 2], [6, 5], 1.0, "train"),
            ("layer_multipool_s1248_train", (2, 3, 9, 10), [1, 2, 4, 8], [5, 4], 0.5, "train"),
            ("layer_multipool_s12_eval", (2, 4, 6, 7), [1, 2], [6, 5], 1.0, "eval"),
            ("layer_multipool_s1248_eval", (1, 3, 9, 10), [1, 2, 4, 8], [5, 4], 0.5, "eval"),
            ("layer_multipool_s12_infer", (2, 4, 6, 7), [1, 2], [6, 5], 1.0, "infer"),
            ("layer_multipool_s1248_infer", (2, 3, 9, 10), [1, 2, 4, 8], [5, 4], 0.5, "infer")):
        redraw_until_fit(make_multipool, g, *case)


def make_gumbel_st(g, name, shape, t):
    x = uniform(shape, g, -2, 2).requires_grad_(True)
    u = f32(torch.rand(shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    out, y_soft = gumbel_st(x, u, fl(t))
    top = y_soft.detach().topk(2, dim=1).values
    if (top[:, 0] - top[:, 1]).min().item() <= 1e-3:
        raise Redraw()
    write(name, "GumbelSoftmaxST", {"t": t}, [("logits", x), ("noise", u)], out, [("logits", x), ("noise", u)], g,
          mode="train")


def st_cases(g):
    # the straight-through Gumbel softmax: gates (K = 2) and a K = 4 attention
    for case in (("gumbel_st_gate_t1", (2, 2, 4, 5), 1.0),
                 ("gumbel_st_gate_t0.3", (1, 2, 6, 3), 0.3),
                 ("gumbel_st_k4_t0.7", (2, 4, 3, 3), 0.7)):
        redraw_until_fit(make_gumbel_st, g, *case)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1805)

    # gate softmax on 2-channel logits, odd sizes
    for name, shape in (("gate_softmax", (2, 2, 5, 7)), ("gate_softmax_1x1", (3, 2, 1, 1))):
        x = uniform(shape, g, -3, 3).requires_grad_(True)
        write(name, "GateSoftmax", {}, [("logits", x)], torch.softmax(x, 1), [("logits", x)], g)

    # relaxed Gumbel softmax with fixed noise, several temperatures and shapes
    for name, shape, t, lo, hi in (("gumbel_gate_t1", (2, 2, 4, 5), 1.0, -2, 2),
                                   ("gumbel_gate_t0.1", (1, 2, 6, 3), 0.1, -2, 2),
                                   ("gumbel_gate_t0.5", (2, 2, 3, 3), 0.5, -3, 3),
                                   ("gumbel_k5_t2", (1, 5, 1, 7), 2.0, -2, 2),
                                   ("gumbel_k3_t0.3", (3, 3, 5, 1), 0.3, -1, 1)):
        x = uniform(shape, g, lo, hi).requires_grad_(True)
        u = f32(torch.rand(shape, generator=g, dtype=torch.float64)).requires_grad_(True)
        tt = fl(t)
        write(name, "GumbelSoftmax", {"t": t}, [("logits", x), ("noise", u)], gumbel_relaxed(x, u, tt),
              [("logits", x), ("noise", u)], g, mode="train")
    # noise ends: u = 0 and the largest float below 1 stay finite
    x = uniform((1, 2, 2, 2), g).requires_grad_(True)
    u = f32(torch.tensor([0.0, 1 - 2 ** -24, 0.5, 0.25, 0.0, 0.75, 0.999, 1e-6],
                         dtype=torch.float64).reshape(1, 2, 2, 2))
    write("gumbel_noise_ends", "GumbelSoftmax", {"t": 0.7}, [("logits", x), ("noise", u)],
          gumbel_relaxed(x, u, fl(0.7)), [("logits", x)], g, mode="train")
    # evaluation: hard one-hot, no noise, no gradient
    for name, shape in (("gumbel_eval_hard_gate", (2, 2, 3, 4)), ("gumbel_eval_hard_k4", (1, 4, 5, 3))):
        x = uniform(shape, g, -2, 2)
        write(name, "GumbelSoftmax", {"t": 0.1}, [("logits", x)], gumbel_hard(x), [], g, mode="eval")

    # mask gating, both gate-gradient rules
    for name, N, C, H, W, rule in (("mask_gating_true", 2, 4, 3, 5, "true"),
                                    ("mask_gating_channel_mean", 2, 4, 3, 5, "channel_mean"),
                                    ("mask_gating_true_odd", 1, 7, 1, 9, "true"),
                                    ("mask_gating_channel_mean_odd", 3, 3, 5, 1, "channel_mean")):
        gt = gate_probs((N, 2, H, W), g).requires_grad_(True)
        h1 = uniform((N, C, H, W), g).requires_grad_(True)
        h2 = uniform((N, C, H, W), g).requires_grad_(True)
        z = gt[:, 0:1] * h1 + gt[:, 1:2] * h2
        gy = uniform(z.shape, g, 0.5, 1.5)
        (z * gy).sum().backward()
        gg = gt.grad / C if rule == "channel_mean" else gt.grad
        tensors = [("g", gt.detach()), ("h1", h1.detach()), ("h2", h2.detach()), ("output", z.detach()),
                   ("grad_output", gy), ("grad.g", gg), ("grad.h1", h1.grad), ("grad.h2", h2.grad)]
        meta = {"op": "MaskGating", "params": json.dumps({"rule": rule}), "inputs": json.dumps(["g", "h1", "h2"]),
                "mode": "eval", "rtol_f32": "1e-5", "atol_f32": "1e-5", "made_by": MADE_BY}
        st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)

    # budget losses
    for name, shape, lam, spread in (("gate_kl_l0.7", (1, 2, 6, 8), 0.7, 2.0),
                                     ("gate_kl_batch3_l0.8", (3, 2, 4, 5), 0.8, 2.0),
                                     ("gate_kl_l1", (2, 2, 3, 7), 1.0, 2.0),
                                     ("gate_kl_l0.2_peaked", (1, 2, 5, 5), 0.2, 6.0)):
        gt = gate_probs(shape, g, spread).requires_grad_(True)
        write(name, "GateKLLoss", {"lambda": lam}, [("g", gt)], kl_loss([gt], fl(lam)), [("g", gt)], g)
    for name, shape, lam in (("gate_mild_l0.7", (1, 2, 6, 8), 0.7), ("gate_mild_batch2_l1", (2, 2, 5, 3), 1.0),
                             ("gate_mild_l0.35_1x1", (4, 2, 1, 1), 0.35)):
        gt = gate_probs(shape, g).requires_grad_(True)
        write(name, "GateMildLoss", {"lambda": lam}, [("g", gt)], mild_loss([gt], fl(lam)), [("g", gt)], g)
    for name, shapes, lam in (("gate_kl_combined_3_l0.7", [(1, 2, 8, 8), (1, 2, 4, 4), (1, 2, 2, 2)], 0.7),
                              ("gate_kl_combined_mixed_batch_l1", [(2, 2, 5, 3), (1, 2, 1, 7)], 1.0),
                              ("gate_kl_combined_1_l0.6", [(2, 2, 3, 3)], 0.6)):
        gates = [gate_probs(s, g).requires_grad_(True) for s in shapes]
        nm = [("gate%d" % i, gt) for i, gt in enumerate(gates)]
        write(name, "GateKLCombinedLoss", {"lambda": lam}, nm, kl_loss(gates, fl(lam)), nm, g)

    layer_cases(torch.Generator().manual_seed(3401))
    st_cases(torch.Generator().manual_seed(2207))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
