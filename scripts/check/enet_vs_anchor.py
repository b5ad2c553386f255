"""Compare pixl with the PyTorch anchor (../shared/anchors) on what the
per-epoch comparison cannot see directly; run by
scripts/check/enet_vs_anchor.sh, which makes the input files.

  dropout REF DUMP   PyTorch ENet (float64 and float32) with pixl's dropout masks
                     (enet_dropout_dump.c) on the first batch of REF: loss and every
                     parameter gradient against pixl's
  init STATS         pixl's initial ENet tensors (enet_init_stats.c: mean, std, max |x|)
                     against a PyTorch initialisation: std within 10%, max within 15%
                     (tensors of 16 values or more; smaller ones are listed)
  loader DUMP ROOT   pixl's loader batch (loader_dump.c) against the anchor's
                     preprocessing of the same images (normalise, bilinear resize,
                     nearest label resize)
"""
import sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import os

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "anchors"))
import st_write  # noqa: E402
import seg_models  # noqa: E402


class MaskMul(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return x * self.m.to(x.dtype)[:, :, None, None]


def dropout(ref, dump):
    torch.set_num_threads(2)
    _, t = st_write.read(ref)
    _, d = st_write.read(dump)
    masks = [torch.from_numpy(d[k]) for k in sorted(k for k in d if k.startswith("mask."))]

    def run(dtype):
        m = seg_models.ENet(num_classes=11)
        m.load_state_dict({k: torch.from_numpy(t[k]) for k in m.state_dict()})
        i = 0
        for mod in list(m.modules()):  # module order = execution order in ENet
            for cn, ch in list(mod.named_children()):
                if isinstance(ch, nn.Dropout2d):
                    setattr(mod, cn, MaskMul(masks[i]))
                    i += 1
        assert i == len(masks), f"{i} Dropout2d layers in PyTorch, {len(masks)} masks from pixl"
        m = m.to(dtype).train()
        x = torch.from_numpy(t["input"][0]).to(dtype)
        y = torch.from_numpy(t["labels"][0].astype(np.int64))
        w = torch.from_numpy(t["class_weights"]).to(dtype)
        loss = F.cross_entropy(m(x), y, weight=w, ignore_index=11)
        loss.backward()
        return loss.item(), {n: p.grad.double().numpy() for n, p in m.named_parameters()}

    l64, g64 = run(torch.float64)
    l32, g32 = run(torch.float32)
    rows = []
    for n, ref_g in g64.items():
        mx = np.abs(ref_g).max() + 1e-12
        rows.append((np.abs(d["grad." + n] - ref_g).max() / mx, np.abs(g32[n] - ref_g).max() / mx, n))
    rows.sort(reverse=True)
    print(f"dropout: loss pixl {d['loss'][0]:.6f}, PyTorch float64 {l64:.6f}, float32 {l32:.6f}")
    print(f"dropout: {len(rows)} gradients, max|pixl - float64| / max|grad|: worst {rows[0][0]:.3g} ({rows[0][2]}),"
          f" median {np.median([r[0] for r in rows]):.3g}; PyTorch float32 on the same scale: worst "
          f"{max(r[1] for r in rows):.3g}, median {np.median([r[1] for r in rows]):.3g}")
    worst32 = max(r[1] for r in rows)
    ok = abs(d["loss"][0] - l64) <= 1e-4 * l64 and rows[0][0] <= 2 * worst32
    print("dropout:", "OK (pixl is as close to float64 as PyTorch's float32)" if ok else "MISMATCH")
    return ok


def loader(dump, root):
    import camvid_torch_train as anchor
    _, d = st_write.read(dump)
    X, Y = anchor.load_split(root, "train")
    idx = d["indices"]
    x = anchor.to_input(X[idx])
    y = torch.from_numpy(Y[idx].astype(np.int64))
    x = F.interpolate(x, size=(176, 240), mode="bilinear", align_corners=False).numpy()
    y = F.interpolate(y[:, None].float(), size=(176, 240), mode="nearest")[:, 0].long().numpy()
    diff = np.abs(d["images"] - x)
    bound = 0.5 / 255 / float(anchor.STD.min()) + 1e-5  # pixl rounds the resized image to 8 bits
    lab = d["labels"].copy()
    lab[lab == 255] = 11
    same = float((lab == y).mean())
    print(f"loader: images {list(idx)}: max |pixl - anchor| {diff.max():.4f} (8-bit rounding bound {bound:.4f}),"
          f" mean {diff.mean():.5f}; labels identical at {100 * same:.2f}% of pixels")
    ok = diff.max() <= bound and same == 1.0
    print("loader:", "OK" if ok else "MISMATCH")
    return ok


def init(stats):
    torch.manual_seed(0)
    ref = seg_models.ENet(num_classes=11).state_dict()
    P = {}
    for line in open(stats):
        name, n, mean, sd, mx = line.split()
        P[name] = (int(n), float(mean), float(sd), float(mx))
    bad, small, n = [], [], 0
    for k, v in ref.items():
        if not v.dtype.is_floating_point:
            continue
        if k not in P:
            bad.append(f"{k}: missing in pixl")
            continue
        a = v.double().numpy().ravel()
        num, _, psd, pmx = P[k]
        rsd, rmx = (psd + 1e-12) / (a.std() + 1e-12), (pmx + 1e-12) / (np.abs(a).max() + 1e-12)
        if num != a.size:
            bad.append(f"{k}: {num} values in pixl, {a.size} in PyTorch")
        elif abs(rsd - 1) > 0.10 or abs(rmx - 1) > 0.15:
            (small if a.size < 16 else bad).append(f"{k} ({a.size} values): std ratio {rsd:.3f}, max ratio {rmx:.3f}")
        n += 1
    print(f"init: {n} tensors compared; {len(bad)} outside std +-10% / max +-15%"
          + (f"; small tensors outside (sampling noise): {small}" if small else ""))
    for b in bad:
        print("  ", b)
    print("init:", "OK" if not bad else "MISMATCH")
    return not bad


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "init":
        sys.exit(0 if init(sys.argv[2]) else 1)
    if len(sys.argv) == 4 and sys.argv[1] == "dropout":
        sys.exit(0 if dropout(sys.argv[2], sys.argv[3]) else 1)
    if len(sys.argv) == 4 and sys.argv[1] == "loader":
        sys.exit(0 if loader(sys.argv[2], sys.argv[3]) else 1)
    sys.exit(__doc__)
