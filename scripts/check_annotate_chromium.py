#!/usr/bin/python3
"""check_annotate_chromium.py -- `pixl annotate` in a real browser (headless Chromium).

    /usr/bin/python3 scripts/check_annotate_chromium.py [--pixl ./pixl] [--camvid DIR | --synthetic]
                                                        [--screenshots docs/img] [--keep]

Makes a small image folder in a temporary directory (two CamVid training
frames when the dataset is there, with their label maps as --gt; else three
synthetic PNGs written here), a query set of a few points per image, and
starts `pixl annotate` on a free port. Then, by key presses only:

  - labels points with class keys and checks the label store on disk after
    every press (and the click log, and the page's state);
  - skips with Space and Esc, undoes with Backspace (a skip and a label),
    relabels after going back with the Left arrow, jumps to the next image
    with Enter, presses a key that means nothing and checks the page says
    which keys are valid, toggles the other queries with Tab;
  - kills the server with SIGKILL, checks the files, starts it again and
    checks that the page resumes at the first query neither labelled nor
    skipped with nothing lost, undoes once more, labels once more;
  - saves screenshots to docs/img/annotate_*.png.

Needs chromium, chromium-driver and python3-selenium (Debian;
scripts/install-deps.sh with PIXL_WITH_BROWSER=1). `make check-annotate`
runs it; it is not part of `make test`. Exit status 0 when every check
passes; each failed check is printed.
"""
import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILED.append(what)
    return cond


def wait_for(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # a file being replaced, a page still loading
            pass
        if time.time() > end:
            return None
        time.sleep(step)


# ------------------------------------------------------------------ images

def write_png(path, w, h, pixel):
    """an 8-bit RGB PNG; pixel(x, y) -> (r, g, b)"""
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw.extend(pixel(x, y))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def synthetic_scene(i):
    """a road scene of flat regions: sky, a building, a road"""
    def pixel(x, y):
        if y < 110:
            return (128 + i * 20, 160, 220)
        if x > 300 - 40 * i and y < 230:
            return (150, 60, 50)
        if y > 230:
            return (90, 80, 100)
        return (70, 140, 60)
    return pixel


# ------------------------------------------------------------------ files

def read_labels(path):
    """{(id, y, x): class} of a label store file, None when there is none"""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        d = json.load(f)
    assert d["format"] == "pixl-label-store"
    return {(im["id"], p[0], p[1]): p[2] for im in d["images"] for p in im["points"]}


def read_skips(path):
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        d = json.load(f)
    return {(im["id"], p[0], p[1]) for im in d["images"] for p in im["points"]}


def click_rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l]
    assert lines[0] == "loc,label,elapsed_time,total_time", lines[0]
    return lines[1:]


# ------------------------------------------------------------------ the server

class Server:
    def __init__(self, args):
        self.args = args
        self.proc = None
        self.url = None

    def start(self):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()  # "pixl annotate: open http://127.0.0.1:PORT/"
        if "http://" not in line:
            self.err.seek(0)
            sys.exit("pixl annotate did not start: %s %s" % (line, self.err.read().decode()))
        self.url = line[line.index("http://"):].strip()
        return self.url

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pixl", default=os.path.join(ROOT, "pixl"))
    ap.add_argument("--camvid", default=os.path.join(ROOT, "..", "shared", "datasets", "camvid"))
    ap.add_argument("--synthetic", action="store_true", help="synthetic images even when CamVid is there")
    ap.add_argument("--screenshots", default=os.path.join(ROOT, "docs", "img"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
    except ImportError:
        sys.exit("needs python3-selenium and chromium-driver (apt-get install python3-selenium chromium-driver)")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(driver_path):
        sys.exit("needs chromium-driver (apt-get install chromium-driver)")

    tmp = tempfile.mkdtemp(prefix="pixl-annotate-")
    img_dir = os.path.join(tmp, "images")
    os.makedirs(img_dir)
    gt = None
    camvid = not args.synthetic and os.path.isdir(os.path.join(args.camvid, "train"))
    if camvid:
        ids = ["0001TP_006690", "0001TP_006720"]
        for i in ids:
            shutil.copy(os.path.join(args.camvid, "train", i + ".jpg"), img_dir)
        gt = os.path.join(args.camvid, "trainannot")
        points = {ids[0]: [[100, 200], [300, 50], [20, 400], [200, 300], [250, 130]],
                  ids[1]: [[180, 240], [350, 470], [60, 60]]}
    else:
        ids = ["scene_a", "scene_b", "scene_c"]
        for n, i in enumerate(ids):
            write_png(os.path.join(img_dir, i + ".png"), 480, 360, synthetic_scene(n))
        points = {ids[0]: [[100, 200], [300, 50], [20, 400], [200, 300], [250, 130]],
                  ids[1]: [[180, 240], [350, 470], [60, 60]], ids[2]: [[40, 40], [300, 300]]}
    queries = os.path.join(tmp, "queries.json")
    with open(queries, "w") as f:
        json.dump({"format": "pixl-query-set", "version": 1, "round": 1,
                   "images": [{"id": i, "height": 360, "width": 480, "points": points[i]} for i in ids]}, f)
    labels = os.path.join(tmp, "labels.json")
    skips_file = os.path.join(tmp, "labels.skipped.json")
    clicks = os.path.join(tmp, "labels.clicks")
    cmd = [args.pixl, "annotate", "--images", img_dir, "--queries", queries, "--labels", labels, "--port", "0"]
    if gt:
        cmd += ["--gt", gt]
    print("images: %s (%s)" % (img_dir, "CamVid" if camvid else "synthetic"))

    # the model of what the files must hold: visiting order is by x, then y
    order = [(i, p[0], p[1]) for i in ids for p in sorted(points[i], key=lambda p: (p[1], p[0]))]
    model = {"labels": {}, "skips": set(), "cursor": 0}
    keys = {"Sky": "s", "Building": "b", "Pole": "p", "Road": "r", "Pavement": "a", "Tree": "t",
            "SignSymbol": "i", "Fence": "f", "Car": "c", "Pedestrian": "e", "Bicyclist": "y"}
    cls = {k: n for n, k in enumerate(keys.values())}

    def answered(q):
        return q in model["labels"] or q in model["skips"]

    def next_todo(frm):
        n = len(order)
        for d in range(1, n + 2):
            k = (frm + d) % (n + 1)
            if k < n and not answered(order[k]):
                return k
        return n

    server = Server(cmd)
    url = server.start()
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,540",
              "--force-device-scale-factor=1", "--hide-scrollbars", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    for b in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(b):
            opts.binary_location = b
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    # the page itself 800 x 600, where a 480 x 360 image shows at its own size (the window's frame differs
    # between versions)
    inner = drv.execute_script("return [window.innerWidth, window.innerHeight];")
    outer = drv.get_window_size()
    drv.set_window_size(800 + outer["width"] - inner[0], 600 + outer["height"] - inner[1])
    shots = []
    try:
        def state():
            return drv.execute_script("return window.pixl && window.pixl.state();")

        def page_ready():
            return drv.execute_script("return !!(window.pixl && window.pixl.state() && window.pixl.imageLoaded());")

        def press(key):
            ActionChains(drv).send_keys(key).perform()

        def expect_point():
            """the page and the model agree on the current point"""
            want = order[model["cursor"]] if model["cursor"] < len(order) else None

            def same():
                s = state()
                p = s and s["point"]
                got = (p["image"], p["y"], p["x"]) if p else None
                return got == want and s["labelled"] == len(model["labels"]) and s["skipped"] == len(
                    model["skips"] - set(model["labels"]))
            return wait_for(same, 10)

        def expect_files(what):
            wait_for(lambda: (read_labels(labels) or {}) == model["labels"] and read_skips(skips_file) == model["skips"], 5)
            check((read_labels(labels) or {}) == model["labels"], "%s: label store on disk = %s" % (what, sorted(model["labels"].items())))
            check(read_skips(skips_file) == model["skips"], "%s: skips on disk = %s" % (what, sorted(model["skips"])))
            check(expect_point() is not None, "%s: the page shows the next point %s" % (
                what, order[model["cursor"]] if model["cursor"] < len(order) else "(none: all answered)"))

        def label(name):
            q = order[model["cursor"]]
            hist.append((model["cursor"], q, model["labels"].get(q), q in model["skips"]))
            model["labels"][q] = cls[keys[name]]
            model["skips"].discard(q)
            press(keys[name])
            model["cursor"] = next_todo(model["cursor"])
            expect_files("key '%s' labels %s %s" % (keys[name], q, name))

        def skip(key, name):
            q = order[model["cursor"]]
            hist.append((model["cursor"], q, model["labels"].get(q), q in model["skips"]))
            model["skips"].add(q)
            model["labels"].pop(q, None)
            press(key)
            model["cursor"] = next_todo(model["cursor"])
            expect_files("%s skips %s" % (name, q))

        def undo(name="Backspace"):
            c, q, old_label, old_skip = hist.pop()
            if old_label is None:
                model["labels"].pop(q, None)
            else:
                model["labels"][q] = old_label
            if old_skip:
                model["skips"].add(q)
            else:
                model["skips"].discard(q)
            model["cursor"] = c
            press(Keys.BACKSPACE if name == "Backspace" else name)
            expect_files("%s undoes the answer of %s" % (name, q))

        hist = []
        drv.get(url)
        check(wait_for(page_ready, 15) is not None, "the page loads with its image (%s)" % url)
        check(expect_point() is not None, "it starts at the first query %s" % (order[0],))
        check(read_labels(labels) is None, "nothing is written before the first key")
        legend = drv.execute_script("return Array.from(document.querySelectorAll('#legend .cls')).map(e => e.textContent);")
        check(len(legend) == 11 and legend[3].startswith("r") and "Road" in legend[3] and legend[0].startswith("s"),
              "the legend maps keys to classes: %s" % legend[:4])

        label("Road")
        n_rows = len(click_rows(os.path.join(clicks, ids[0] + ".csv")))
        check(n_rows == 1, "the click log of %s has the click (%d row)" % (ids[0], n_rows))
        label("Sky")
        skip(Keys.SPACE, "Space")
        undo()                      # the skip goes back
        skip(Keys.ESCAPE, "Esc")    # and Esc skips it too
        label("Building")
        undo()                      # a label goes back
        label("Tree")
        check(len(click_rows(os.path.join(clicks, ids[0] + ".csv"))) == 3, "the click log lists the 3 labels of %s" % ids[0])

        # a key that means nothing: the page says which keys are valid, nothing changes
        before = read_labels(labels)
        press("q")
        msg = wait_for(lambda: "Valid keys" in drv.find_element("id", "msg").text and drv.find_element("id", "msg").text, 5)
        check(bool(msg) and "not a key" in msg, "an unknown key shows the valid keys: %r" % (msg or "")[:90])
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            path = os.path.join(args.screenshots, "annotate_wrong_key.png")
            drv.find_element("id", "info").screenshot(path)
            shots.append(path)
        time.sleep(0.3)
        check(read_labels(labels) == before, "an unknown key changes nothing on disk")

        # back to the Tree point with Left, relabel it Car; undo brings Tree back
        tree = [q for q in order if model["labels"].get(q) == cls["t"]][0]
        steps = model["cursor"] - order.index(tree)
        for _ in range(steps):
            press(Keys.ARROW_LEFT)
        model["cursor"] = order.index(tree)
        check(expect_point() is not None, "Left goes back %d points to %s" % (steps, tree))
        label("Car")
        undo()

        # Tab shows the other queries; the screenshot of the page at work
        press(Keys.ARROW_RIGHT)
        model["cursor"] = order.index(tree) + 1
        check(expect_point() is not None, "Right goes forward to %s" % (order[model["cursor"]],))
        press(Keys.TAB)
        time.sleep(0.3)
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            path = os.path.join(args.screenshots, "annotate_page.png")
            drv.save_screenshot(path)
            shots.append(path)

        # Enter: the next image, at its first unanswered query
        first_next = [k for k, q in enumerate(order) if q[0] == ids[1]][0]
        press(Keys.ENTER)
        model["cursor"] = first_next
        check(expect_point() is not None, "Enter jumps to the next image %s" % ids[1])
        label("Road")
        label("Pavement")

        # kill -9 and start again: nothing lost, the same next point
        on_disk = read_labels(labels)
        skipped = read_skips(skips_file)
        server.kill9()
        check(read_labels(labels) == model["labels"] == on_disk, "after SIGKILL the label store holds all %d labels"
              % len(model["labels"]))
        check(read_skips(skips_file) == model["skips"] == skipped, "after SIGKILL the skips file holds the skip")
        url = server.start()
        drv.get(url)
        check(wait_for(page_ready, 15) is not None, "the restarted server's page loads (%s)" % url)
        want = next_todo(-1)
        model["cursor"] = want
        check(expect_point() is not None, "it resumes at the first query neither labelled nor skipped: %s" % (order[want],))
        s = state()
        check(s["labelled"] == len(model["labels"]) and s["skipped"] == len(model["skips"]),
              "the page counts %d labelled, %d skipped" % (s["labelled"], s["skipped"]))
        if gt:
            acc = s.get("accuracy") or {}
            check(0 < acc.get("total", 0) <= len(model["labels"]) and acc.get("correct", -1) >= 0,
                  "accuracy against --gt over the labels on non-void pixels: %s" % acc)
        check(s.get("seconds_per_click") is not None, "seconds per click come back from the click logs: %s"
              % s.get("seconds_per_click"))
        # undo after a restart takes back the last answer in visiting order
        last = max(k for k, q in enumerate(order) if answered(q))
        q = order[last]
        hist = [(last, q, None, False)]
        undo()
        label("SignSymbol")
        while model["cursor"] < len(order):
            label("Sky")
        check(state()["done"] and "Every query is answered" in drv.find_element("id", "caption").text,
              "every query answered: the page says so")
    finally:
        drv.quit()
        server.stop()
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for p in shots:
        print("screenshot %s (%d bytes)" % (os.path.relpath(p, ROOT), os.path.getsize(p)))
    print("%d checks failed" % len(FAILED) if FAILED else "all checks passed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
