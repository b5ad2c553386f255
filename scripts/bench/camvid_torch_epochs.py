"""Per-epoch reference: the recipe of ../shared/anchors/camvid_torch_train.py
(ENet from seg_models.py, CamVid train resized to 176x240, flip, batch 8, Adam 5e-4 wd 2e-4,
ENet class weights, constant lr), but validated on val at full resolution after fixed EPOCHS
instead of fixed minutes, so pixl's curve (configs/camvid_enet_epochs.yaml) can be compared
epoch for epoch. Written for pixl; the training loop follows the anchor line by line.

  /usr/bin/python3 scripts/bench/camvid_torch_epochs.py --epochs 50 --every 5 --seed 0 \
      --threads 2 --out docs/runs/camvid_enet_torch_epochs_s0.jsonl
"""
import argparse, json, os, random, sys, time
import numpy as np
import torch, torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ANCH = os.path.join(HERE, "../../../shared/anchors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--anchors", default=ANCH)
    ap.add_argument("--root", default=os.path.join(ANCH, "../datasets/camvid"))
    ap.add_argument("--out", default="/tmp/camvid_torch_epochs.jsonl")
    ap.add_argument("--save", default=None, help="write the final state_dict here (safetensors), for cross-evaluation")
    a = ap.parse_args()
    sys.path.insert(0, a.anchors)
    import seg_models
    import camvid_torch_train as anchor  # its data loading, normalisation and evaluation
    torch.set_num_threads(a.threads); torch.manual_seed(a.seed); random.seed(a.seed); np.random.seed(a.seed)
    Xtr, Ytr = anchor.load_split(a.root, "train"); Xva, Yva = anchor.load_split(a.root, "val")
    freq = np.bincount(Ytr[Ytr < 11].ravel(), minlength=11) / (Ytr < 11).sum()
    w = torch.tensor(1.0 / np.log(1.02 + freq), dtype=torch.float32)
    model = seg_models.build("enet", 11).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=2e-4)
    h, wd, batch = 176, 240, 8
    t0 = time.time(); train_s = 0.0; step = 0; seen = 0
    log = open(a.out, "w")
    for ep in range(1, a.epochs + 1):
        te = time.time(); loss_sum = 0.0; loss_n = 0
        idx = np.random.permutation(len(Xtr))
        for i in range(0, len(idx) - batch + 1, batch):
            b = idx[i:i + batch]
            x = anchor.to_input(Xtr[b]); y = torch.from_numpy(Ytr[b].astype(np.int64))
            if random.random() < 0.5:
                x = x.flip(3); y = y.flip(2)
            x = F.interpolate(x, size=(h, wd), mode="bilinear", align_corners=False).contiguous(memory_format=torch.channels_last)
            y = F.interpolate(y[:, None].float(), size=(h, wd), mode="nearest")[:, 0].long()
            out = model(x)
            if out.shape[2:] != y.shape[1:]:
                out = F.interpolate(out, size=y.shape[1:], mode="bilinear", align_corners=False)
            loss = F.cross_entropy(out, y, weight=w, ignore_index=11)
            opt.zero_grad(); loss.backward(); opt.step(); step += 1; seen += len(b)
            loss_sum += float(loss); loss_n += 1
        train_s += time.time() - te
        if ep % a.every == 0 or ep == a.epochs:
            miou, acc = anchor.evaluate(model, Xva, Yva, (h, wd))
            rec = {"epoch": ep, "step": step, "images": seen, "loss": float(loss), "epoch_loss": loss_sum / max(loss_n, 1), "val_miou": miou,
                   "val_acc": acc, "train_img_per_s": seen / train_s, "minutes": (time.time() - t0) / 60}
            print(json.dumps(rec), flush=True); log.write(json.dumps(rec) + "\n"); log.flush()
    if a.save:
        sys.path.insert(0, os.path.join(HERE, "..", "ref"))
        import st_write
        st_write.write(a.save, {k: v.contiguous() for k, v in model.state_dict().items()},
                       {"arch": "enet", "n_classes": "11", "input_size": f"{h},{wd}",
                        "mean": ",".join(f"{v:.9g}" for v in anchor.MEAN), "std": ",".join(f"{v:.9g}" for v in anchor.STD),
                        "made_by": "scripts/bench/camvid_torch_epochs.py"})


if __name__ == "__main__":
    main()
