"""Forward-parity references for pixl's models, built from the PyTorch
definitions in ../shared/anchors/seg_models.py (the networks pixl is
benchmarked against), in eval mode with perturbed BatchNorm statistics.

Each file tests/ref/models/<arch>.safetensors holds the state_dict (F32,
PyTorch names), "input" and "output" (F32) and metadata arch / width /
n_classes. Run: /usr/bin/python3 scripts/ref/make_model_ref.py
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "anchors"))
import st_write  # noqa: E402
import seg_models  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "ref", "models")

CASES = [
    # arch, pixl width, constructor, input shape
    ("enet", 1.0, lambda: seg_models.ENet(num_classes=5), (1, 3, 48, 64)),
    ("unet", 0.25, lambda: seg_models.UNet(num_classes=5, base=8), (1, 3, 45, 61)),
    ("segnet_basic", 0.25, lambda: seg_models.SegNetBasic(num_classes=5, width=16), (1, 3, 45, 61)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for arch, width, ctor, shape in CASES:
        torch.manual_seed(0)
        m = ctor().eval()
        with torch.no_grad():
            for name, b in m.named_buffers():
                if name.endswith("running_mean"):
                    b.copy_(torch.randn_like(b) * 0.1)
                elif name.endswith("running_var"):
                    b.copy_(torch.rand_like(b) + 0.5)
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.01)
        x = torch.randn(*shape)
        with torch.no_grad():
            y = m(x)
        t = {k: v.numpy() for k, v in m.state_dict().items()}
        t["input"] = x.numpy()
        t["output"] = y.numpy()
        st_write.write(os.path.join(OUT, arch + ".safetensors"), t,
                       {"arch": arch, "width": str(width), "n_classes": "5",
                        "made_by": "scripts/ref/make_model_ref.py torch " + torch.__version__})
        n = sum(p.numel() for p in m.parameters())
        print(f"{arch}: {n} parameters, output {tuple(y.shape)}")


if __name__ == "__main__":
    main()
