#!/usr/bin/python3
"""make_zoo_backbones_ref.py - forward-parity references for pixl's backbones
(torchvision's own classes) and the models built on them.

For every case, a PyTorch model is built, every float parameter and buffer is
filled with zoo_fill.fill_ (tests/zoo_fill.c reproduces the values in C), it
runs in eval mode on a small input, and tests/ref/zoo/<case>.safetensors gets
  input     the input (F32)
  output    the model's logits (F32)
  features  (backbone cases) the backbone's last feature map
metadata: arch, n_classes, output_stride, variant, params (trainable count),
state (JSON list of [name, shape] of the whole state_dict), made_by.

Backbone cases: a zoo model `resnet50` etc. is the torchvision network's
feature extractor under `backbone.` + a 1x1 conv `classifier` (bias) +
bilinear upsampling (align_corners=False) to the input size. Dilated
variants (output_stride 16 / 8) use torchvision's replace_stride_with_dilation
where torchvision has it (Bottleneck ResNets); for BasicBlock ResNets and
MobileNetV2 the torchvision modules are edited in place (strides to 1,
dilation/padding set) by the rule pixl documents in src/models/backbones.c.

Usage: /usr/bin/python3 scripts/ref/make_zoo_backbones_ref.py [CASE ...]
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402
import zoo_fill  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "ref", "zoo")
TV = torchvision.models


# ------------------------------------------------------------------ backbones
class TorchvisionFeatures(nn.Module):
    """The feature extractor of a torchvision classifier (no avgpool/fc/classifier)."""

    def __init__(self, name, os_=32):
        super().__init__()
        self.kind = name
        if name.startswith("resnet"):
            ctor = getattr(TV, name)
            bottleneck = name in ("resnet50", "resnet101")
            rsd = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}[os_]
            m = ctor(replace_stride_with_dilation=rsd) if bottleneck else ctor()
            if not bottleneck and os_ != 32:
                dilate_basic_resnet(m, rsd)
            self.conv1, self.bn1, self.relu, self.maxpool = m.conv1, m.bn1, m.relu, m.maxpool
            self.layer1, self.layer2, self.layer3, self.layer4 = m.layer1, m.layer2, m.layer3, m.layer4
        elif name in ("vgg16", "vgg16_bn"):
            assert os_ == 32
            self.features = getattr(TV, name)().features
        elif name == "mobilenet_v2":
            self.features = TV.mobilenet_v2().features
            if os_ != 32:
                dilate_mobilenet_v2(self.features, os_)
        else:
            raise ValueError(name)

    def forward(self, x):
        if self.kind.startswith("resnet"):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(x)


def _set_conv(conv, stride=None, dilation=None):
    if stride is not None:
        conv.stride = (stride, stride)
    if dilation is not None:
        conv.dilation = (dilation, dilation)
        conv.padding = (dilation * (conv.kernel_size[0] - 1) // 2,) * 2


def dilate_basic_resnet(m, rsd):
    """torchvision's rule for BasicBlocks (which it refuses): the first block of a
    dilated layer keeps the previous dilation, the others use dilation *= 2;
    both 3x3 convs of a block use the block's dilation."""
    dil = 1
    for layer, dilate in zip((m.layer2, m.layer3, m.layer4), rsd):
        if not dilate:
            continue
        prev, dil = dil, dil * 2
        for i, blk in enumerate(layer):
            d = prev if i == 0 else dil
            _set_conv(blk.conv1, stride=1, dilation=d)
            _set_conv(blk.conv2, dilation=d)
            if blk.downsample is not None:
                blk.downsample[0].stride = (1, 1)


def dilate_mobilenet_v2(features, os_):
    """Stages whose stride would exceed os_ run at stride 1: the first block keeps
    the previous rate, the later ones use rate *= stride (depthwise convs)."""
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    idx, cur, rate = 1, 2, 1
    for t, c, n, s in cfg:
        if s > 1 and cur >= os_:
            first_stride, first_dil, rate = 1, rate, rate * s
        else:
            first_stride, first_dil = s, rate
            cur *= s
        for i in range(n):
            blk = features[idx]
            dw = blk.conv[1][0] if t != 1 else blk.conv[0][0]
            _set_conv(dw, stride=first_stride if i == 0 else 1, dilation=first_dil if i == 0 else rate)
            idx += 1


class BackboneClassifier(nn.Module):
    """pixl's zoo model of a bare backbone: features -> 1x1 conv -> bilinear up."""

    def __init__(self, name, n_classes, os_=32):
        super().__init__()
        self.backbone = TorchvisionFeatures(name, os_)
        ch = {"vgg16": 512, "vgg16_bn": 512, "resnet18": 512, "resnet34": 512, "resnet50": 2048,
              "resnet101": 2048, "mobilenet_v2": 1280}[name]
        self.classifier = nn.Conv2d(ch, n_classes, 1)

    def forward(self, x):
        f = self.backbone(x)
        self.last_features = f
        y = self.classifier(f)
        return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------- cases
# name -> (arch, constructor, input shape, n_classes, output_stride, variant, has_features)
def backbone_case(arch, os_=32, shape=(1, 3, 64, 64)):
    return (arch, lambda: BackboneClassifier(arch, 3, os_), shape, 3, os_, "", True)


CASES = {
    "vgg16": backbone_case("vgg16"),
    "vgg16_bn": backbone_case("vgg16_bn"),
    "resnet18": backbone_case("resnet18", shape=(1, 3, 61, 83)),
    "resnet18_os8": backbone_case("resnet18", 8),
    "resnet34": backbone_case("resnet34"),
    "resnet50_os8": backbone_case("resnet50", 8, (1, 3, 40, 32)),
    "resnet101": backbone_case("resnet101"),
    "mobilenet_v2": backbone_case("mobilenet_v2"),
    "mobilenet_v2_os16": backbone_case("mobilenet_v2", 16, (1, 3, 72, 56)),
}


def run_case(name):
    arch, ctor, shape, k, os_, variant, has_features = CASES[name]
    torch.manual_seed(0)
    m = ctor()
    zoo_fill.fill_(m)
    m.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = m(x)
    t = {"input": x, "output": y}
    if has_features:
        t["features"] = m.last_features
    state = [[n, list(v.shape)] for n, v in m.state_dict().items()]
    n_params = sum(p.numel() for p in m.parameters())
    meta = {"arch": arch, "n_classes": k, "output_stride": os_, "variant": variant, "params": n_params,
            "state": json.dumps(state, separators=(",", ":")),
            "made_by": "scripts/ref/make_zoo_backbones_ref.py torch %s torchvision %s" % (
                torch.__version__, torchvision.__version__)}
    path = os.path.join(OUT, name + ".safetensors")
    st_write.write(path, t, meta)
    print("%-20s %-14s %10d params  output %s  max|y| %.3g  %d bytes" % (
        name, arch, n_params, tuple(y.shape), float(y.abs().max()), os.path.getsize(path)))


def main():
    os.makedirs(OUT, exist_ok=True)
    names = sys.argv[1:] or list(CASES)
    for n in names:
        run_case(n)


if __name__ == "__main__":
    main()
