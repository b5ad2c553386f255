"""PyTorch side of `pixl bench models`: inference latency of the zoo's
networks at batch 1 (eval, torch.no_grad()), median of R runs after a
warm-up of at least one run and 300 ms, on N threads (torch.set_num_threads).
Each model is timed in four configurations: eager with contiguous (NCHW)
tensors, eager channels_last, and torch.jit.trace + torch.jit.freeze of each
of those two (the frozen graph folds BatchNorm into the convolutions and
fuses activations, as oneDNN allows); the fastest is reported as PyTorch's
best configuration. A configuration that fails (a model that does not
trace) is recorded with its error and left out of the choice.

The networks are not redefined here: they are imported from the reference
scripts whose parity pixl's tests check (scripts/ref/make_zoo_*_ref.py of the
three zoo groups) and, for enet / unet / segnet_basic, from
../shared/anchors/seg_models.py (scripts/ref/make_model_ref.py's source).

    /usr/bin/python3 bench/bench_torch_models.py --models unet:valid,icnet \\
        [--input 3x360x480] [--classes 11] [--threads 2] [--runs 5] [--list]

Names are pixl's bench names ARCH[:VARIANT][@BACKBONE]. Prints JSON:
{"torch": version, "threads": N, "models": {name: {"ms", "config",
"min_ms" (fastest run of that configuration), "plain_ms", "channels_last_ms",
"jit_ms", "jit_channels_last_ms" (or "<config>_error"), "params"} or
{"error": why}}}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "scripts", "ref")
sys.path.insert(0, REF)
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "anchors"))


def _zoo(k):
    """bench name -> zero-argument constructor (k classes), from every group that imports"""
    models, notes = {}, {}
    try:
        import make_zoo_plain_ref as plain
        for name, (ctor, _) in plain.MODELS.items():
            models[name] = (lambda c=ctor: c(k))
    except Exception as e:  # noqa: BLE001
        notes["make_zoo_plain_ref"] = repr(e)
    try:
        import seg_models
        for name, cls in (("enet", seg_models.ENet), ("unet", seg_models.UNet),
                          ("segnet_basic", seg_models.SegNetBasic)):
            models[name] = (lambda c=cls: c(num_classes=k))
    except Exception as e:  # noqa: BLE001
        notes["seg_models"] = repr(e)
    try:
        import make_zoo_backbones_ref as bb
        if hasattr(bb, "MODELS"):  # the bench convention: name -> constructor(n_classes)
            for name, ctor in bb.MODELS.items():
                models[name] = (lambda c=ctor: c(k))
        else:
            for arch in ("vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2"):
                models[arch] = (lambda a=arch: bb.BackboneClassifier(a, k, 32))
            for n in (8, 16, 32):
                models[f"fcn{n}s"] = (lambda n_=n: bb.FCN(n_, k, False))
            models["segnet"] = lambda: bb.SegNet(k)
            models["linknet"] = lambda: bb.LinkNet(k)
    except Exception as e:  # noqa: BLE001
        notes["make_zoo_backbones_ref"] = repr(e)
    try:
        import make_zoo_heads_ref as heads
        if hasattr(heads, "MODELS"):
            for name, ctor in heads.MODELS.items():
                models[name] = (lambda c=ctor: c(k))
        else:
            models["pspnet"] = lambda: heads.PSPNet(k, "resnet50", 8, False)
            models["pspnet@resnet101"] = lambda: heads.PSPNet(k, "resnet101", 8, False)
            models["deeplabv3plus"] = lambda: heads.DeepLabV3Plus(k, "mobilenet_v2", 16)
            models["deeplabv3plus@resnet50"] = lambda: heads.DeepLabV3Plus(k, "resnet50", 16)
            models["refinenet"] = lambda: heads.RefineNet(k, "resnet101")
            models["gfrnet"] = lambda: heads.GFRNet(k, False)
    except Exception as e:  # noqa: BLE001
        notes["make_zoo_heads_ref"] = repr(e)
    return models, notes


def _time(model, x, runs):
    with torch.no_grad():
        t0 = time.perf_counter()
        i = 0
        while i < 1 or time.perf_counter() - t0 < 0.3:
            model(x)
            i += 1
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            model(x)
            ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts), min(ts)


def _jit(model, x, r, name):
    """torch.jit.trace + torch.jit.freeze of an eval model, or None (the error in r[name + "_error"])"""
    try:
        with torch.no_grad():
            tm = torch.jit.trace(model, x, strict=False)
            return torch.jit.freeze(tm)
    except Exception as e:  # noqa: BLE001
        r[name + "_error"] = f"{type(e).__name__}: {e}"[:200]
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="")
    ap.add_argument("--input", default="3x360x480")
    ap.add_argument("--classes", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--list", action="store_true", help="print the known names and exit")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    models, notes = _zoo(a.classes)
    if a.list:
        print(json.dumps({"models": sorted(models), "import_errors": notes}, indent=1))
        return
    c, h, w = (int(v) for v in a.input.split("x"))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "input": a.input, "models": {}}
    if notes:
        out["import_errors"] = notes
    for name in [n for n in a.models.split(",") if n] or sorted(models):
        if name not in models:
            out["models"][name] = {"error": "no PyTorch definition"}
            continue
        try:
            torch.manual_seed(0)
            m = models[name]().eval()
            x = torch.randn(1, c, h, w)
            r = {"params": sum(p.numel() for p in m.parameters())}
            xcl = x.contiguous(memory_format=torch.channels_last)
            tried = []
            r["plain_ms"], mn = _time(m, x, a.runs)
            tried.append(("plain", r["plain_ms"], mn))
            jm = _jit(m, x, r, "jit")
            if jm is not None:
                r["jit_ms"], mn = _time(jm, x, a.runs)
                tried.append(("jit", r["jit_ms"], mn))
            m = m.to(memory_format=torch.channels_last)
            r["channels_last_ms"], mn = _time(m, xcl, a.runs)
            tried.append(("channels_last", r["channels_last_ms"], mn))
            jm = _jit(m, xcl, r, "jit_channels_last")
            if jm is not None:
                r["jit_channels_last_ms"], mn = _time(jm, xcl, a.runs)
                tried.append(("jit_channels_last", r["jit_channels_last_ms"], mn))
            r["config"], r["ms"], r["min_ms"] = min(tried, key=lambda t: t[1])
            out["models"][name] = r
        except Exception as e:  # noqa: BLE001
            out["models"][name] = {"error": f"{type(e).__name__}: {e}"[:200]}
        print(f"torch {name}: {out['models'][name]}", file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
