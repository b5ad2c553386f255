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


# --------------------------------------------------------------------- models
def _vgg_features(bn):
    return (TV.vgg16_bn() if bn else TV.vgg16()).features


class FCN(nn.Module):
    """FCN-32s/16s/8s as pixl builds them (src/models/fcn.c): torchvision VGG-16
    features under backbone., pytorch-semseg's head names; pad100 = the original
    pad-100-and-crop form, else same padding with top-left crops."""

    def __init__(self, kind, k, pad100):
        super().__init__()
        self.kind, self.pad100 = kind, pad100
        self.backbone = nn.Module()
        self.backbone.features = f = _vgg_features(False)
        f[0].padding = (100, 100) if pad100 else (1, 1)
        for m in f:
            if isinstance(m, nn.MaxPool2d):
                m.ceil_mode = True
        p6 = 0 if pad100 else 3
        self.classifier = nn.Sequential(nn.Conv2d(512, 4096, 7, padding=p6), nn.ReLU(), nn.Dropout2d(),
                                        nn.Conv2d(4096, 4096, 1), nn.ReLU(), nn.Dropout2d(), nn.Conv2d(4096, k, 1))

        def up(kk, s):
            return nn.ConvTranspose2d(k, k, kk, stride=s, padding=0 if pad100 else s // 2, bias=False)
        if kind == 32:
            self.upscore = up(64, 32)
        else:
            self.score_pool4 = nn.Conv2d(512, k, 1)
            self.upscore2 = up(4, 2)
            if kind == 16:
                self.upscore16 = up(32, 16)
            else:
                self.score_pool3 = nn.Conv2d(256, k, 1)
                self.upscore4 = up(4, 2)
                self.upscore8 = up(16, 8)

    @staticmethod
    def _crop(t, off, h, w):
        return t[:, :, off:off + h, off:off + w]

    def _add(self, up, score, off):
        if self.pad100:  # crop the skip score to the upsampled map
            return up + self._crop(score, off, up.shape[2], up.shape[3])
        return self._crop(up, 0, score.shape[2], score.shape[3]) + score

    def forward(self, x):
        h, taps = x, {}
        for i, m in enumerate(self.backbone.features):
            h = m(h)
            taps[i] = h
        h = self.classifier(h)
        H, W = x.shape[2], x.shape[3]
        if self.kind == 32:
            return self._crop(self.upscore(h), 19 if self.pad100 else 0, H, W)
        h = self._add(self.upscore2(h), self.score_pool4(taps[23]), 5)
        if self.kind == 16:
            return self._crop(self.upscore16(h), 27 if self.pad100 else 0, H, W)
        h = self._add(self.upscore4(h), self.score_pool3(taps[16]), 9)
        return self._crop(self.upscore8(h), 31 if self.pad100 else 0, H, W)


def semseg_fcn8s_params(k):
    """Trainable parameters of pytorch-semseg's fcn8s(n_classes=k, learned_billinear=True),
    its module layout re-declared here (conv_block1..5, classifier, score_pool4/3, upscore2/4/8)."""
    def block(cin, cout, n, pad0=1):
        layers = []
        for i in range(n):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=pad0 if i == 0 else 1), nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(2, 2, ceil_mode=True))
    m = nn.ModuleDict({
        "conv_block1": block(3, 64, 2, 100), "conv_block2": block(64, 128, 2), "conv_block3": block(128, 256, 3),
        "conv_block4": block(256, 512, 3), "conv_block5": block(512, 512, 3),
        "classifier": nn.Sequential(nn.Conv2d(512, 4096, 7), nn.ReLU(), nn.Dropout2d(), nn.Conv2d(4096, 4096, 1),
                                    nn.ReLU(), nn.Dropout2d(), nn.Conv2d(4096, k, 1)),
        "score_pool4": nn.Conv2d(512, k, 1), "score_pool3": nn.Conv2d(256, k, 1),
        "upscore2": nn.ConvTranspose2d(k, k, 4, stride=2, bias=False),
        "upscore4": nn.ConvTranspose2d(k, k, 4, stride=2, bias=False),
        "upscore8": nn.ConvTranspose2d(k, k, 16, stride=8, bias=False)})
    return sum(p.numel() for p in m.parameters())


def conv_bn_relu(cin, cout, k=3, bias=True):
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias), nn.BatchNorm2d(cout), nn.ReLU()]


class SegNet(nn.Module):
    """SegNet as pixl builds it (src/models/segnet.c)."""

    def __init__(self, k):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.features = _vgg_features(True)
        for m in self.backbone.features:
            if isinstance(m, nn.MaxPool2d):
                m.return_indices = True

        def seq(cin, outs, last=None):
            layers, c = [], cin
            for o in outs:
                layers += conv_bn_relu(c, o)
                c = o
            if last:
                layers.append(nn.Conv2d(c, last, 3, padding=1))
            return nn.Sequential(*layers)
        self.dec5 = seq(512, [512, 512, 512])
        self.dec4 = seq(512, [512, 512, 256])
        self.dec3 = seq(256, [256, 256, 128])
        self.dec2 = seq(128, [128, 64])
        self.dec1 = seq(64, [64], last=k)

    def forward(self, x):
        h, pools = x, []
        for m in self.backbone.features:
            if isinstance(m, nn.MaxPool2d):
                size = h.shape[2:]
                h, idx = m(h)
                pools.append((idx, size))
            else:
                h = m(h)
        for dec, (idx, size) in zip((self.dec5, self.dec4, self.dec3, self.dec2, self.dec1), reversed(pools)):
            h = dec(F.max_unpool2d(h, idx, 2, 2, output_size=size))
        return h


class LinkDecoder(nn.Sequential):
    def __init__(self, m, n, stride):
        super().__init__(nn.Conv2d(m, m // 4, 1, bias=False), nn.BatchNorm2d(m // 4), nn.ReLU(),
                         nn.ConvTranspose2d(m // 4, m // 4, 3, stride, 1, output_padding=stride - 1, bias=False),
                         nn.BatchNorm2d(m // 4), nn.ReLU(),
                         nn.Conv2d(m // 4, n, 1, bias=False), nn.BatchNorm2d(n), nn.ReLU())


class LinkNet(nn.Module):
    """LinkNet as the paper (and src/models/linknet.c): decoder outputs added to
    the encoder block inputs; larger maps cropped top-left to the skip's size."""

    def __init__(self, k):
        super().__init__()
        self.backbone = TorchvisionFeatures("resnet18")
        self.dec4, self.dec3 = LinkDecoder(512, 256, 2), LinkDecoder(256, 128, 2)
        self.dec2, self.dec1 = LinkDecoder(128, 64, 2), LinkDecoder(64, 64, 1)
        self.final = nn.Sequential(nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1, bias=False),
                                   nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(32), nn.ReLU(), nn.ConvTranspose2d(32, k, 2, 2))

    @staticmethod
    def _fit(t, like):
        return t[:, :, :like.shape[2], :like.shape[3]]

    def forward(self, x):
        b = self.backbone
        e0 = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        e1 = b.layer1(e0)
        e2 = b.layer2(e1)
        e3 = b.layer3(e2)
        e4 = b.layer4(e3)
        d = self._fit(self.dec4(e4), e3) + e3
        d = self._fit(self.dec3(d), e2) + e2
        d = self._fit(self.dec2(d), e1) + e1
        d = self.dec1(d) + e0
        return self._fit(self.final(d), x)


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
    "fcn8s_pad100": ("fcn8s", lambda: FCN(8, 3, True), (1, 3, 64, 64), 3, 0, "pad100", False),
    "fcn8s": ("fcn8s", lambda: FCN(8, 3, False), (1, 3, 72, 88), 3, 0, "", False),
    "fcn16s": ("fcn16s", lambda: FCN(16, 3, False), (1, 3, 64, 96), 3, 0, "", False),
    "fcn32s_pad100": ("fcn32s", lambda: FCN(32, 3, True), (1, 3, 50, 70), 3, 0, "pad100", False),
    "segnet": ("segnet", lambda: SegNet(3), (1, 3, 64, 80), 3, 0, "", False),
    "linknet": ("linknet", lambda: LinkNet(3), (1, 3, 72, 88), 3, 0, "", False),
}


# the bench convention (bench/bench_torch_models.py): pixl bench name -> constructor(n_classes)
MODELS = {arch: (lambda k, a=arch: BackboneClassifier(a, k, 32))
          for arch in ("vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2")}
for _n in (8, 16, 32):
    MODELS["fcn%ds" % _n] = (lambda k, n=_n: FCN(n, k, False))
    MODELS["fcn%ds:pad100" % _n] = (lambda k, n=_n: FCN(n, k, True))
MODELS["segnet"] = lambda k: SegNet(k)
MODELS["linknet"] = lambda k: LinkNet(k)


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
            "semseg_fcn8s_params": semseg_fcn8s_params(k) if name == "fcn8s_pad100" else "",
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
