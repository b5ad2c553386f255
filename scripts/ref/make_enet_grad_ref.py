"""Gradient parity reference for ENet (../shared/anchors/seg_models.py, the
network of the CamVid anchor): every parameter gradient of a class-weighted
cross-entropy with ignored pixels, in eval mode (BatchNorm running statistics,
no dropout) so both sides are deterministic. pixl runs the same in
PIXL_MODE_EVAL_GRAD (tests/test_models.c, model_enet_gradients_match_pytorch).
The float32 state_dict is stored with the gradients.
Run: /usr/bin/python3 scripts/ref/make_enet_grad_ref.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "anchors"))
import st_write  # noqa: E402
import seg_models  # noqa: E402


def main():
    torch.manual_seed(0)
    m = seg_models.ENet(num_classes=5).eval()
    with torch.no_grad():  # perturbed BN statistics, as make_model_ref.py
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    m = m.double()
    x = torch.randn(2, 3, 48, 64, dtype=torch.float32)
    y = torch.randint(0, 5, (2, 48, 64))
    y[:, :6, :] = 255                      # ignored rows
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5], dtype=torch.float64)
    logits = m(x.double())
    loss = F.cross_entropy(logits, y, weight=w, ignore_index=255)
    loss.backward()
    t = {"input": x.numpy(), "labels": y.to(torch.int32).numpy(), "class_weights": w.float().numpy(),
         "loss": np.array([loss.item()], np.float64), "logits": logits.detach().float().numpy()}
    t.update({k: v.numpy() for k, v in state.items()})  # float32 state_dict, loaded by name
    for n, p in m.named_parameters():
        t["grad." + n] = p.grad.float().numpy()
    out = os.path.join(HERE, "..", "..", "tests", "ref", "models", "enet_grad.safetensors")
    st_write.write(out, t, {"arch": "enet", "n_classes": "5", "made_by": "scripts/ref/make_enet_grad_ref.py torch " + torch.__version__})
    print(f"loss {loss.item():.6f}, {len(t) - 5} gradients -> {out}")


if __name__ == "__main__":
    main()
