"""Reference cases for the convolution family that ../shared/golden/torch does
not cover: ConvTranspose2d with groups, dilation + output_padding and
rectangular strides; Conv2d with groups + stride + dilation, rectangular
stride/padding/dilation, channel multipliers, padding='same'/'valid', tile
tails of the fast kernels; Linear on 3-D and 4-D inputs.

Same case format as ../shared/golden/README.md (torch.nn module name as `op`,
constructor kwargs as `params`, float64 tensors from float32-representable
values, `grad.<name>` = d sum(output * grad_output)). The safetensors files
are written by hand with json + struct. Writes tests/ref/conv/*.safetensors.
Run: /usr/bin/python3 scripts/ref/make_conv_ref.py
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref", "conv")

def write_safetensors(path, tensors, metadata):
    st_write.write(path, tensors, metadata)


def f32(t):
    """round to float32-representable values, keep float64"""
    return t.float().double()


CASES = [
    # (file stem, module, kwargs, input shape)
    ("convT_groups_dil_outpad", "ConvTranspose2d",
     dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, dilation=2, groups=2),
     (2, 4, 5, 6)),
    ("convT_groups3_rect", "ConvTranspose2d",
     dict(in_channels=6, out_channels=3, kernel_size=[2, 3], stride=[3, 2], padding=[0, 1], output_padding=[2, 1],
          groups=3), (1, 6, 4, 5)),
    ("convT_depthwise_nobias", "ConvTranspose2d",
     dict(in_channels=4, out_channels=4, kernel_size=4, stride=2, padding=1, groups=4, bias=False), (2, 4, 5, 6)),
    ("convT_dil_outpad_s1", "ConvTranspose2d",
     dict(in_channels=3, out_channels=5, kernel_size=3, stride=1, padding=1, output_padding=1, dilation=2),
     (1, 3, 6, 7)),
    ("conv_groups2_s2_dil2", "Conv2d",
     dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2, dilation=2, groups=2), (2, 4, 11, 12)),
    ("conv_rect_stride_pad_dil", "Conv2d",
     dict(in_channels=3, out_channels=4, kernel_size=[3, 5], stride=[2, 1], padding=[1, 2], dilation=[1, 2]),
     (2, 3, 9, 13)),
    ("conv_multiplier_nobias", "Conv2d",
     dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1, groups=4, bias=False), (1, 4, 9, 10)),
    ("conv_same_dil2", "Conv2d",
     dict(in_channels=3, out_channels=5, kernel_size=3, padding="same", dilation=2), (1, 3, 8, 9)),
    ("conv_valid_rect", "Conv2d",
     dict(in_channels=2, out_channels=3, kernel_size=[2, 4], padding="valid"), (3, 2, 6, 9)),
    ("conv_tile_tails", "Conv2d",
     dict(in_channels=16, out_channels=23, kernel_size=3, padding=1), (1, 16, 7, 69)),
    ("conv_1x1_s2", "Conv2d",
     dict(in_channels=5, out_channels=7, kernel_size=1, stride=2), (2, 5, 9, 8)),
    ("linear_3d", "Linear", dict(in_features=6, out_features=4), (2, 5, 6)),
    ("linear_4d_nobias", "Linear", dict(in_features=5, out_features=3, bias=False), (2, 3, 2, 5)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    for i, (stem, op, kw, shape) in enumerate(CASES):
        m = getattr(nn, op)(**kw).double().train()
        with torch.no_grad():
            for p in m.parameters():  # perturb away from the initial values
                p.copy_(f32(p + 0.1 * torch.randn_like(p)))
        x = f32(torch.randn(*shape, dtype=torch.float64)).requires_grad_(True)
        y = m(x)
        go = f32(torch.randn_like(y))
        (y * go).sum().backward()
        tensors = {"input": x}
        for name, p in m.named_parameters():
            tensors[name] = p
        tensors["output"] = y
        tensors["grad_output"] = go
        tensors["grad.input"] = x.grad
        for name, p in m.named_parameters():
            tensors["grad." + name] = p.grad
        meta = {"op": op, "params": json.dumps(kw), "inputs": json.dumps(["input"]), "mode": "train",
                "rtol_f32": "1e-4", "atol_f32": "1e-4", "made_by": "torch.nn, torch %s" % torch.__version__}
        path = os.path.join(OUT, "%02d_%s.safetensors" % (i, stem))
        write_safetensors(path, tensors, meta)
        print(path, list(y.shape))


if __name__ == "__main__":
    main()
