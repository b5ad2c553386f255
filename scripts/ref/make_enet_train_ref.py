"""Training-trajectory reference for ENet at the anchor's real size:
the network of ../shared/anchors/seg_models.py in TRAIN mode (BatchNorm batch
statistics and running-stat updates), dropout off (p = 0, so both sides are
deterministic), class-weighted cross-entropy ignoring void, Adam 5e-4 with
L2 weight decay 2e-4 -- the anchor's recipe -- for STEPS steps over NB fixed
batches of B images at 176x240.

Records the initial state_dict, the batches, the float64 and float32 loss
of every step and the running statistics after step 0; with --full also every
parameter gradient of step 0 (float64) and every tensor after the last step
(float64 and float32). tests/test_models.c (model_enet_train_steps_match_pytorch)
replays the steps in pixl and compares the losses and statistics.

Committed reference (random N(0,1) images, random labels with a void band,
2 batches of 1 image, 8 steps): tests/ref/models/enet_train.safetensors
  /usr/bin/python3 scripts/ref/make_enet_train_ref.py
The real-data run of docs/benchmarks.md (4 CamVid batches of 8, 40 steps):
  /usr/bin/python3 scripts/ref/make_enet_train_ref.py --camvid ../shared/datasets/camvid \
      --batches 4 --batch 8 --steps 40 --full --out /tmp/enet_train_camvid.safetensors
  PIXL_ENET_TRAIN_REF=/tmp/enet_train_camvid.safetensors ./build/pixl_tests model_enet_train_steps
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ANCH = os.path.join(HERE, "..", "..", "..", "shared", "anchors")
sys.path.insert(0, HERE)
sys.path.insert(0, ANCH)
import st_write  # noqa: E402
import seg_models  # noqa: E402


def batches(a):
    H, W = a.rows, a.cols
    if a.camvid:
        import camvid_torch_train as anchor
        X, Y = anchor.load_split(a.camvid, "train")
        rng = np.random.RandomState(a.seed)
        idx = rng.permutation(len(X))[:a.batches * a.batch]
        xs, ys = [], []
        for k in range(a.batches):
            b = idx[k * a.batch:(k + 1) * a.batch]
            x = anchor.to_input(X[b]); y = torch.from_numpy(Y[b].astype(np.int64))
            x = F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)
            y = F.interpolate(y[:, None].float(), size=(H, W), mode="nearest")[:, 0].long()
            xs.append(x); ys.append(y)
        freq = np.bincount(Y[Y < 11].ravel(), minlength=11) / (Y < 11).sum()
        w = torch.tensor(1.0 / np.log(1.02 + freq), dtype=torch.float32)
        return torch.stack(xs), torch.stack(ys), w
    g = torch.Generator().manual_seed(a.seed)
    x = torch.randn(a.batches, a.batch, 3, H, W, generator=g)
    y = torch.randint(0, 11, (a.batches, a.batch, H, W), generator=g)
    y[:, :, : H // 8, :] = 11
    w = torch.rand(11, generator=g) * 4 + 0.5
    return x, y, w


def run(state, X, Y, w, steps, dtype):
    m = seg_models.ENet(num_classes=11)
    m.load_state_dict(state)
    for mod in m.modules():
        if isinstance(mod, nn.Dropout2d):
            mod.p = 0.0
    m = m.to(dtype).train()
    opt = torch.optim.Adam(m.parameters(), lr=5e-4, weight_decay=2e-4)
    losses, grads0, stats1 = [], {}, {}
    for s in range(steps):
        k = s % X.shape[0]
        loss = F.cross_entropy(m(X[k].to(dtype)), Y[k], weight=w.to(dtype), ignore_index=11)
        opt.zero_grad(); loss.backward()
        if s == 0:
            grads0 = {n: p.grad.detach().clone() for n, p in m.named_parameters()}
        opt.step()
        if s == 0:
            stats1 = {n: b.detach().clone() for n, b in m.named_buffers() if "running" in n}
        losses.append(loss.item())
    return np.array(losses, np.float64), grads0, stats1, m.state_dict()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--camvid", default=None)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rows", type=int, default=176)
    ap.add_argument("--cols", type=int, default=240)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--full", action="store_true", help="also step-0 gradients and the final tensors")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "ref", "models", "enet_train.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    state = {k: v.clone() for k, v in seg_models.ENet(num_classes=11).state_dict().items()}
    X, Y, w = batches(a)
    l64, g64, s64, end64 = run(state, X.double(), Y, w, a.steps, torch.float64)
    l32, _, _, end32 = run(state, X, Y, w, a.steps, torch.float32)
    t = {"input": X.float().numpy(), "labels": Y.to(torch.int32).numpy(), "class_weights": w.float().numpy(),
         "loss64": l64, "loss32": l32}
    t.update({k: v.numpy() for k, v in state.items()})  # initial float32 state_dict, loaded by name
    t.update({"stats1." + k: v.float().numpy() for k, v in s64.items()})
    if a.full:
        t.update({"grad0." + k: v.float().numpy() for k, v in g64.items()})
        t.update({"end64." + k: v.float().numpy() for k, v in end64.items() if v.dtype.is_floating_point})
        t.update({"end32." + k: v.float().numpy() for k, v in end32.items() if v.dtype.is_floating_point})
    st_write.write(a.out, t, {"arch": "enet", "n_classes": "11", "steps": str(a.steps),
                              "made_by": "scripts/ref/make_enet_train_ref.py torch " + torch.__version__})
    d = np.abs(l32 - l64) / l64
    print(f"steps {a.steps}: loss64 {l64[0]:.6f} -> {l64[-1]:.6f}; float32 vs float64 rel diff max {d.max():.2e}"
          f" (step {int(d.argmax())}) -> {a.out}")


if __name__ == "__main__":
    main()
