#!/usr/bin/python3
"""bench_pixelnet.py — PyTorch side of `pixl bench pixelnet`.

Times, in PyTorch (float32, CPU, torch.set_num_threads(--threads)), exactly
what tools/cmd_bench_pixelnet.c's run_one() times: one PixelNet training
step on a batch of B random images (B x 3 x H x W) with random per-pixel
labels in [0, K):

  - per configuration P: draw P pixels per image uniformly (without
    replacement when P <= H*W, as pixl's uniform sampler; P > H*W tiles the
    whole image floor(P/HW) times and draws the rest), gather their labels
    (the draw is inside the timed step, as in pixl); the dense baseline uses
    every pixel of every image in raster order, fixed outside the timed step;
  - zero the gradients (set_to_none), forward, cross-entropy (mean over the
    B*P rows, ignore_index 255), backward, SGD(lr 1e-4, momentum 0.9) step.

The model is pixl's PixelNet (src/models/pixelnet.c) with its default
head: the trunk is torchvision's (vgg16().features, random init; built by
hand when torchvision does not import; vgg16_bn, resnet18/34/50/101 without
avgpool/fc, mobilenet_v2[_320] and the hand-built pixelnet_tiny as well), the
taps are pixl's (src/models/backbones.c tap_add: for VGG the ReLU before each
max-pool at stride s and the pool itself at 2s; the default keeps the last
tap of each stride, so for vgg16 features.3/1, features.8/2, features.15/4,
features.22/8, features.29/16, features.30/32), each read through a
BatchNorm2d(affine=False) in training mode (batch statistics, running-stat
update, as pixl_batch_norm2d in a TRAIN context). The hypercolumn of pixel
(n, y, x) concatenates, per tap of stride s and offset o = (s-1)/2, the
bilinear interpolation of the tap at t = ((y-o)/s, (x-o)/s) clamped to
[0, size-1], neighbours floor(t) and min(floor(t)+1, size-1)
(src/ops/hypercolumn.c): computed here as F.embedding_bag over the tap's
(N*H*W, C) channels-last rows with the four neighbour indices and weights
(mode "sum", per_sample_weights), which gathers contiguous rows and has a
scatter backward. Head: Linear(D,512)-ReLU-Dropout(0.5)-Linear(512,512)-
ReLU-Dropout(0.5)-Linear(512,K) (--mlp changes the widths).

Per configuration a fresh model and optimizer (torch.manual_seed(1)), one
warm-up step, then the median of --steps steps (the upper median for an even
count, as the C bench), in milliseconds per step. One JSON object on stdout:
    {"threads": N, "torch": "1.13.0", "configs": {"500": ms, ..., "dense": ms},
     "taps": [[name, stride, offset, channels], ...]}
A configuration that fails (e.g. out of memory) is left out and the reason
is written to stderr. A tap list that cannot match pixl's for the backbone
(unknown backbone or --taps name) is an error on stderr and exit status 1.

Usage: bench_pixelnet.py [--backbone vgg16] [--size 224x224] [--batch 5]
         [--classes 21] [--pixels 500,2000,8000] [--steps 5] [--threads N]
         [--no-dense] [--mlp 512,512] [--taps NAME,NAME] [--channels-last]
(--channels-last runs the whole network in torch.channels_last; the tap
rows are then views instead of copies. Not used by `pixl bench pixelnet`.)
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_MAPS = 7  # PIXL_HYPERCOLUMN_MAX_MAPS
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class Mismatch(Exception):
    """the torch model cannot have pixl's taps"""


def _torchvision():
    try:
        import torchvision
        return torchvision
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


def vgg16_features(bn):
    tv = _torchvision()
    if tv is not None:
        return (tv.models.vgg16_bn if bn else tv.models.vgg16)().features
    layers, c = [], 3  # torchvision's make_layers(cfg "D")
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
        if bn:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        c = v
    return nn.Sequential(*layers)


def trunk(name):
    """(sequence of (pixl name, module), taps in pixl's order as (name, stride))"""
    if name in ("vgg16", "vgg16_bn"):
        feats = vgg16_features(name == "vgg16_bn")
        taps, s = [], 1
        for i, m in enumerate(feats):
            if isinstance(m, nn.MaxPool2d):  # pixl: the ReLU before the pool, then the pool
                taps.append(("features.%d" % (i - 1), s))
                s *= 2
                taps.append(("features.%d" % i, s))
        return [("features.%d" % i, m) for i, m in enumerate(feats)], taps
    if name == "pixelnet_tiny":  # pixelnet.c tiny_trunk, width 1
        mods = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU()]
        return [("features.%d" % i, m) for i, m in enumerate(mods)], [("features.1", 1), ("features.4", 2),
                                                                        ("features.7", 4)]
    tv = _torchvision()
    if name in ("resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2", "mobilenet_v2_320"):
        if tv is None:
            raise Mismatch("backbone %s needs torchvision, which /usr/bin/python3 cannot import" % name)
        if name.startswith("resnet"):
            m = getattr(tv.models, name)()
            keys = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
            return [(k, getattr(m, k)) for k in keys], [("relu", 2), ("maxpool", 4), ("layer1", 4), ("layer2", 8),
                                                       ("layer3", 16), ("layer4", 32)]
        feats = tv.models.mobilenet_v2().features
        taps = [("features.1", 2), ("features.3", 4), ("features.6", 8), ("features.10", 16), ("features.13", 16),
                ("features.16", 32), ("features.17", 32)]
        if name == "mobilenet_v2_320":
            feats = feats[:18]
        else:
            taps.append(("features.18", 32))
        return [("features.%d" % i, m) for i, m in enumerate(feats)], taps
    raise Mismatch("backbone %s: no PyTorch trunk with pixl's taps here (known: vgg16, vgg16_bn, resnet18, resnet34, "
                   "resnet50, resnet101, mobilenet_v2, mobilenet_v2_320, pixelnet_tiny)" % name)


def choose_taps(name, all_taps, wanted):
    """pixelnet.c build_taps: the named taps, or the last tap of each stride"""
    if wanted:
        known = dict(all_taps)
        for t in wanted:
            if t not in known:
                raise Mismatch("backbone %s has no tap '%s' (taps: %s)" % (name, t, ", ".join(n for n, _ in all_taps)))
        return [(t, known[t]) for t in wanted]
    out = [t for i, t in enumerate(all_taps) if not (i + 1 < len(all_taps) and all_taps[i + 1][1] == t[1])]
    if len(out) > MAX_MAPS:
        raise Mismatch("backbone %s has more than %d strides" % (name, MAX_MAPS))
    return out


def interp(f, stride, offset, n, y, x):
    """hypercolumn block of one tap: (R, C) bilinear samples of f (N, C, H, W) at input pixels (n, y, x)"""
    N, C, H, W = f.shape
    ty = ((y - offset) / stride).clamp_(0, H - 1)
    tx = ((x - offset) / stride).clamp_(0, W - 1)
    y0, x0 = ty.floor(), tx.floor()
    ry, rx = ty - y0, tx - x0
    y0, x0 = y0.long(), x0.long()
    y1, x1 = (y0 + 1).clamp_(max=H - 1), (x0 + 1).clamp_(max=W - 1)
    base = n * (H * W)
    r0, r1 = base + y0 * W, base + y1 * W
    idx = torch.stack((r0 + x0, r0 + x1, r1 + x0, r1 + x1), 1)
    wy, wx = 1 - ry, 1 - rx
    w = torch.stack((wy * wx, wy * rx, ry * wx, ry * rx), 1)
    rows = f.permute(0, 2, 3, 1).reshape(N * H * W, C)  # a view when f is channels_last
    return F.embedding_bag(idx, rows, per_sample_weights=w, mode="sum")


class PixelNet(nn.Module):
    def __init__(self, seq, taps, channels, mlp, classes, dropout=0.5):
        super().__init__()
        self.names = [nm for nm, _ in seq]
        self.trunk = nn.ModuleList(m for _, m in seq)
        self.taps = taps
        self.tap_bn = nn.ModuleList(nn.BatchNorm2d(c, affine=False) for c in channels)
        head, d = [], sum(channels)
        for w in mlp:
            head += [nn.Linear(d, w), nn.ReLU(inplace=True)] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            d = w
        head.append(nn.Linear(d, classes))
        self.head = nn.Sequential(*head)

    def trunk_maps(self, x):
        want, got, h = {t for t, _ in self.taps}, {}, x
        for nm, m in zip(self.names, self.trunk):  # the whole trunk, as pixl's forward
            h = m(h)
            if nm in want:
                got[nm] = h
        return got

    def forward(self, x, n, y, xc):
        got = self.trunk_maps(x)
        cols = [interp(bn(got[t]), s, 0.5 * (s - 1), n, y, xc) for (t, s), bn in zip(self.taps, self.tap_bn)]
        return self.head(torch.cat(cols, 1))


def sample(labels, P, W):
    """uniform pixels per image (pixl_sample_pixels, PIXL_SAMPLE_UNIFORM): (n, y, x, labels) of B*P rows"""
    B, HW = labels.shape
    rows = []
    for _ in range(B):
        parts = [torch.arange(HW)] * (P // HW) if P > HW else []
        parts.append(torch.randperm(HW)[:P % HW] if P > HW else torch.randperm(HW)[:P])
        rows.append(torch.cat(parts) if len(parts) > 1 else parts[0])
    idx = torch.stack(rows)
    lab = labels.gather(1, idx).reshape(-1)
    q = idx.reshape(-1)
    n = torch.arange(B).repeat_interleave(P)
    return n, torch.div(q, W, rounding_mode="floor").float(), (q % W).float(), lab


def run_one(a, P, dense):
    torch.manual_seed(1)
    seq, all_taps = trunk(a.backbone)
    taps = choose_taps(a.backbone, all_taps, a.taps)
    B, H, W, K = a.batch, a.H, a.W, a.classes
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    with torch.no_grad():  # tap channels and sizes (not timed)
        probe = nn.ModuleList(m for _, m in seq).eval()
        h, shapes = torch.zeros(1, 3, H, W), {}
        for (nm, _), m in zip(seq, probe):
            h = m(h)
            shapes[nm] = tuple(h.shape)
        probe.train()
    for t, _ in taps:
        if min(shapes[t][2:]) < 1:
            raise RuntimeError("tap %s is empty at %dx%d" % (t, H, W))
    channels = [shapes[t][1] for t, _ in taps]
    model = PixelNet(seq, taps, channels, a.mlp, K).train().to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    img = (torch.rand(B, 3, H, W) * 2 - 1).contiguous(memory_format=fmt)
    labels = torch.randint(0, K, (B, H * W))
    if dense:  # every pixel, raster order
        q = torch.arange(H * W).repeat(B)
        n = torch.arange(B).repeat_interleave(H * W)
        fixed = (n, torch.div(q, W, rounding_mode="floor").float(), (q % W).float(), labels.reshape(-1))
    ts = []
    for _ in range(a.steps + 1):
        t0 = time.perf_counter()
        n, y, x, lab = fixed if dense else sample(labels, P, W)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(img, n, y, x), lab, ignore_index=255)
        loss.backward()
        opt.step()
        ts.append(time.perf_counter() - t0)
    rest = sorted(ts[1:])  # ts[0] is the warm-up
    info = [[t, s, 0.5 * (s - 1), c] for (t, s), c in zip(taps, channels)]
    return 1e3 * rest[a.steps // 2], info


def main():
    out, sys.stdout = sys.stdout, sys.stderr  # nothing but the JSON on stdout
    ap = argparse.ArgumentParser(description="PyTorch side of `pixl bench pixelnet`")
    ap.add_argument("--backbone", default="vgg16")
    ap.add_argument("--size", default="224x224")
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--classes", type=int, default=21)
    ap.add_argument("--pixels", default="500,2000,8000")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-dense", action="store_true")
    ap.add_argument("--mlp", default="512,512")
    ap.add_argument("--taps", default="")
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    try:
        a.H, a.W = (int(v) for v in a.size.lower().split("x"))
        a.mlp = [int(v) for v in a.mlp.split(",") if v.strip()]
        pixels = [int(v) for v in a.pixels.split(",") if v.strip()]
    except ValueError:
        ap.error("bad --size, --mlp or --pixels")
    a.taps = [t.strip() for t in a.taps.split(",") if t.strip()]
    if a.H < 1 or a.W < 1 or a.batch < 1 or a.classes < 2 or a.steps < 1:
        ap.error("invalid size, batch, classes or steps")
    torch.set_num_threads(a.threads)
    try:  # the tap list first: a mismatch is fatal
        choose_taps(a.backbone, trunk(a.backbone)[1], a.taps)
    except Mismatch as e:
        print("bench_pixelnet.py: %s" % e, file=sys.stderr)
        sys.exit(1)
    configs, taps = {}, None
    todo = [(str(p), p, False) for p in pixels if p >= 1] + ([] if a.no_dense else [("dense", a.H * a.W, True)])
    for key, p, dense in todo:
        try:
            configs[key], taps = run_one(a, p, dense)
        except Exception as e:  # noqa: BLE001 - report and go on with the next configuration
            print("bench_pixelnet.py: %s: %s: %s" % (key, type(e).__name__, e), file=sys.stderr)
    json.dump({"threads": a.threads, "torch": torch.__version__, "configs": configs, "taps": taps}, out)
    out.write("\n")


if __name__ == "__main__":
    main()
