"""End-to-end parity reference: a tiny two-level U-Net (4 classes, two
32x32 RGB images), computed by PyTorch in float64.

Writes tests/ref/e2e/unet_tiny.safetensors with: the input and target, the
initial state_dict (PyTorch names), step-0 logits and loss, the gradient of
every parameter at step 0 ("grad.<name>"), and the loss before each of 10
steps of SGD (lr 0.05, momentum 0.9, weight decay 1e-4) and, from the same
initial state, 10 steps of Adam (lr 1e-3). Run: /usr/bin/python3 scripts/ref/make_e2e_ref.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref", "e2e")


class TinyUNet(nn.Module):
    def __init__(self, k=4):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, k, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        u = self.up(e2)
        return self.head(self.dec(torch.cat([u, e1], 1)))


WEIGHT = [1.0, 2.0, 0.5, 1.5]


def loss_fn(logits, y):
    return F.cross_entropy(logits, y, weight=torch.tensor(WEIGHT, dtype=torch.float64), ignore_index=255)


def main():
    torch.manual_seed(0)
    m = TinyUNet().double()
    # float32-representable initial values so pixl starts from the same point
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.float().double())
    init = {k: v.clone() for k, v in m.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 32, 32, generator=g).float().double()
    y = torch.randint(0, 4, (2, 32, 32), generator=g)
    y[torch.rand(2, 32, 32, generator=g) < 0.1] = 255

    out = {"input": x.numpy(), "target": y.numpy()}
    for k, v in init.items():
        out[k] = v.numpy()
    m.train()
    logits = m(x)
    loss = loss_fn(logits, y)
    loss.backward()
    out["logits0"] = logits.detach().clone().numpy()
    out["loss0"] = np.array([loss.item()])
    for k, p in m.named_parameters():
        out["grad." + k] = p.grad.detach().clone().numpy()

    def run(opt_fn):
        m.load_state_dict(init)
        opt = opt_fn(m.parameters())
        losses = []
        for _ in range(10):
            opt.zero_grad()
            L = loss_fn(m(x), y)
            L.backward()
            opt.step()
            losses.append(L.item())
        return np.array(losses)

    out["sgd_losses"] = run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4))
    out["adam_losses"] = run(lambda p: torch.optim.Adam(p, lr=1e-3))
    os.makedirs(OUT, exist_ok=True)
    st_write.write(os.path.join(OUT, "unet_tiny.safetensors"), out,
                   {"made_by": "scripts/ref/make_e2e_ref.py torch " + torch.__version__,
                    "class_weight": ",".join(map(str, WEIGHT)), "ignore_index": "255"})
    print("sgd", out["sgd_losses"])
    print("adam", out["adam_losses"])


if __name__ == "__main__":
    main()
