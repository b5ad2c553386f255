#!/usr/bin/env python3
"""Side-by-side table of several `pixl pixelpick` runs (their summary.json):
validation mIoU of the last epoch against labelled pixels per image, one
column per run, the fully supervised baseline (from the run that has one) and
each round's share of it. Optionally an SVG chart of the same numbers.

    python3 scripts/pixelpick/rounds_table.py RUN_DIR... [--svg OUT.svg]

Standard library only."""
import json
import os
import sys


def load(run):
    with open(os.path.join(run, "summary.json")) as f:
        s = json.load(f)
    name = os.path.basename(os.path.normpath(run))
    label = s.get("strategy", "?") + (" warm start" if s.get("warm_start") else "")
    rows = {r["pixels_per_image"]: r for r in s.get("rounds", [])}
    return name, label, rows, s.get("full")


def pct(v):
    return "–" if v is None else "%.2f" % (100 * v)


def main(argv):
    svg = None
    if "--svg" in argv:
        i = argv.index("--svg")
        svg = argv[i + 1]
        del argv[i:i + 2]
    runs = [load(r) for r in argv]
    if not runs:
        sys.exit(__doc__)
    full = next((f for _, _, _, f in runs if f), None)
    ppis = sorted({p for _, _, rows, _ in runs for p in rows})
    head = "| pixels per image | " + " | ".join("%s (%s)" % (lab, n) for n, lab, _, _ in runs)
    if full:
        head += " | " + " | ".join("%s / full" % lab for _, lab, _, _ in runs)
    print(head + " |")
    print("|---:" * (1 + len(runs) * (2 if full else 1)) + "|")
    for p in ppis:
        cells = [pct(rows[p]["val_miou_last"]) if p in rows else "–" for _, _, rows, _ in runs]
        line = "| %d | %s" % (p, " | ".join(cells))
        if full:
            ratio = ["%.0f%%" % (100 * rows[p]["val_miou_last"] / full["val_miou_last"])
                     if p in rows and rows[p]["val_miou_last"] is not None else "–" for _, _, rows, _ in runs]
            line += " | " + " | ".join(ratio)
        print(line + " |")
    if full:
        print("| full labels | %s%s |" % (pct(full["val_miou_last"]), " | " * (2 * len(runs) - 1)))
    minutes = [sum(r.get("train_minutes") or 0 for r in rows.values()) for _, _, rows, _ in runs]
    print("\nTraining minutes per run (all rounds): " +
          ", ".join("%s %.0f" % (lab, m) for (_, lab, _, _), m in zip(runs, minutes)) +
          ("; full labels %.0f" % full["train_minutes"] if full else "") + ".")
    if svg:
        write_svg(svg, runs, full, ppis)


def write_svg(path, runs, full, ppis):
    W, H, L, R, T, B = 560, 340, 60, 170, 20, 50
    ys = [r["val_miou_last"] for _, _, rows, _ in runs for r in rows.values() if r["val_miou_last"] is not None]
    if full:
        ys.append(full["val_miou_last"])
    ymax = max(ys) * 100 * 1.1 if ys else 100
    xmax = max(ppis) * 1.05 if ppis else 1

    def X(p):
        return L + (W - L - R) * p / xmax

    def Y(v):
        return T + (H - T - B) * (1 - 100 * v / ymax)

    colours = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed"]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>']
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B))
    for p in ppis:
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (X(p), H - B + 16, p))
    step = 10 if ymax > 30 else 5
    for v in range(0, int(ymax) + 1, step):
        out.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (L - 6, Y(v / 100) + 4, v))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/>' % (L, Y(v / 100), W - R,
                                                                                       Y(v / 100)))
    out.append('<text x="%d" y="%d" text-anchor="middle">labelled pixels per image</text>' %
               ((L + W - R) // 2, H - 12))
    out.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">val mIoU (%%), last '
               'epoch</text>' % ((T + H - B) // 2, (T + H - B) // 2))
    for k, (_, lab, rows, _) in enumerate(runs):
        c = colours[k % len(colours)]
        pts = [(X(p), Y(rows[p]["val_miou_last"])) for p in sorted(rows) if rows[p]["val_miou_last"] is not None]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                   (c, " ".join("%.1f,%.1f" % q for q in pts)))
        for q in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (q[0], q[1], c))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 10, T + 16 + 18 * k, c, lab))
    if full:
        y = Y(full["val_miou_last"])
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#6b7280" stroke-dasharray="5,4"/>' %
                   (L, y, W - R, y))
        out.append('<text x="%d" y="%d" fill="#6b7280">full labels</text>' % (W - R + 10, T + 16 + 18 * len(runs)))
    out.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main(sys.argv[1:])
