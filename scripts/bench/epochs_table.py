"""Per-epoch val mIoU of pixl against PyTorch over several seeds (markdown,
for docs/benchmarks.md): pixl run logs (`pixl train configs/camvid_enet_epochs.yaml`,
log.jsonl) and PyTorch jsonl logs (scripts/bench/camvid_torch_epochs.py).

Prints (1) each side's mean and standard error per epoch and their difference,
with the mean training loss of that epoch where the logs have it; (2) every
run's curve; (3) each run's mean over the late epochs (--late, default 35-50)
and over all epochs, each with an exact permutation test of "the two sides'
means are equal" (runs that reached every epoch of the range).

  python3 scripts/bench/epochs_table.py --pixl docs/runs/camvid_enet_epochs_s*.log.jsonl \\
      --torch docs/runs/camvid_enet_torch_epochs_s*.jsonl
"""
import argparse, itertools, json, math, os, re

STEPS_PER_EPOCH = 45  # 367 CamVid train images, batches of 8, last partial batch dropped


def pixl_run(path):
    val, loss = {}, {}
    windows = []
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "val":
            val[r["epoch"]] = 100 * r["metrics"]["mean_iou"]
        elif r.get("type") == "train":
            windows.append((r["step"], r["loss"]))
    for e in val:  # print windows (20 steps) that end inside epoch e: that epoch's loss, approximately
        xs = [l for s, l in windows if STEPS_PER_EPOCH * (e - 1) < s <= STEPS_PER_EPOCH * e]
        if xs:
            loss[e] = sum(xs) / len(xs)
    return val, loss


def torch_run(path):
    recs = [json.loads(l) for l in open(path)]
    return ({r["epoch"]: 100 * r["val_miou"] for r in recs},
            {r["epoch"]: r["epoch_loss"] for r in recs if "epoch_loss" in r})


def label(path):
    m = re.search(r"_s(\d+\w*?)(?:\.log)?\.jsonl$", os.path.basename(path))
    return "s" + m.group(1) if m else os.path.basename(path)


def stats(v):
    n = len(v)
    if not n:
        return None, None, 0
    m = sum(v) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else float("nan")
    return m, sd / math.sqrt(n), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pixl", nargs="+", required=True)
    ap.add_argument("--torch", nargs="+", required=True)
    ap.add_argument("--late", default="35-50", help="epochs averaged per run for the permutation test")
    a = ap.parse_args()
    P = [(label(p),) + pixl_run(p) for p in a.pixl]
    T = [(label(p),) + torch_run(p) for p in a.torch]
    epochs = sorted(set().union(*[r[1] for r in P + T]))
    f1 = lambda v: "—" if v is None else f"{v:.1f}"

    print("| epoch | pixl mIoU (n) | PyTorch mIoU (n) | pixl − PyTorch | pixl epoch loss | PyTorch epoch loss |")
    print("|---:|---:|---:|---:|---:|---:|")
    for e in epochs:
        pm, ps, pn = stats([r[1][e] for r in P if e in r[1]])
        tm, ts, tn = stats([r[1][e] for r in T if e in r[1]])
        pl, _, pln = stats([r[2][e] for r in P if e in r[2]])
        tl, _, tln = stats([r[2][e] for r in T if e in r[2]])
        d = f"{pm - tm:+.1f} ± {math.hypot(ps, ts):.1f}" if pn > 1 and tn > 1 else "—"
        cell = lambda m, s, n: "—" if m is None else f"{m:.1f} ± {s:.1f} ({n})"
        lc = lambda m, n: "—" if m is None else f"{m:.3f} ({n})"
        print(f"| {e} | {cell(pm, ps, pn)} | {cell(tm, ts, tn)} | {d} | {lc(pl, pln)} | {lc(tl, tln)} |")
    print("\n(mean ± standard error over seeds; epoch loss: mean training loss of that epoch)\n")

    print("| run | " + " | ".join(str(e) for e in epochs) + " |")
    print("|---|" + "---:|" * len(epochs))
    for side, runs in (("pixl", P), ("PyTorch", T)):
        for r in runs:
            print(f"| {side} {r[0]} | " + " | ".join(f1(r[1].get(e)) for e in epochs) + " |")

    lo, hi = map(int, a.late.split("-"))
    permutation_test(P, T, [e for e in epochs if lo <= e <= hi], f"epochs {lo}-{hi}")
    permutation_test(P, T, epochs, f"all epochs {epochs[0]}-{epochs[-1]}")


def permutation_test(P, T, eps, what):
    """per-run mean over eps (runs that reached all of them); exact two-sided
    permutation test of equal means between the two sides"""
    pl = [sum(r[1][e] for e in eps) / len(eps) for r in P if all(e in r[1] for e in eps)]
    tl = [sum(r[1][e] for e in eps) / len(eps) for r in T if all(e in r[1] for e in eps)]
    if not pl or not tl:
        return
    obs = sum(pl) / len(pl) - sum(tl) / len(tl)
    allv = pl + tl
    cnt = tot = 0
    for idx in itertools.combinations(range(len(allv)), len(pl)):
        s = set(idx)
        d = sum(allv[i] for i in idx) / len(pl) - sum(allv[i] for i in range(len(allv)) if i not in s) / len(tl)
        tot += 1
        cnt += abs(d) >= abs(obs) - 1e-12
    print(f"\nMean over {what} per run (runs that reached them all): pixl "
          + ", ".join(f"{v:.1f}" for v in pl) + f" (mean {sum(pl) / len(pl):.2f}); PyTorch "
          + ", ".join(f"{v:.1f}" for v in tl) + f" (mean {sum(tl) / len(tl):.2f}); difference {obs:+.2f}, "
          f"two-sided exact permutation p = {cnt / tot:.2f} ({tot} splits)")

if __name__ == "__main__":
    main()
