"""Side-by-side table of two pixl binaries' benchmark outputs (`pixl bench
ops` or `pixl bench models`, run alternately in one sitting): per row the
median over rounds of each binary's ms, the ratio new/old, and each side's
spread (max/min over rounds) so the machine's noise is visible next to
the ratio.

  python3 scripts/bench/ab_table.py --old old_ops_*.txt --new new_ops_*.txt
"""
import argparse
import re
import statistics


def rows(path):
    """{row name: ms} of one `pixl bench ops|models` output"""
    out = {}
    for line in open(path):
        m = re.match(r"^(\S+)\s+(fwd|bwd)\s+([0-9.]+)\s", line)  # bench ops: op pass ms ...
        if m:
            out[m.group(1) + " " + m.group(2)] = float(m.group(3))
            continue
        m = re.match(r"^(\S+)\s+\d+\s+[0-9.]+\s+([0-9.]+)\s", line)  # bench models: name params GFLOPs ms ...
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", nargs="+", required=True)
    ap.add_argument("--new", nargs="+", required=True)
    a = ap.parse_args()
    old = [rows(p) for p in a.old]
    new = [rows(p) for p in a.new]
    names = [k for k in old[0] if all(k in r for r in old + new)]
    print("| row | old ms (median) | new ms (median) | new / old | old max/min | new max/min |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios, so, sn = [], 0.0, 0.0
    for k in names:
        o = [r[k] for r in old]
        n = [r[k] for r in new]
        mo, mn = statistics.median(o), statistics.median(n)
        so, sn = so + mo, sn + mn
        ratios.append(mn / mo)
        print("| %s | %.2f | %.2f | %.3f | %.2f | %.2f |" % (k, mo, mn, mn / mo, max(o) / min(o), max(n) / min(n)))
    print("| **sum of medians** | %.1f | %.1f | %.3f | | |" % (so, sn, sn / so))
    print("\nrows: %d, rounds: %d old, %d new; median ratio %.3f, geometric mean %.3f" %
          (len(names), len(old), len(new), statistics.median(ratios),
           statistics.geometric_mean(ratios)))


if __name__ == "__main__":
    main()
