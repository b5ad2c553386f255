"""Markdown table of zoo training runs: for each run directory its
model, parameters, best val mIoU (and when it was reached), the val mIoU at
each validation, epochs, training images/s, from its log.jsonl and config.

    /usr/bin/python3 scripts/bench/zoo_table.py runs/zoo_camvid_enet [...]
"""
import json
import os
import re
import sys


def load(run):
    rows = []
    with open(os.path.join(run, "log.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def arch_of(run):
    try:
        with open(os.path.join(run, "config.yaml")) as f:
            m = re.search(r"^\s*arch:\s*(\S+)", f.read(), re.M)
            return m.group(1) if m else os.path.basename(run)
    except OSError:
        return os.path.basename(run)


def main(runs):
    print("| model | best val mIoU | at minute | val mIoU at each validation (minute: %) | epochs | train img/s |")
    print("|---|---|---|---|---|---|")
    for run in runs:
        try:
            rows = load(run)
        except OSError as e:
            print(f"| {os.path.basename(run)} | (no log: {e.strerror}) | | | | |")
            continue
        vals = [r for r in rows if r.get("type") == "val"]
        train = [r for r in rows if r.get("type") == "train"]
        if not vals:
            print(f"| `{arch_of(run)}` | (no validation) | | | | |")
            continue
        best = max(vals, key=lambda r: r["metrics"]["mean_iou"])
        curve = ", ".join(f"{r['minutes']:.0f}: {100 * r['metrics']['mean_iou']:.1f}" for r in vals)
        ips = [r["img_per_s"] for r in train if r.get("img_per_s")]
        ips_s = f"{sum(ips) / len(ips):.1f}" if ips else "-"
        ep = max(r.get("epoch", 0) for r in rows)
        print(f"| `{arch_of(run)}` | {100 * best['metrics']['mean_iou']:.2f}% | {best['minutes']:.1f} | {curve} "
              f"| {ep} | {ips_s} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
