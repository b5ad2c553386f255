#!/usr/bin/python3
"""make_zoo_heads_ref.py - forward-parity references for pixl's segmentation
heads on pretrained-style encoders (src/models/pspnet.c, deeplabv3plus.c,
refinenet.c, gfrnet.c). Each network is defined here in PyTorch from its
reference description, on torchvision's own backbone classes:

  pspnet         semseg-style PSPNet (Zhao et al. 2017; hszhao/semseg's head)
                 on torchvision's dilated ResNet-50/101 (output stride 8,
                 replace_stride_with_dilation=[False, True, True]): pyramid
                 pooling bins 1,2,3,6 (adaptive avg pool, 1x1 conv-BN-ReLU to
                 C/4, bilinear align_corners=True), 3x3 conv 512 BN ReLU,
                 Dropout2d 0.1, 1x1 classifier, bilinear up (align_corners=
                 True); auxiliary head on layer3 (3x3 256 BN ReLU Dropout2d 1x1).
                 semseg uses a deep 3-conv stem; pixl uses torchvision's stem,
                 so the counts are those of semseg's head on torchvision ResNets.
  deeplabv3plus  DeepLabv3+ as PixelPick builds it (networks/deeplab.py): ASPP
                 (torchvision's ASPP class: 1x1, three 3x3 atrous 6/12/18 -
                 doubled at output stride 8 - and image pooling, 256 each,
                 project 1x1 256 BN ReLU Dropout 0.5), low-level 1x1 48 BN ReLU,
                 ASPP output resized to the low-level size (bilinear,
                 align_corners=True), concat 304, 3x3 256 BN ReLU Dropout 0.5,
                 3x3 256 BN ReLU Dropout 0.2, 1x1 classifier, bilinear up
                 (align_corners=True). Backbones: torchvision MobileNetV2
                 features 0..17 (320 channels, low level = features.3) at
                 output stride 16 the way DeepLab dilates it, or ResNet-50
                 (low level = layer1).
  refinenet      RefineNet-4-cascade (Lin et al. 2017) as DrSleep/refinenet-pytorch
                 (models/resnet.py, rf101) builds it, on torchvision ResNet-101
                 with the same bare names (conv1, layer1 ...): RCU blocks, CRP with
                 4 stages of 5x5 max pool + 3x3 conv, multi-resolution fusion,
                 output at 1/4 then bilinear up to the input (align_corners=False).
  gfrnet         G-FRNet (Islam et al. 2017) as the authors' CamVid prototxt
                 (mrochan/gfrnet models/camvid/test_camvid_gate.prototxt):
                 VGG-16-BN encoder (torchvision vgg16_bn features), conv6/conv7
                 3x3 1024 BN ReLU Dropout, pred_1, five gate units (3x3 conv to
                 K classes + BN on two adjacent levels, product, BN) and gated
                 refinement units (concat with the upsampled previous label map,
                 3x3 conv to K), bilinear align_corners=True upsampling to the
                 skip sizes; pred_1..pred_5 are the deep-supervision outputs.

Every parameter and buffer is filled by zoo_fill.fill_ (tests/zoo_fill.c does
the same in C), the model is put in eval mode and run on a small input. Each
file tests/ref/zoo/<case>.safetensors holds "input", "output", "aux.<i>" (the
auxiliary heads, in eval mode) and metadata: arch, backbone, output_stride,
n_classes, params (trainable scalars without auxiliary heads), params_aux
(with them), names (JSON [[name, shape], ...] of the state_dict without
auxiliary heads), aux_names (the same for the auxiliary heads' entries). The
cases use CamVid's 11 classes, so the counts are the full-size ones.

Run: /usr/bin/python3 scripts/ref/make_zoo_heads_ref.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import ASPP

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402
import zoo_fill  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "ref", "zoo")


def up(x, size, align_corners=True):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def resnet(name, output_stride):
    rsd = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}[output_stride]
    return getattr(torchvision.models, name)(replace_stride_with_dilation=rsd)


def dilate_mobilenet_v2(mb, output_stride):
    """MobileNetV2 at output stride 16/8 as DeepLab (TF slim, PixelPick's
    MobileNetV2) does it: the block that would exceed the stride keeps stride 1
    and the current rate; the rate then multiplies by 2 for the later blocks."""
    stride, rate = 2, 1  # after features.0
    for i in range(1, 18):
        blk = mb.features[i]
        dw = [m for m in blk.conv.modules() if isinstance(m, nn.Conv2d) and m.groups > 1][0]
        s = dw.stride[0]
        if s == 2 and stride == output_stride:
            dw.stride = (1, 1)
            d = rate
            rate *= 2
        else:
            d = rate
            stride *= s
        dw.dilation = (d, d)
        dw.padding = (d, d)
    return mb


# ------------------------------------------------------------------ PSPNet
class PPM(nn.Module):
    def __init__(self, cin, red, bins):
        super().__init__()
        self.features = nn.ModuleList([
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(cin, red, 1, bias=False), nn.BatchNorm2d(red),
                          nn.ReLU(inplace=True)) for b in bins])

    def forward(self, x):
        return torch.cat([x] + [up(f(x), x.shape[2:]) for f in self.features], 1)


class PSPNet(nn.Module):
    def __init__(self, n_classes, backbone="resnet50", output_stride=8, aux=True):
        super().__init__()
        self.backbone = IntermediateLayerGetter(resnet(backbone, output_stride), {"layer3": "aux", "layer4": "out"})
        c = 2048 if backbone in ("resnet50", "resnet101") else 512
        self.ppm = PPM(c, c // 4, (1, 2, 3, 6))
        self.cls = nn.Sequential(nn.Conv2d(2 * c, 512, 3, padding=1, bias=False), nn.BatchNorm2d(512),
                                 nn.ReLU(inplace=True), nn.Dropout2d(0.1), nn.Conv2d(512, n_classes, 1))
        if aux:
            self.aux = nn.Sequential(nn.Conv2d(c // 2, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256),
                                     nn.ReLU(inplace=True), nn.Dropout2d(0.1), nn.Conv2d(256, n_classes, 1))

    def forward(self, x):
        f = self.backbone(x)
        y = up(self.cls(self.ppm(f["out"])), x.shape[2:])
        return y, ([self.aux(f["aux"])] if hasattr(self, "aux") else [])


# ------------------------------------------------------------- DeepLabv3+
class MobileNetV2Encoder(nn.Module):
    def __init__(self, output_stride):
        super().__init__()
        mb = dilate_mobilenet_v2(torchvision.models.mobilenet_v2(), output_stride)
        self.features = mb.features[:18]

    def forward(self, x):
        low = None
        for i, m in enumerate(self.features):
            x = m(x)
            if i == 3:
                low = x
        return {"low": low, "out": x}


class DeepLabV3Plus(nn.Module):
    def __init__(self, n_classes, backbone="mobilenet_v2", output_stride=16):
        super().__init__()
        rates = [6, 12, 18] if output_stride == 16 else [12, 24, 36]
        if backbone == "mobilenet_v2":
            self.backbone = MobileNetV2Encoder(output_stride)
            cin, clow = 320, 24
        else:
            self.backbone = IntermediateLayerGetter(resnet(backbone, output_stride), {"layer1": "low", "layer4": "out"})
            cin, clow = 2048, 256
        self.aspp = ASPP(cin, rates, 256)
        self.low_level_conv = nn.Sequential(nn.Conv2d(clow, 48, 1, bias=False), nn.BatchNorm2d(48), nn.ReLU())
        self.seg_head = nn.Module()
        self.seg_head.segment_head = nn.Sequential(
            nn.Conv2d(304, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(), nn.Dropout(0.5),
            nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(), nn.Dropout(0.2))
        self.seg_head.classifier = nn.Conv2d(256, n_classes, 1)

    def forward(self, x):
        f = self.backbone(x)
        low = self.low_level_conv(f["low"])
        h = torch.cat([up(self.aspp(f["out"]), low.shape[2:]), low], 1)
        y = self.seg_head.classifier(self.seg_head.segment_head(h))
        return up(y, x.shape[2:]), []


# --------------------------------------------------------------- RefineNet
class RCU(nn.Module):
    """n_blocks x [ (ReLU, 3x3 conv) x 2 + identity ]; first conv of each block has a bias"""

    def __init__(self, cin, cout, n_blocks, n_stages=2):
        super().__init__()
        self.n_blocks, self.n_stages = n_blocks, n_stages
        suffix = ("_conv", "_conv_relu_varout_dimred")
        for i in range(n_blocks):
            for j in range(n_stages):
                self.add_module(f"{i + 1}{suffix[j]}",
                                nn.Conv2d(cin if i == 0 and j == 0 else cout, cout, 3, padding=1, bias=(j == 0)))
        self.names = [[f"{i + 1}{suffix[j]}" for j in range(n_stages)] for i in range(n_blocks)]

    def forward(self, x):
        for blk in self.names:
            r = x
            for nm in blk:
                x = getattr(self, nm)(F.relu(x))
            x = x + r
        return x


class CRP(nn.Module):
    """chained residual pooling: x + sum of [5x5/1 max pool -> 3x3 conv] chained n times"""

    def __init__(self, cin, cout, n_stages=4):
        super().__init__()
        self.n = n_stages
        for i in range(n_stages):
            self.add_module(f"{i + 1}_outvar_dimred", nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False))

    def forward(self, x):
        top = x
        for i in range(self.n):
            top = getattr(self, f"{i + 1}_outvar_dimred")(F.max_pool2d(top, 5, 1, 2))
            x = x + top
        return x


def seq(m):
    return nn.Sequential(m)


class RefineNet(nn.Module):
    def __init__(self, n_classes, backbone="resnet101"):
        super().__init__()
        rn = resnet(backbone, 32)
        for k in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, k, getattr(rn, k))
        ch = [256, 512, 1024, 2048] if backbone in ("resnet50", "resnet101") else [64, 128, 256, 512]
        conv3 = lambda a, b: nn.Conv2d(a, b, 3, padding=1, bias=False)  # noqa: E731
        self.p_ims1d2_outl1_dimred = conv3(ch[3], 512)
        self.adapt_stage1_b = seq(RCU(512, 512, 2))
        self.mflow_conv_g1_pool = seq(CRP(512, 512))
        self.mflow_conv_g1_b = seq(RCU(512, 512, 3))
        self.mflow_conv_g1_b3_joint_varout_dimred = conv3(512, 256)
        for g, c in ((2, ch[2]), (3, ch[1]), (4, ch[0])):
            setattr(self, f"p_ims1d2_outl{g}_dimred", conv3(c, 256))
            setattr(self, f"adapt_stage{g}_b", seq(RCU(256, 256, 2)))
            setattr(self, f"adapt_stage{g}_b2_joint_varout_dimred", conv3(256, 256))
            setattr(self, f"mflow_conv_g{g}_pool", seq(CRP(256, 256)))
            setattr(self, f"mflow_conv_g{g}_b", seq(RCU(256, 256, 3)))
            if g < 4:
                setattr(self, f"mflow_conv_g{g}_b3_joint_varout_dimred", conv3(256, 256))
        self.clf_conv = nn.Conv2d(256, n_classes, 3, padding=1)
        self.do = nn.Dropout(0.5)

    def forward(self, x):
        h = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(h)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        l4, l3 = self.do(l4), self.do(l3)
        y = self.adapt_stage1_b(self.p_ims1d2_outl1_dimred(l4))
        y = self.mflow_conv_g1_b(self.mflow_conv_g1_pool(F.relu(y)))
        y = up(self.mflow_conv_g1_b3_joint_varout_dimred(y), l3.shape[2:])
        for g, l, nxt in ((2, l3, l2), (3, l2, l1), (4, l1, None)):
            z = getattr(self, f"adapt_stage{g}_b")(getattr(self, f"p_ims1d2_outl{g}_dimred")(l))
            z = getattr(self, f"adapt_stage{g}_b2_joint_varout_dimred")(z)
            z = F.relu(z + y)
            z = getattr(self, f"mflow_conv_g{g}_b")(getattr(self, f"mflow_conv_g{g}_pool")(z))
            if nxt is not None:
                y = up(getattr(self, f"mflow_conv_g{g}_b3_joint_varout_dimred")(z), nxt.shape[2:])
            else:
                y = z
        y = self.clf_conv(self.do(y))
        return up(y, x.shape[2:], align_corners=False), []


# ----------------------------------------------------------------- G-FRNet
class VGGEncoder(nn.Module):
    TAPS = {5: "conv1_2", 12: "conv2_2", 22: "conv3_3", 32: "conv4_3", 42: "conv5_3", 43: "pool5"}

    def __init__(self):
        super().__init__()
        self.features = torchvision.models.vgg16_bn().features

    def forward(self, x):
        out = {}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in self.TAPS:
                out[self.TAPS[i]] = x
        return out


class GFRNet(nn.Module):
    def __init__(self, n_classes, aux=True):
        super().__init__()
        K = n_classes
        self.backbone = VGGEncoder()
        conv = lambda a, b: nn.Conv2d(a, b, 3, padding=1)  # noqa: E731
        self.conv6, self.conv6_bn = conv(512, 1024), nn.BatchNorm2d(1024)
        self.conv7, self.conv7_bn = conv(1024, 1024), nn.BatchNorm2d(1024)
        self.pred_1 = conv(1024, K)
        self.pool5_feature_s2 = conv(512, K)
        for lvl, s, c in (("conv5_3", 2, 512), ("conv4_3", 3, 512), ("conv3_3", 4, 256), ("conv2_2", 5, 128),
                          ("conv1_2", 6, 64)):
            setattr(self, f"{lvl}_feature_s{s}", conv(c, K))
            setattr(self, f"{lvl}_feature_s{s}_bn", nn.BatchNorm2d(K))
            setattr(self, f"gate_s{s}_bn", nn.BatchNorm2d(K))
            setattr(self, f"pred_{s}" if s < 6 else "prediction", conv(2 * K, K))
        self.drop = nn.Dropout(0.5)
        self.aux = aux

    def forward(self, x):
        f = self.backbone(x)
        p5 = self.drop(f["pool5"])
        h = self.drop(F.relu(self.conv6_bn(self.conv6(p5))))
        h = self.drop(F.relu(self.conv7_bn(self.conv7(h))))
        pred = self.pred_1(h)
        preds = [pred]
        prev = self.pool5_feature_s2(p5)  # the coarser gate input of stage 2
        for lvl, s in (("conv5_3", 2), ("conv4_3", 3), ("conv3_3", 4), ("conv2_2", 5), ("conv1_2", 6)):
            fe = getattr(self, f"{lvl}_feature_s{s}_bn")(getattr(self, f"{lvl}_feature_s{s}")(f[lvl]))
            size = fe.shape[2:]
            gate = getattr(self, f"gate_s{s}_bn")(fe * up(prev, size))
            pu = up(pred, size)
            cat = torch.cat([pu, gate] if s == 5 else [gate, pu], 1)  # the prototxt's order at stage 5
            pred = getattr(self, f"pred_{s}" if s < 6 else "prediction")(cat)
            preds.append(pred)
            prev = fe
        return pred, (preds[:-1] if self.aux else [])


# ------------------------------------------------------------------- cases
CASES = [
    # file, arch, backbone, output_stride, constructor(n_classes, aux), input shape
    ("pspnet", "pspnet", "resnet50", 8, lambda k, a: PSPNet(k, "resnet50", 8, a), (1, 3, 48, 64)),
    ("deeplabv3plus", "deeplabv3plus", "mobilenet_v2", 16,
     lambda k, a: DeepLabV3Plus(k, "mobilenet_v2", 16), (1, 3, 48, 64)),
    ("deeplabv3plus_resnet50", "deeplabv3plus", "resnet50", 16,
     lambda k, a: DeepLabV3Plus(k, "resnet50", 16), (1, 3, 48, 64)),
    ("refinenet", "refinenet", "resnet101", 32, lambda k, a: RefineNet(k, "resnet101"), (1, 3, 48, 64)),
    ("gfrnet", "gfrnet", "vgg16_bn", 32, lambda k, a: GFRNet(k, a), (1, 3, 48, 64)),
]

# full-size counts (11 classes) for docs/models.md and the C test
FULL = [
    ("pspnet", "resnet50", lambda: PSPNet(11, "resnet50", 8, False)),
    ("pspnet", "resnet101", lambda: PSPNet(11, "resnet101", 8, False)),
    ("deeplabv3plus", "mobilenet_v2", lambda: DeepLabV3Plus(11, "mobilenet_v2", 16)),
    ("deeplabv3plus", "resnet50", lambda: DeepLabV3Plus(11, "resnet50", 16)),
    ("refinenet", "resnet101", lambda: RefineNet(11, "resnet101")),
    ("gfrnet", "vgg16_bn", lambda: GFRNet(11, False)),
]


# the bench convention (bench/bench_torch_models.py): pixl bench name -> constructor(n_classes),
# inference networks (no auxiliary heads)
MODELS = {
    "pspnet": lambda k: PSPNet(k, "resnet50", 8, False),
    "pspnet@resnet101": lambda k: PSPNet(k, "resnet101", 8, False),
    "deeplabv3plus": lambda k: DeepLabV3Plus(k, "mobilenet_v2", 16),
    "deeplabv3plus@resnet50": lambda k: DeepLabV3Plus(k, "resnet50", 16),
    "refinenet": lambda k: RefineNet(k, "resnet101"),
    "gfrnet": lambda k: GFRNet(k, False),
}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def names(m, skip=()):
    return [[k, list(v.shape)] for k, v in m.state_dict().items() if k not in skip]


def main():
    os.makedirs(OUT, exist_ok=True)
    K = 11  # CamVid's classes: the counts are those of docs/models.md
    for arch, bb, ctor in FULL:
        print(f"{arch} {bb} (11 classes): {n_params(ctor())} parameters")
    for fname, arch, bb, os_, ctor, shape in CASES:
        torch.manual_seed(0)
        m_aux = zoo_fill.fill_(ctor(K, True)).eval()
        m_plain = ctor(K, False)
        plain_keys = set(m_plain.state_dict().keys())
        aux_names = [[k, list(v.shape)] for k, v in m_aux.state_dict().items() if k not in plain_keys]
        x = torch.randn(*shape)
        with torch.no_grad():
            y, auxs = m_aux(x)
        amax = [float(y.abs().max())] + [float(a.abs().max()) for a in auxs]
        t = [("input", x), ("output", y)] + [(f"aux.{i}", a) for i, a in enumerate(auxs)]
        meta = {"arch": arch, "backbone": bb, "output_stride": os_, "n_classes": K,
                "params": n_params(m_plain), "params_aux": n_params(m_aux),
                "names": json.dumps(names(m_plain)), "aux_names": json.dumps(aux_names),
                "made_by": "scripts/ref/make_zoo_heads_ref.py torch " + torch.__version__}
        path = os.path.join(OUT, fname + ".safetensors")
        st_write.write(path, t, meta)
        print(f"{fname}: {n_params(m_plain)} params ({n_params(m_aux)} with aux), output {tuple(y.shape)} "
              f"max|y| {amax}, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
