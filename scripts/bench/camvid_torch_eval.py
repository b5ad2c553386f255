"""Cross-evaluation of pixl and PyTorch: score an ENet checkpoint -- pixl's
(last/best.safetensors of `pixl train`) or PyTorch's (camvid_torch_epochs.py
--save) -- with the anchor's own evaluation (../shared/anchors/
camvid_torch_train.py: val resized to 176x240, logits upsampled bilinearly to
360x480, void ignored). `pixl eval CKPT --config configs/camvid_enet_epochs.yaml`
scores the same file with pixl's evaluation; the two must agree for the
per-epoch comparison to compare training alone.

  /usr/bin/python3 scripts/bench/camvid_torch_eval.py CKPT.safetensors [--threads 2]
"""
import argparse, json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ANCH = os.path.join(HERE, "../../../shared/anchors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--anchors", default=ANCH)
    ap.add_argument("--root", default=os.path.join(ANCH, "../datasets/camvid"))
    a = ap.parse_args()
    sys.path.insert(0, a.anchors)
    sys.path.insert(0, os.path.join(HERE, "..", "ref"))
    import seg_models
    import camvid_torch_train as anchor
    import st_write
    torch.set_num_threads(a.threads)
    _, t = st_write.read(a.ckpt)
    m = seg_models.build("enet", 11)
    sd = m.state_dict()
    missing = [k for k in sd if k not in t and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"{a.ckpt}: no tensor for {missing[:5]} ...")
    m.load_state_dict({k: torch.from_numpy(t[k]).reshape(sd[k].shape).to(sd[k].dtype) if k in t else sd[k]
                       for k in sd})
    Xva, Yva = anchor.load_split(a.root, "val")
    miou, acc = anchor.evaluate(m, Xva, Yva, (176, 240))
    print(json.dumps({"checkpoint": a.ckpt, "evaluated_by": "anchor (PyTorch)", "val_miou": miou, "val_acc": acc}))


if __name__ == "__main__":
    main()
