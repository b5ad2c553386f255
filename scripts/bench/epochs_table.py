"""Per-epoch val mIoU table (markdown) from pixl run logs and PyTorch jsonl logs
(scripts/bench/camvid_torch_epochs.py), for docs/benchmarks.md.

  python3 scripts/bench/epochs_table.py --pixl docs/runs/camvid_enet_epochs_s*.log.jsonl \
      --torch docs/runs/camvid_enet_torch_epochs_s*.jsonl
"""
import argparse, json


def pixl_curve(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "val":
            out[r["epoch"]] = 100 * r["metrics"]["mean_iou"]
    return out


def torch_curve(path):
    return {r["epoch"]: 100 * r["val_miou"] for r in map(json.loads, open(path))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pixl", nargs="+", required=True)
    ap.add_argument("--torch", nargs="+", required=True)
    a = ap.parse_args()
    P = [pixl_curve(p) for p in a.pixl]
    T = [torch_curve(p) for p in a.torch]
    epochs = sorted(set().union(*P, *T))
    hdr = ["epoch"] + [f"pixl s{i}" for i in range(len(P))] + ["pixl mean"] + \
          [f"PyTorch s{i}" for i in range(len(T))] + ["PyTorch mean"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---:|" * len(hdr))
    sums = {"p": [], "t": []}
    for e in epochs:
        pv = [c.get(e) for c in P]
        tv = [c.get(e) for c in T]
        pm = sum(v for v in pv if v is not None) / max(1, sum(v is not None for v in pv))
        tm = sum(v for v in tv if v is not None) / max(1, sum(v is not None for v in tv))
        if all(v is not None for v in pv + tv):
            sums["p"].append(pm); sums["t"].append(tm)
        f = lambda v: "—" if v is None else f"{v:.1f}"
        print("| " + " | ".join([str(e)] + [f(v) for v in pv] + [f"**{pm:.1f}**"] + [f(v) for v in tv] + [f"**{tm:.1f}**"]) + " |")
    n = len(sums["p"])
    if n:
        print(f"\nMean over the {n} epochs every run reached: pixl {sum(sums['p'])/n:.1f}, PyTorch {sum(sums['t'])/n:.1f}")


if __name__ == "__main__":
    main()
