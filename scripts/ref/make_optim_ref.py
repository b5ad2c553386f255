#!/usr/bin/python3
"""make_optim_ref.py -- PyTorch (1.13) reference data for pixl's optimizer,
schedule and checkpoint tests, written to tests/ref/optim/*.safetensors.

Files (all small, safetensors written by hand with json+struct so the script
needs nothing but torch):
  <case>.safetensors     one optimizer trajectory: three parameters in two
                         parameter groups (p0, p1: lr, weight_decay; p2:
                         lr*lr_mult2, weight_decay*wd_mult2), fixed gradient
                         sequences and the parameters after every step.
                         Tensors: p{j}.init, p{j}.grad.{s}, p{j}.after.{s}.
                         The learning rate of step s is lr*lr_gamma**s (set on
                         the groups before the step, as a scheduler does).
                         Metadata: the optimizer's options.
  sched.safetensors      learning rates of torch.optim.lr_scheduler objects at
                         steps 0..n-1 (F64 tensor per schedule, options in
                         metadata as "<name>.<option>").
  torch_state_dict.safetensors        nn.Sequential(Conv2d(3,4,3), BatchNorm2d(4))
                         state_dict after two training forwards (num_batches_tracked
                         is a 0-dim int64, as PyTorch stores it).
  torch_state_dict_mixed.safetensors  the same values in F64/F16/BF16/I32.

Run from the repository root:  /usr/bin/python3 scripts/ref/make_optim_ref.py
"""
import math
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref", "optim")

def write_safetensors(path, tensors, meta=None):
    """tensors: list of (name, torch tensor); meta: dict str -> str."""
    st_write.write(path, tensors, meta)


SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 5


def trajectory(name, make_opt, opts, lr_mult2=0.5, wd_mult2=2.0, lr_gamma=0.9, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in SHAPES]
    grads = [[torch.randn(s, generator=g) for s in SHAPES] for _ in range(STEPS)]
    lr, wd = opts["lr"], opts.get("weight_decay", 0.0)
    groups = [{"params": params[:2], "lr": lr, "weight_decay": wd},
              {"params": params[2:], "lr": lr * lr_mult2, "weight_decay": wd * wd_mult2}]
    opt = make_opt(groups)
    out = [("p%d.init" % j, p.detach().clone()) for j, p in enumerate(params)]
    for s in range(STEPS):
        opt.param_groups[0]["lr"] = lr * lr_gamma ** s
        opt.param_groups[1]["lr"] = lr * lr_mult2 * lr_gamma ** s
        for j, p in enumerate(params):
            p.grad = grads[s][j].clone()
            out.append(("p%d.grad.%d" % (j, s), grads[s][j]))
        opt.step()
        for j, p in enumerate(params):
            out.append(("p%d.after.%d" % (j, s), p.detach().clone()))
    meta = dict(opts)
    meta.update(steps=STEPS, lr_mult2=lr_mult2, wd_mult2=wd_mult2, lr_gamma=lr_gamma, torch=torch.__version__)
    write_safetensors(os.path.join(OUT, name + ".safetensors"), out, {k: repr(v) if isinstance(v, float) else v
                                                                      for k, v in meta.items()})


def optim_cases():
    S = torch.optim.SGD
    trajectory("sgd_plain", lambda gr: S(gr, lr=0.1), dict(kind="sgd", lr=0.1))
    trajectory("sgd_momentum", lambda gr: S(gr, lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
               dict(kind="sgd", lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01), seed=1)
    trajectory("sgd_nesterov", lambda gr: S(gr, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.001),
               dict(kind="sgd", lr=0.05, momentum=0.8, nesterov=1, weight_decay=0.001), seed=2)
    trajectory("adam", lambda gr: torch.optim.Adam(gr, lr=0.01, weight_decay=0.05),
               dict(kind="adam", lr=0.01, weight_decay=0.05), seed=3)
    trajectory("adamw", lambda gr: torch.optim.AdamW(gr, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
               dict(kind="adamw", lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1), seed=4)


def lrs(make, n, lr=0.1):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sch = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return torch.tensor(out, dtype=torch.float64)


def sched_cases():
    L = torch.optim.lr_scheduler
    T, meta = [], {"lr": "0.1"}

    def add(name, make, n, **o):
        T.append((name, lrs(make, n)))
        for k, v in o.items():
            meta["%s.%s" % (name, k)] = v if isinstance(v, str) else repr(v)

    add("step", lambda o: L.StepLR(o, step_size=3, gamma=0.5), 12, step_size=3, gamma=0.5)
    add("multistep", lambda o: L.MultiStepLR(o, milestones=[2, 5, 7], gamma=0.3), 10, gamma=0.3, milestones="2,5,7")
    add("poly", lambda o: L.PolynomialLR(o, total_iters=10, power=0.9), 14, max_steps=10, power=0.9)
    add("cosine", lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11, max_steps=10, min_lr=0.001)
    # warm-up then the main schedule over the remaining steps (pixl's convention):
    # SequentialLR restarts the second scheduler at the milestone.
    add("warm_cosine", lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=3),
                                                     L.CosineAnnealingLR(o, T_max=7, eta_min=0.001)], milestones=[3]),
        11, warmup_steps=3, warmup_start=0.1, max_steps=10, min_lr=0.001)
    add("warm_poly", lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.25, total_iters=4),
                                                   L.PolynomialLR(o, total_iters=8, power=2.0)], milestones=[4]),
        14, warmup_steps=4, warmup_start=0.25, max_steps=12, power=2.0)
    add("warm_multistep", lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.5, total_iters=2),
                                                        L.MultiStepLR(o, milestones=[3, 6], gamma=0.1)],
                                                   milestones=[2]),
        12, warmup_steps=2, warmup_start=0.5, gamma=0.1, milestones="3,6")
    write_safetensors(os.path.join(OUT, "sched.safetensors"), T, meta)


def state_dict_case():
    torch.manual_seed(5)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    m.train()
    for _ in range(2):
        m(torch.randn(2, 3, 6, 6))
    sd = m.state_dict()
    assert sd["1.num_batches_tracked"].dim() == 0
    write_safetensors(os.path.join(OUT, "torch_state_dict.safetensors"), list(sd.items()),
                      {"format": "pt", "torch": torch.__version__})
    casts = {"0.weight": torch.float64, "0.bias": torch.float16, "1.weight": torch.bfloat16,
             "1.running_var": torch.float64, "1.num_batches_tracked": torch.int32}
    mixed = [(k, v.to(casts.get(k, v.dtype))) for k, v in sd.items()]
    write_safetensors(os.path.join(OUT, "torch_state_dict_mixed.safetensors"), mixed)


def main():
    # SequentialLR steps its inner schedulers with an explicit epoch (deprecation warning)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not torch.__version__.startswith("1.13"):
        print("warning: references are defined by torch 1.13, this is %s" % torch.__version__, file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    optim_cases()
    sched_cases()
    state_dict_case()
    for f in sorted(os.listdir(OUT)):
        print("%-40s %6d bytes" % (f, os.path.getsize(os.path.join(OUT, f))))


if __name__ == "__main__":
    main()
