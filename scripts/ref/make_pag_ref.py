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

Usage: /usr/bin/python3 scripts/ref/make_pag_ref.py [OUTDIR]
"""
import json
import os
import sys

import numpy as np
import torch

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
    print("wrote", OUT)


if __name__ == "__main__":
    main()
