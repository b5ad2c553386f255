"""Markdown table of the PixelNet pixels-per-image study
from the run logs of scripts/bench/pixelnet_camvid_pixels.sh: per run the
pixels per image, the steps and epochs trained in the budget, images/s, the
final val mIoU and pixel accuracy (all 101 CamVid val images), and the
per-class IoU.

  python3 scripts/bench/pixelnet_pixels_table.py runs/pn_camvid_{100,500,2000,8000,all}/log.jsonl
  python3 scripts/bench/pixelnet_pixels_table.py docs/runs/pn_camvid_*.log.jsonl     (the logs kept in docs)
"""
import json, os, sys


def summary(path):
    train, val = [], None
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "train":
            train.append(r)
        elif r.get("type") == "val":
            val = r
    base = os.path.basename(path)  # runs/pn_camvid_P/log.jsonl or docs/runs/pn_camvid_P.log.jsonl
    name = os.path.basename(os.path.dirname(path)) if base == "log.jsonl" else base[:-len(".log.jsonl")]
    name = name.replace("pn_camvid_", "")
    ips = sum(t["img_per_s"] for t in train) / len(train) if train else float("nan")
    return name, val, ips


def main():
    rows = [summary(p) for p in sys.argv[1:]]
    print("| pixels per image | steps | epochs | img/s | minutes | val mIoU | pixel acc |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, v, ips in rows:
        if not v:
            print(f"| {name} | (no validation) |||||")
            continue
        m = v["metrics"]
        print(f"| {name} | {v['step']} | {v['epoch']} | {ips:.2f} | {v['minutes']:.1f} | "
              f"**{100 * m['mean_iou']:.1f}** | {100 * m['overall_acc']:.1f} |")
    names = None
    for _, v, _ in rows:
        if v:
            names = list(v["metrics"]["class_iou"])
            break
    if not names:
        return
    print()
    print("| pixels per image | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for name, v, _ in rows:
        if v:
            ci = v["metrics"]["class_iou"]
            print(f"| {name} | " + " | ".join(f"{100 * ci[n]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
