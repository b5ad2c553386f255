"""PyTorch side of `pixl bench train`: one training step of the zoo's
networks (model.train(); zero_grad, forward, CrossEntropyLoss on random
labels, backward, SGD(lr 0.01, momentum 0.9).step()) at batch B, median of
R steps after one warm-up step, on N threads (torch.set_num_threads).

Each model and configuration (eager NCHW, eager channels_last) runs in a
subprocess of its own, so that its peak RSS (ru_maxrss, which includes the
interpreter and libtorch: "base_mib" is the RSS before the model is built)
is the step's. The faster configuration is reported as PyTorch's best.
TorchScript is not tried for training (torch.jit.freeze, which folds
BatchNorm and fuses activations, applies to inference only).

The networks are bench_torch_models.py's (the reference scripts whose parity
pixl's tests check).

    /usr/bin/python3 bench/bench_torch_train.py --models enet,unet \\
        [--batch 4] [--input 3x360x480] [--classes 11] [--threads 2] [--runs 3]

Prints JSON: {"torch": version, "threads": N, "batch": B, "models": {name:
{"ms", "min_ms", "rss_mib", "base_mib", "config", "plain_ms",
"channels_last_ms", "params"} or {"error": why}}}.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def one(name, config, b, c, h, w, k, threads, runs):
    """the step in this process; returns the result dict"""
    import bench_torch_models as bm
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = _rss_mib()
    models, notes = bm._zoo(k)
    if name not in models:
        return {"error": "no PyTorch definition" + (f" ({notes})" if notes else "")}
    m = models[name]().train()
    x = torch.randn(b, c, h, w)
    y = torch.randint(0, k, (b, h, w))
    if config == "channels_last":
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss(ignore_index=255)
    ts = []
    for i in range(runs + 1):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        out = m(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if isinstance(out, dict):
            out = out["out"]
        loss = lossf(out, y)
        loss.backward()
        opt.step()
        if i:
            ts.append((time.perf_counter() - t) * 1e3)
    return {"ms": statistics.median(ts), "min_ms": min(ts),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "base_mib": base,
            "params": sum(p.numel() for p in m.parameters())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--input", default="3x360x480")
    ap.add_argument("--classes", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--one", nargs=2, metavar=("NAME", "CONFIG"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    c, h, w = (int(v) for v in a.input.split("x"))
    if a.one:
        try:
            r = one(a.one[0], a.one[1], a.batch, c, h, w, a.classes, a.threads, a.runs)
        except Exception as e:  # noqa: BLE001
            r = {"error": f"{type(e).__name__}: {e}"[:200]}
        print(json.dumps(r))
        return
    out = {"torch": torch.__version__, "threads": a.threads, "batch": a.batch, "input": a.input, "models": {}}
    import bench_torch_models as bm
    names = [n for n in a.models.split(",") if n] or sorted(bm._zoo(a.classes)[0])
    for name in names:
        r, tried = {}, []
        for config in ("plain", "channels_last"):
            cmd = [sys.executable, os.path.abspath(__file__), "--one", name, config, "--batch", str(a.batch),
                   "--input", a.input, "--classes", str(a.classes), "--threads", str(a.threads),
                   "--runs", str(a.runs)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            try:
                res = json.loads(p.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = {"error": f"exit {p.returncode}: {p.stderr.strip()[-160:]}"}
            if "error" in res:
                r[config + "_error"] = res["error"]
                continue
            r[config + "_ms"] = res["ms"]
            r[config + "_rss_mib"] = res["rss_mib"]
            r["params"] = res["params"]
            tried.append((config, res))
        if tried:
            config, best = min(tried, key=lambda t: t[1]["ms"])
            r.update({"config": config, "ms": best["ms"], "min_ms": best["min_ms"], "rss_mib": best["rss_mib"],
                      "base_mib": best["base_mib"]})
        else:
            r["error"] = r.get("plain_error", "failed")
        out["models"][name] = r
        print(f"torch {name}: {r}", file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
