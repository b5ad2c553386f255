"""Measure the model zoo's inference latency (pixl and PyTorch, batch 1,
360x480, `pixl bench models`) and write the numbers into the table of
docs/models.md: for every measured model its row's parameters, GFLOPs,
pixl ms, PyTorch ms and ratio columns are replaced (a model without a row
gets one); other rows and the text around the table are kept.

    /usr/bin/python3 scripts/bench/models_md.py [--pixl build/pixl] [--threads 2]
        [--models a,b] [--runs 5] [--json FILE] [--from-json FILE] [--no-torch]

--from-json takes the numbers of an earlier `pixl bench models --json FILE`
instead of measuring. `make bench-models` runs this script.

Each model is measured by its own `pixl bench models --models NAME` run
(pixl, then PyTorch right after it, so both see the same machine state),
and the whole list is swept --sweeps times (default 2); each side keeps its
best median over the sweeps. (This machine's speed changes over minutes;
measuring all of pixl first and all of PyTorch minutes later, as a single
run does, compared them in different states.)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOC = os.path.join(ROOT, "docs", "models.md")
HEADER = "| model | parameters | GFLOPs at 360x480 | pixl ms | PyTorch ms | ratio | reference, notes |"


def fmt_row(cells):
    return "| " + " | ".join(cells) + " |"


def split_row(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def update(doc_text, results):
    lines = doc_text.splitlines()
    try:
        start = lines.index(HEADER)
    except ValueError:
        raise SystemExit(f"{DOC}: table header not found:\n{HEADER}")
    end = start + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    rows = [split_row(l) for l in lines[start + 2:end]]
    index = {r[0].strip("`"): i for i, r in enumerate(rows)}
    for r in results:
        name = r["model"]
        if "error" in r:
            print(f"{name}: pixl failed ({r['error']}); row unchanged", file=sys.stderr)
            continue
        cells = [f"`{name}`", f"{int(r['params']):,}", f"{r['gflops']:.1f}", f"{r['pixl_ms']:.0f}",
                 f"{r['torch_ms']:.0f}" if "torch_ms" in r else "-",
                 f"{r['pixl_ms'] / r['torch_ms']:.2f}" if "torch_ms" in r else "-"]
        if name in index:
            old = rows[index[name]]
            rows[index[name]] = cells + old[6:] if len(old) > 6 else cells + [""]
        else:
            rows.append(cells + [""])
            index[name] = len(rows) - 1
    lines[start + 2:end] = [fmt_row(r) for r in rows]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pixl", default=os.path.join(ROOT, "build", "pixl"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="also keep the raw numbers here")
    ap.add_argument("--from-json", help="use these numbers instead of measuring")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--sweeps", type=int, default=2)
    a = ap.parse_args()
    if a.from_json:
        path = a.from_json
    else:
        path = a.json or tempfile.mkstemp(suffix=".json")[1]
        names = a.models.split(",") if a.models else subprocess.run(
            [a.pixl, "bench", "models", "--list"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
        best, head = {}, None
        for sweep in range(a.sweeps):
            for name in names:
                tmp = tempfile.mkstemp(suffix=".json")[1]
                cmd = [a.pixl, "bench", "models", "--threads", str(a.threads), "--runs", str(a.runs), "--json", tmp,
                       "--models", name]
                if a.no_torch:
                    cmd.append("--no-torch")
                print(f"sweep {sweep + 1}/{a.sweeps}: " + " ".join(cmd), file=sys.stderr)
                subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
                try:
                    with open(tmp) as f:
                        d = json.load(f)
                except (OSError, json.JSONDecodeError):
                    continue
                finally:
                    os.unlink(tmp)
                head = head or {k: v for k, v in d.items() if k != "models"}
                for r in d["models"]:
                    b = best.setdefault(r["model"], r)
                    for k in ("pixl_ms", "torch_ms"):
                        if k in r and (k not in b or r[k] < b[k]):
                            b[k] = r[k]
        data = dict(head or {}, models=[best[n] for n in names if n in best], sweeps=a.sweeps)
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
    with open(path) as f:
        data = json.load(f)
    if data.get("input") != "3x360x480":
        raise SystemExit(f"{path}: measured at {data.get('input')}, the table is for 3x360x480")
    with open(DOC) as f:
        text = f.read()
    with open(DOC + ".tmp", "w") as f:
        f.write(update(text, data["models"]))
    os.replace(DOC + ".tmp", DOC)
    print(f"updated {DOC} ({len(data['models'])} models, pixl {data.get('pixl')}, "
          f"torch {data.get('torch', '-')}, {data.get('threads')} threads)", file=sys.stderr)


if __name__ == "__main__":
    main()
