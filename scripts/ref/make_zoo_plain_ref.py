"""Parity references for pixl's "plain" zoo models (no pretrained backbone):
U-Net in the paper's valid form, FC-DenseNet56/67/103, ICNet, FRRN A/B.

The PyTorch definitions below are written for pixl from the papers and from
reading pytorch-semseg (ptsemseg/models/{unet,icnet,frrn}.py, utils.py) and
the Tiramisu authors' description; parameter names are those of
pytorch-semseg (U-Net, ICNet, FRRN) and of the common PyTorch Tiramisu port
(FC-DenseNet), so their state_dicts load into pixl without renaming.
Where pytorch-semseg cannot run (sizes its fixed interpolation rules do not
fit), these definitions generalise it the way pixl does; every case below is
at a size where both agree (asserted).

Each model is filled with zoo_fill.fill_ (tests/zoo_fill.c reproduces the
values), put in eval mode and run on a generated input
    x = zoo_fill.values("input", shape) / sqrt(3 / fan_in)   (uniform in [-1, 1))
(tests/test_zoo_plain.c generates the same bits). tests/ref/zoo/<case>.safetensors
holds "output" (F32), for ICNet "aux.0"/"aux.1" (the CFF classifier logits
of sub24 and sub4), "input" when the file stays small, and metadata: arch,
variant, width, n_classes, input_shape, n_params (trainable), state (JSON
list of [name, shape] of every state_dict tensor).

Run: /usr/bin/python3 scripts/ref/make_zoo_plain_ref.py
bench/bench_torch_models.py imports MODELS from here (the same definitions).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402
import zoo_fill  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "ref", "zoo")


# ----------------------------------------------------------------- U-Net
class UNetConv2(nn.Module):
    """two unpadded 3x3 conv (+BN) + ReLU (pytorch-semseg unetConv2)"""

    def __init__(self, cin, cout, bn):
        super().__init__()
        def unit(a, b):
            layers = [nn.Conv2d(a, b, 3, 1, 0)] + ([nn.BatchNorm2d(b)] if bn else []) + [nn.ReLU()]
            return nn.Sequential(*layers)
        self.conv1 = unit(cin, cout)
        self.conv2 = unit(cout, cout)

    def forward(self, x):
        return self.conv2(self.conv1(x))


class UNetUp(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = UNetConv2(cin, cout, False)
        self.up = nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2)

    def forward(self, skip, x):
        up = self.up(x)
        off = (skip.shape[2] - up.shape[2]) // 2, (skip.shape[3] - up.shape[3]) // 2
        skip = skip[:, :, off[0]:off[0] + up.shape[2], off[1]:off[1] + up.shape[3]]
        return self.conv(torch.cat([skip, up], 1))


class UNetValid(nn.Module):
    """The paper's U-Net (valid convs, crop-and-concat) = pytorch-semseg unet with
    feature_scale = 1/width, is_deconv=True; bn=False is the paper (and
    is_batchnorm=False), bn=True pytorch-semseg's default. The input is mirrored
    (reflect) by 92 px top/left and up to the next valid size 16k+124 bottom/right,
    the output cropped to the input size (the paper's overlap-tile border)."""

    def __init__(self, n_classes, width=1.0, bn=False):
        super().__init__()
        f = [int(64 * 2 ** i * width + 1e-4) for i in range(5)]
        self.conv1 = UNetConv2(3, f[0], bn)
        self.conv2 = UNetConv2(f[0], f[1], bn)
        self.conv3 = UNetConv2(f[1], f[2], bn)
        self.conv4 = UNetConv2(f[2], f[3], bn)
        self.center = UNetConv2(f[3], f[4], bn)
        self.up_concat4 = UNetUp(f[4], f[3])
        self.up_concat3 = UNetUp(f[3], f[2])
        self.up_concat2 = UNetUp(f[2], f[1])
        self.up_concat1 = UNetUp(f[1], f[0])
        self.final = nn.Conv2d(f[0], n_classes, 1)

    def forward(self, x):
        H, W = x.shape[2:]
        PH, PW = 188, 188
        while PH < H + 184:
            PH += 16
        while PW < W + 184:
            PW += 16
        pads = [92, PW - W - 92, 92, PH - H - 92]
        while any(pads):  # reflect in steps smaller than the current size
            step = [min(pads[i], (x.shape[3] if i < 2 else x.shape[2]) - 1) for i in range(4)]
            x = F.pad(x, step, mode="reflect")
            pads = [a - b for a, b in zip(pads, step)]
        c1 = self.conv1(x)
        c2 = self.conv2(F.max_pool2d(c1, 2))
        c3 = self.conv3(F.max_pool2d(c2, 2))
        c4 = self.conv4(F.max_pool2d(c3, 2))
        h = self.center(F.max_pool2d(c4, 2))
        h = self.up_concat4(c4, h)
        h = self.up_concat3(c3, h)
        h = self.up_concat2(c2, h)
        h = self.up_concat1(c1, h)
        return self.final(h)[:, :, :H, :W]


# ----------------------------------------------------------- FC-DenseNet
def _brc(cin, cout, k):
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, k, 1, k // 2, bias=True),
                         nn.Dropout(0.2))


class DenseBlock(nn.Module):
    def __init__(self, cin, growth, n, whole):
        super().__init__()
        self.whole = whole
        self.layers = nn.ModuleList()
        for i in range(n):
            layer = nn.Sequential()
            layer.add_module("norm", nn.BatchNorm2d(cin + i * growth))
            layer.add_module("relu", nn.ReLU())
            layer.add_module("conv", nn.Conv2d(cin + i * growth, growth, 3, 1, 1, bias=True))
            layer.add_module("drop", nn.Dropout(0.2))
            self.layers.append(layer)

    def forward(self, x):
        new = []
        for layer in self.layers:
            y = layer(x)
            x = torch.cat([x, y], 1)
            new.append(y)
        return x if self.whole else torch.cat(new, 1)


class TransitionDown(nn.Sequential):
    def __init__(self, c):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(c))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(c, c, 1, 1, 0, bias=True))
        self.add_module("drop", nn.Dropout(0.2))
        self.add_module("pool", nn.MaxPool2d(2))


class TransitionUp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.convTrans = nn.ConvTranspose2d(c, c, 3, stride=2, padding=0, bias=True)

    def forward(self, x, skip):
        y = self.convTrans(x)  # 2h+1
        t, l = (y.shape[2] - skip.shape[2]) // 2, (y.shape[3] - skip.shape[3]) // 2
        y = y[:, :, t:t + skip.shape[2], l:l + skip.shape[3]]
        return torch.cat([y, skip], 1)


class Bottleneck(nn.Module):
    def __init__(self, cin, growth, n):
        super().__init__()
        self.bottleneck = DenseBlock(cin, growth, n, whole=False)

    def forward(self, x):
        return self.bottleneck(x)


class FCDenseNet(nn.Module):
    """Jégou et al. 2017; TU applied to the new maps of the previous block only."""

    def __init__(self, down, bottleneck, up, growth, n_classes, first=48):
        super().__init__()
        self.firstconv = nn.Conv2d(3, first, 3, 1, 1, bias=True)
        c, skips = first, []
        self.denseBlocksDown, self.transDownBlocks = nn.ModuleList(), nn.ModuleList()
        for n in down:
            self.denseBlocksDown.append(DenseBlock(c, growth, n, whole=True))
            c += growth * n
            skips.insert(0, c)
            self.transDownBlocks.append(TransitionDown(c))
        self.bottleneck = Bottleneck(c, growth, bottleneck)
        prev = growth * bottleneck
        self.transUpBlocks, self.denseBlocksUp = nn.ModuleList(), nn.ModuleList()
        for i, n in enumerate(up):
            self.transUpBlocks.append(TransitionUp(prev))
            c = prev + skips[i]
            last = i == len(up) - 1
            self.denseBlocksUp.append(DenseBlock(c, growth, n, whole=last))
            prev = growth * n
            c += growth * n
        self.finalConv = nn.Conv2d(c, n_classes, 1, 1, 0, bias=True)

    def forward(self, x):
        h = self.firstconv(x)
        skips = []
        for blk, td in zip(self.denseBlocksDown, self.transDownBlocks):
            h = blk(h)
            skips.append(h)
            h = td(h)
        h = self.bottleneck(h)
        for tu, blk in zip(self.transUpBlocks, self.denseBlocksUp):
            h = blk(tu(h, skips.pop()))
        return self.finalConv(h)


def fc_densenet56(k):
    return FCDenseNet((4,) * 5, 4, (4,) * 5, 12, k)


def fc_densenet67(k):
    return FCDenseNet((5,) * 5, 5, (5,) * 5, 16, k)


def fc_densenet103(k):
    return FCDenseNet((4, 5, 7, 10, 12), 15, (12, 10, 7, 5, 4), 16, k)


# ------------------------------------------------------------------ ICNet
class CB(nn.Module):
    """conv(no bias)-BN(-ReLU) under .<unit>.0/.1 (pytorch-semseg conv2DBatchNorm[Relu])"""

    def __init__(self, cin, cout, k, stride=1, pad=0, dil=1, relu=True):
        super().__init__()
        seq = nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dil, bias=False), nn.BatchNorm2d(cout),
                            *([nn.ReLU()] if relu else []))
        setattr(self, "cbr_unit" if relu else "cb_unit", seq)
        self.relu = relu

    def forward(self, x):
        return (self.cbr_unit if self.relu else self.cb_unit)(x)


class PSPConvBlock(nn.Module):
    def __init__(self, cin, mid, cout, stride, dil):
        super().__init__()
        self.cbr1 = CB(cin, mid, 1)
        self.cbr2 = CB(mid, mid, 3, stride, dil, dil)
        self.cb3 = CB(mid, cout, 1, relu=False)
        self.cb4 = CB(cin, cout, 1, stride, relu=False)

    def forward(self, x):
        return F.relu(self.cb3(self.cbr2(self.cbr1(x))) + self.cb4(x))


class PSPIdentityBlock(nn.Module):
    def __init__(self, c, mid, dil):
        super().__init__()
        self.cbr1 = CB(c, mid, 1)
        self.cbr2 = CB(mid, mid, 3, 1, dil, dil)
        self.cb3 = CB(mid, c, 1, relu=False)

    def forward(self, x):
        return F.relu(self.cb3(self.cbr2(self.cbr1(x))) + x)


class PSPResBlock(nn.Module):
    def __init__(self, n, cin, mid, cout, stride, dil, rng="all"):
        super().__init__()
        if dil > 1:
            stride = 1
        layers = []
        if rng in ("all", "conv"):
            layers.append(PSPConvBlock(cin, mid, cout, stride, dil))
        if rng in ("all", "identity"):
            layers += [PSPIdentityBlock(cout, mid, dil) for _ in range(n - 1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _up_ac(x, size):
    size = tuple(int(s) for s in size)
    return x if tuple(x.shape[2:]) == size else F.interpolate(x, size=size, mode="bilinear", align_corners=True)


STRICT = False  # main() sets it: the reference cases must be sizes pytorch-semseg itself runs at


def _semseg_interp_size(shape, s=1, z=1):  # pytorch-semseg get_interp_size
    h, w = shape
    h, w = (h - 1) / s + 1, (w - 1) / s + 1
    h, w = h + (h - 1) * (z - 1), w + (w - 1) * (z - 1)
    return int(h), int(w)


class CFF(nn.Module):
    def __init__(self, n_classes, low_in, high_in, out):
        super().__init__()
        self.low_dilated_conv_bn = CB(low_in, out, 3, 1, 2, 2, relu=False)
        self.low_classifier_conv = nn.Conv2d(low_in, n_classes, 1, bias=True)
        self.high_proj_conv_bn = CB(high_in, out, 1, relu=False)

    def forward(self, low, high):
        if STRICT:  # reference cases: only sizes where pytorch-semseg's own rule gives the same sizes
            assert _semseg_interp_size(low.shape[2:], z=2) == tuple(high.shape[2:]), "size outside pytorch-semseg's rule"
        up = _up_ac(low, high.shape[2:])
        return F.relu(self.low_dilated_conv_bn(up) + self.high_proj_conv_bn(high)), self.low_classifier_conv(up)


class ICNet(nn.Module):
    """pytorch-semseg icnet, is_batchnorm=True, block_config [3, 4, 6, 3]; the pyramid
    pooling always uses its training-mode kernels int(h/b); the four 1x1 convs its
    pyramidPooling creates but never calls for icnet are left out (see PPM_UNUSED)."""

    def __init__(self, n_classes):
        super().__init__()
        self.convbnrelu1_1 = CB(3, 32, 3, 2, 1)
        self.convbnrelu1_2 = CB(32, 32, 3, 1, 1)
        self.convbnrelu1_3 = CB(32, 64, 3, 1, 1)
        self.res_block2 = PSPResBlock(3, 64, 32, 128, 1, 1)
        self.res_block3_conv = PSPResBlock(4, 128, 64, 256, 2, 1, "conv")
        self.res_block3_identity = PSPResBlock(4, 128, 64, 256, 2, 1, "identity")
        self.res_block4 = PSPResBlock(6, 256, 128, 512, 1, 2)
        self.res_block5 = PSPResBlock(3, 512, 256, 1024, 1, 4)
        self.conv5_4_k1 = CB(1024, 256, 1)
        self.convbnrelu1_sub1 = CB(3, 32, 3, 2, 1)
        self.convbnrelu2_sub1 = CB(32, 32, 3, 2, 1)
        self.convbnrelu3_sub1 = CB(32, 64, 3, 2, 1)
        self.classification = nn.Conv2d(128, n_classes, 1)
        self.cff_sub24 = CFF(n_classes, 256, 256, 128)
        self.cff_sub12 = CFF(n_classes, 128, 64, 128)

    @staticmethod
    def pyramid(x):
        h, w = x.shape[2:]
        out = x
        for b in (6, 3, 2, 1):
            k = (int(h / b), int(w / b))
            out = out + _up_ac(F.avg_pool2d(x, k, stride=k), (h, w))
        return out

    def forward(self, x, with_aux=False):
        H, W = x.shape[2:]
        s2 = _up_ac(x, _semseg_interp_size((H, W), s=2))
        s2 = self.convbnrelu1_3(self.convbnrelu1_2(self.convbnrelu1_1(s2)))
        s2 = F.max_pool2d(s2, 3, 2, 1)
        s2 = self.res_block3_conv(self.res_block2(s2))
        s4 = _up_ac(s2, _semseg_interp_size(s2.shape[2:], s=2))
        s4 = self.res_block5(self.res_block4(self.res_block3_identity(s4)))
        s4 = self.conv5_4_k1(self.pyramid(s4))
        s1 = self.convbnrelu3_sub1(self.convbnrelu2_sub1(self.convbnrelu1_sub1(x)))
        s24, cls4 = self.cff_sub24(s4, s2)
        s12, cls24 = self.cff_sub12(s24, s1)
        s12 = _up_ac(s12, _semseg_interp_size(s12.shape[2:], z=2))
        y = self.classification(s12)
        y = _up_ac(y, (H, W))
        return (y, cls24, cls4) if with_aux else y


# 4 x (1x1 conv 1024->256 without bias + BN weight/bias): in pytorch-semseg's icnet, never called
PPM_UNUSED = 4 * (1024 * 256 + 2 * 256)


# ------------------------------------------------------------------- FRRN
class CG(nn.Module):
    """conv(no bias)-GroupNorm(16)(-ReLU) under .cgr_unit / .cg_unit (pytorch-semseg conv2DGroupNorm[Relu])"""

    def __init__(self, cin, cout, k, stride=1, pad=0, relu=True, bias=False):
        super().__init__()
        seq = nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, bias=bias), nn.GroupNorm(16, cout),
                            *([nn.ReLU()] if relu else []))
        setattr(self, "cgr_unit" if relu else "cg_unit", seq)
        self.relu = relu

    def forward(self, x):
        return (self.cgr_unit if self.relu else self.cg_unit)(x)


def _cn(gn, *a, **k):
    return CG(*a, **k) if gn else CB(*a, **k)


class RU(nn.Module):
    def __init__(self, c, gn=False):
        super().__init__()
        self.conv1 = _cn(gn, c, c, 3, 1, 1)
        self.conv2 = _cn(gn, c, c, 3, 1, 1, relu=False)

    def forward(self, x):
        return self.conv2(self.conv1(x)) + x


class FRRU(nn.Module):
    def __init__(self, prev, out, scale, gn=False):
        super().__init__()
        self.scale = scale
        self.conv1 = _cn(gn, prev + 32, out, 3, 1, 1)
        self.conv2 = _cn(gn, out, out, 3, 1, 1)
        self.conv_res = nn.Conv2d(out, 32, 1, bias=True)

    def forward(self, y, z):
        h = self.conv2(self.conv1(torch.cat([y, F.max_pool2d(z, self.scale, self.scale)], 1)))
        r = F.interpolate(self.conv_res(h), size=[s * self.scale for s in h.shape[2:]], mode="nearest")
        return h, z + r


FRRN_SPECS = {
    "A": {"encoder": [[3, 96, 2], [4, 192, 4], [2, 384, 8], [2, 384, 16]],
          "decoder": [[2, 192, 8], [2, 192, 4], [2, 48, 2]]},
    "B": {"encoder": [[3, 96, 2], [4, 192, 4], [2, 384, 8], [2, 384, 16], [2, 384, 32]],
          "decoder": [[2, 192, 16], [2, 192, 8], [2, 192, 4], [2, 48, 2]]},
}


class FRRN(nn.Module):
    """pytorch-semseg frrn (BatchNorm), including its quirk that every FRRU of a stage
    takes the stage's pooled/upsampled y; inputs not divisible by the largest scale
    are zero-padded bottom/right and the logits cropped (pixl's generalisation).
    gn=True: pytorch-semseg's group_norm=True (GroupNorm, 16 groups)."""

    def __init__(self, n_classes, kind, gn=False):
        super().__init__()
        self.spec = FRRN_SPECS[kind]
        self.conv1 = CG(3, 48, 5, 1, 2, bias=True) if gn else CB(3, 48, 5, 1, 2)
        if not gn:  # conv2DBatchNormRelu's conv keeps its default bias=True
            self.conv1.cbr_unit[0] = nn.Conv2d(3, 48, 5, 1, 2, bias=True)
        self.up_residual_units = nn.ModuleList([RU(48, gn) for _ in range(3)])
        self.down_residual_units = nn.ModuleList([RU(48, gn) for _ in range(3)])
        self.split_conv = nn.Conv2d(48, 32, 1, bias=False)
        prev = 48
        for part in ("encoder", "decoder"):
            for n, ch, sc in self.spec[part]:
                for b in range(n):
                    prefix = "encoding_frru" if part == "encoder" else "decoding_frru"
                    setattr(self, "_".join(map(str, [prefix, n, ch, sc, b])), FRRU(prev, ch, sc, gn))
                prev = ch
        self.merge_conv = nn.Conv2d(prev + 32, 48, 1, bias=False)
        self.classif_conv = nn.Conv2d(48, n_classes, 1, bias=True)
        self.multiple = self.spec["encoder"][-1][2]

    def forward(self, x):
        H, W = x.shape[2:]
        m = self.multiple
        PH, PW = -(-H // m) * m, -(-W // m) * m
        x = F.pad(x, [0, PW - W, 0, PH - H])
        x = self.conv1(x)
        for ru in self.up_residual_units:
            x = ru(x)
        y, z = x, self.split_conv(x)
        for n, ch, sc in self.spec["encoder"]:
            yp = F.max_pool2d(y, 2, 2)
            for b in range(n):
                y, z = getattr(self, "_".join(map(str, ["encoding_frru", n, ch, sc, b])))(yp, z)
        for n, ch, sc in self.spec["decoder"]:
            yu = F.interpolate(y, size=[s * 2 for s in y.shape[2:]], mode="bilinear", align_corners=True)
            for b in range(n):
                y, z = getattr(self, "_".join(map(str, ["decoding_frru", n, ch, sc, b])))(yu, z)
        x = torch.cat([F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True), z], 1)
        x = self.merge_conv(x)
        for ru in self.down_residual_units:
            x = ru(x)
        return self.classif_conv(x)[:, :, :H, :W]


# ------------------------------------------------------------- the zoo
# bench name (ARCH[:VARIANT]) -> (constructor(n_classes), pixl opts); used by bench/bench_torch_models.py
MODELS = {
    "unet:valid": (lambda k: UNetValid(k, 1.0, False), {"arch": "unet", "variant": "valid"}),
    "fc_densenet56": (fc_densenet56, {"arch": "fc_densenet56"}),
    "fc_densenet67": (fc_densenet67, {"arch": "fc_densenet67"}),
    "fc_densenet103": (fc_densenet103, {"arch": "fc_densenet103"}),
    "icnet": (ICNet, {"arch": "icnet"}),
    "frrn_a": (lambda k: FRRN(k, "A"), {"arch": "frrn_a"}),
    "frrn_b": (lambda k: FRRN(k, "B"), {"arch": "frrn_b"}),
    "frrn_a:gn": (lambda k: FRRN(k, "A", gn=True), {"arch": "frrn_a", "variant": "gn"}),
}

# case file, arch, variant, width, n_classes, constructor, input shape, store input
CASES = [
    ("unet_valid", "unet", "valid", 0.25, 3, lambda k: UNetValid(k, 0.25, False), (1, 3, 100, 100), False),
    ("unet_valid_bn", "unet", "valid_bn", 0.125, 2, lambda k: UNetValid(k, 0.125, True), (1, 3, 100, 100), False),
    ("fc_densenet56", "fc_densenet56", "", 1.0, 5, fc_densenet56, (1, 3, 37, 45), True),
    ("fc_densenet67", "fc_densenet67", "", 1.0, 5, fc_densenet67, (1, 3, 32, 48), True),
    ("fc_densenet103", "fc_densenet103", "", 1.0, 5, fc_densenet103, (1, 3, 32, 40), True),
    ("icnet", "icnet", "", 1.0, 2, ICNet, (1, 3, 161, 161), False),
    ("frrn_a", "frrn_a", "", 1.0, 4, lambda k: FRRN(k, "A"), (1, 3, 48, 64), True),
    ("frrn_b", "frrn_b", "", 1.0, 4, lambda k: FRRN(k, "B"), (1, 3, 40, 56), True),
    ("frrn_a_gn", "frrn_a", "gn", 1.0, 3, lambda k: FRRN(k, "A", gn=True), (1, 3, 32, 48), True),
]


def make_input(shape):
    """uniform [-1, 1) from zoo_fill's rule for the name "input" (float32 division, as the C test)"""
    v = zoo_fill.values("input", shape)
    fan_in = int(np.prod(shape)) // shape[0]
    return torch.from_numpy(v / np.float32(math.sqrt(3.0 / fan_in)))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def main():
    global STRICT
    STRICT = True
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    for case, arch, variant, width, k, ctor, shape, store_input in CASES:
        m = ctor(k)
        zoo_fill.fill_(m)
        m.eval()
        x = make_input(shape)
        aux = []
        with torch.no_grad():
            if arch == "icnet":  # + the CFF classifiers' logits, in pixl's aux order (sub24: 0.4, sub4: 0.16)
                y, *aux = m(x, with_aux=True)
            else:
                y = m(x)
        state = [[name, list(t.shape)] for name, t in m.state_dict().items()]
        meta = {"arch": arch, "variant": variant, "width": repr(width), "n_classes": str(k),
                "input_shape": json.dumps(list(shape)), "n_params": str(n_params(m)),
                "state": json.dumps(state, separators=(",", ":")),
                "input_rule": "zoo_fill.values('input', shape) / sqrt(3 / fan_in)",
                "made_by": "scripts/ref/make_zoo_plain_ref.py torch " + torch.__version__}
        if arch == "icnet":
            meta["n_params_pytorch_semseg"] = str(n_params(m) + PPM_UNUSED)
        t = [("output", y.contiguous())] + [(f"aux.{i}", a.contiguous()) for i, a in enumerate(aux)]
        if store_input:
            t.insert(0, ("input", x))
        path = os.path.join(OUT, case + ".safetensors")
        st_write.write(path, t, meta)
        print(f"{case}: {n_params(m)} parameters, output {tuple(y.shape)}, max |y| {y.abs().max():.4g}, "
              f"{os.path.getsize(path) // 1024} KB")
    # parameter counts of the full-size models (as `pixl info` reports them, 11 classes)
    for name, (ctor, _) in MODELS.items():
        n = n_params(ctor(11))
        extra = f" (pytorch-semseg icnet: {n + PPM_UNUSED})" if name == "icnet" else ""
        print(f"{name} (11 classes): {n} parameters{extra}")


if __name__ == "__main__":
    main()
