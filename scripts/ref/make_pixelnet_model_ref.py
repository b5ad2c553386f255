#!/usr/bin/python3
"""make_pixelnet_model_ref.py - model-level references for pixl's PixelNet
(src/models/pixelnet.c): the whole network written here in PyTorch, float64,
with every parameter and buffer set by zoo_fill.fill_ (tests/zoo_fill.c gives
pixl the same values), so no weights are committed.

The module: a trunk (torchvision's VGG-16 `features` under `backbone.`, or
pixl's test trunk pixelnet_tiny: conv3x3-ReLU | maxpool 2 | conv3x3-ReLU |
maxpool 2 | conv3x3-ReLU with widths 16w, 32w, 64w); the taps (module
outputs, strides 2^k); BatchNorm2d(affine=False) on each tap (`tap_bn.<i>`,
eval: running statistics); hypercolumns by PixelNet's geometry (offset
(s-1)/2, bilinear, clamped at the borders) at the rows (n, y, x) of a pixel
list; the head nn.Sequential(Linear, ReLU, Dropout, ..., Linear) as `head`.

Files (tests/ref/pixelnet_model/*.safetensors, read by tests/test_pixelnet.c):
  x (N,3,H,W), pixels (P,3) int64, sampled (P,K) = head at the pixels,
  dense (N,K,H,W) = head at every pixel (eval), and for the tiny trunk
  grad_output (P,K) and grad.<name> of sum(sampled * grad_output) for every
  parameter. Metadata: backbone, variant (pixl's), n_classes, width, names
  (JSON list of [name, shape] of the state_dict).

Usage: /usr/bin/python3 scripts/ref/make_pixelnet_model_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
import zoo_fill  # noqa: E402
from make_pixelnet_ref import hypercolumn_gather  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref",
                                                          "pixelnet_model")
MADE_BY = "scripts/ref/make_pixelnet_model_ref.py, torch " + torch.__version__


class Trunk(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features


class PixelNet(nn.Module):
    def __init__(self, features, taps, strides, chans, mlp, K, dropout):
        super().__init__()
        self.backbone = Trunk(features)
        self.taps, self.strides = taps, strides
        self.tap_bn = nn.ModuleList([nn.BatchNorm2d(c, affine=False) for c in chans])
        layers, d = [], sum(chans)
        for h in mlp:
            layers += [nn.Linear(d, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            d = h
        layers.append(nn.Linear(d, K))
        self.head = nn.Sequential(*layers)

    def maps(self, x):
        out, h = [], x
        for i, m in enumerate(self.backbone.features):
            h = m(h)
            if i in self.taps:
                out.append(self.tap_bn[self.taps.index(i)](h))
            if i >= max(self.taps):
                break
        return out

    def forward(self, x, pixels):
        f = self.maps(x)
        hc = hypercolumn_gather(f, pixels, self.strides, [(s - 1) / 2 for s in self.strides])
        return self.head(hc)


def tiny_features(width):
    c = [int(round(16 * width)), int(round(32 * width)), int(round(64 * width))]
    return nn.Sequential(nn.Conv2d(3, c[0], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c[0], c[1], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU()), c


def all_pixels(N, H, W):
    n, y, x = torch.meshgrid(torch.arange(N), torch.arange(H), torch.arange(W), indexing="ij")
    return torch.stack([n.flatten(), y.flatten(), x.flatten()], 1)


def make(name, net, backbone, variant, K, width, N, H, W, P, g, grads):
    net = zoo_fill.fill_(net.double()).eval()
    x = (torch.rand((N, 3, H, W), generator=g, dtype=torch.float64) * 2 - 1).float().double()
    pix = torch.stack([torch.randint(0, N, (P,), generator=g), torch.randint(0, H, (P,), generator=g),
                       torch.randint(0, W, (P,), generator=g)], 1)
    sampled = net(x, pix)
    with torch.no_grad():
        dense = net(x, all_pixels(N, H, W)).reshape(N, H, W, K).permute(0, 3, 1, 2).contiguous()
    tensors = [("x", x), ("pixels", pix), ("sampled", sampled.detach()), ("dense", dense)]
    if grads:
        gy = (torch.rand(sampled.shape, generator=g, dtype=torch.float64) + 0.5).float().double()
        (sampled * gy).sum().backward()
        tensors.append(("grad_output", gy))
        for pn, p in net.named_parameters():
            tensors.append(("grad." + pn, p.grad))
    names = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    meta = {"backbone": backbone, "variant": variant, "n_classes": K, "width": width, "names": json.dumps(names),
            "made_by": MADE_BY}
    st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, meta)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(2017)
    # pixelnet_tiny, width 0.5, all three taps, mlp 24,16, dropout (identity in eval), gradients
    f, c = tiny_features(0.5)
    make("tiny", PixelNet(f, [1, 4, 7], [1, 2, 4], c, [24, 16], 5, 0.5), "pixelnet_tiny", "mlp=24,16", 5, 0.5,
         2, 21, 18, 40, g, True)
    # VGG-16 (torchvision features) with PixelNet's c12345 taps conv1_2..conv5_3 (ReLU outputs), linear head
    vgg = torchvision.models.vgg16().features
    taps = [3, 8, 15, 22, 29]
    make("vgg16_c12345", PixelNet(vgg, taps, [1, 2, 4, 8, 16], [64, 128, 256, 512, 512], [32], 4, 0.0), "vgg16",
         "taps=features.3,features.8,features.15,features.22,features.29;mlp=32;dropout=0", 4, 1.0,
         1, 36, 44, 30, g, False)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
