#!/usr/bin/python3
"""convert_pth.py - a PyTorch state_dict (.pth/.pt) to a pixl safetensors checkpoint.

    /usr/bin/python3 tools/convert_pth.py IN.pth OUT.safetensors
        [--prefix backbone.] [--drop classifier,fc] [--rename OLD=NEW ...] [--reshape NAME=D0,D1,...]
        [--arch NAME --n-classes K [--variant V] [--backbone B] [--output-stride S]
         [--in-channels C] [--width W] [--mean m,m,m --std s,s,s]]

IN may hold a state_dict, a whole nn.Module (only with --allow-pickle: a .pth
is a pickle and unpickling can run code, so by default only tensors and plain
containers are read; PyTorch 1.13 refuses even a float such as a saved
learning rate there, so most training checkpoints need --allow-pickle too),
or a training checkpoint dict
with the state_dict under "state_dict", "model_state", "model_state_dict",
"model" or "net"; a "module." prefix (DataParallel) is removed. Then, in this
order: keys equal to a --drop entry or starting with "entry." are removed
(names as in IN), --rename replaces a leading OLD with NEW, --prefix is
prepended ("backbone" and "backbone." both give "backbone.conv1.weight"),
and --reshape gives a tensor (by its final name) a new shape of the same
size: a Linear layer becomes the convolution FCN makes of it, e.g. VGG-16's
fc6/fc7 for pixl's fcn8s:
    convert_pth.py vgg16-397923af.pth fcn_init.safetensors --drop classifier.6
        --rename features.=backbone.features.
        --reshape classifier.0.weight=4096,512,7,7 --reshape classifier.3.weight=4096,4096,1,1
(then model.options.pretrained: fcn_init.safetensors; the score and
upsampling layers keep their FCN initialisation).
Floating tensors are written as F32, integer buffers (num_batches_tracked)
keep their dtype; names and shapes are PyTorch's, which are pixl's.

Without --arch the result holds tensors only: pixl_checkpoint_load(P, OUT, ...)
loads it into parameters created by a builder (e.g. pixl__backbone_build with
prefix "backbone" for a torchvision ImageNet state_dict converted with
--prefix backbone. --drop fc). With --arch the metadata pixl_model_load()
reads is added (arch, n_classes, in_channels, width, variant, backbone,
output_stride, mean/std (default: ImageNet's, as torchvision weights expect),
input_size, class names/colours), so a state_dict of a whole segmentation
model converts into a loadable pixl model; pixl_model_load checks every
tensor's name and shape against the architecture and names what differs.

The file is written to OUT.tmp, flushed to disk and renamed over OUT.
"""
import argparse
import json
import os
import struct
import sys

import torch

STATE_KEYS = ("state_dict", "model_state", "model_state_dict", "model", "net")
DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL",
          torch.int16: "I16", torch.int8: "I8"}


def load_state_dict(path, allow_pickle=False):
    if not os.path.isfile(path):
        sys.exit("convert_pth: cannot read %s: no such file" % path)
    try:  # tensors and plain containers only: a .pth is a pickle, and a pickle can run code
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - report any unreadable file the same way
        if not allow_pickle:
            sys.exit("convert_pth: %s is not a plain state_dict/checkpoint (%s); if it holds pickled "
                     "objects (a whole nn.Module) and you trust it, add --allow-pickle" % (path, str(e).split(".")[0]))
        try:
            obj = torch.load(path, map_location="cpu")
        except Exception as e2:  # noqa: BLE001
            sys.exit("convert_pth: cannot read %s: %s" % (path, e2))
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for k in STATE_KEYS:
            if k in obj and isinstance(obj[k], dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict) or not obj:
        sys.exit("convert_pth: %s holds no state_dict (a %s)" % (path, type(obj).__name__))
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue  # e.g. an epoch counter stored next to the tensors
        sd[k[7:] if k.startswith("module.") else k] = v
    if not sd:
        sys.exit("convert_pth: %s holds no tensors" % path)
    return sd


def transform(sd, drop, renames, prefix, reshapes=()):
    out, dropped = {}, []
    for k, v in sd.items():
        if any(k == d or k.startswith(d + ".") for d in drop):
            dropped.append(k)
            continue
        for old, new in renames:
            if k.startswith(old):
                k = new + k[len(old):]
                break
        k = prefix + k
        if k in out:
            sys.exit("convert_pth: two tensors map to the name '%s'" % k)
        out[k] = v
    for name, shape in reshapes:
        if name not in out:
            sys.exit("convert_pth: --reshape %s: no such tensor after renaming (have e.g. %s)" % (
                name, ", ".join(list(out)[:3])))
        n = 1
        for d in shape:
            n *= d
        if n != out[name].numel():
            sys.exit("convert_pth: --reshape %s: %s has %d values, %s has %d" % (
                name, "x".join(map(str, out[name].shape)), out[name].numel(), "x".join(map(str, shape)), n))
        out[name] = out[name].reshape(shape)
    return out, dropped


def write_safetensors(path, tensors, meta):
    header, blobs, off = {"__metadata__": {str(k): str(v) for k, v in meta.items()}}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.to(torch.float32)
        if t.dtype not in DTYPES:
            sys.exit("convert_pth: tensor '%s' has dtype %s, which pixl does not read" % (name, t.dtype))
        b = t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        sys.exit("convert_pth: cannot write %s: %s" % (path, e))


def three(s, what):
    try:
        v = [float(x) for x in s.split(",")]
    except ValueError:
        v = []
    if len(v) != 3:
        sys.exit("convert_pth: %s takes three comma-separated numbers, got '%s'" % (what, s))
    return ",".join("%.9g" % x for x in v)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch state_dict -> pixl safetensors checkpoint")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--prefix", default="", help="prepended to every name (a trailing '.' is added if missing)")
    ap.add_argument("--drop", default="", help="comma-separated names/modules to leave out (e.g. fc,classifier)")
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW", help="replace a leading OLD by NEW")
    ap.add_argument("--allow-pickle", action="store_true",
                    help="also read files that need full unpickling (whole modules); only for trusted files")
    ap.add_argument("--reshape", action="append", default=[], metavar="NAME=D0,D1,..",
                    help="new shape (same size) for a tensor, by its final name")
    ap.add_argument("--arch", help="pixl architecture (adds the metadata pixl_model_load needs)")
    ap.add_argument("--n-classes", type=int)
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--variant", default="")
    ap.add_argument("--backbone", default="")
    ap.add_argument("--output-stride", type=int, default=0)
    ap.add_argument("--mean", default="0.485,0.456,0.406")
    ap.add_argument("--std", default="0.229,0.224,0.225")
    a = ap.parse_args(argv)
    prefix = a.prefix + "." if a.prefix and not a.prefix.endswith(".") else a.prefix
    drop = [d.strip().rstrip(".") for d in a.drop.split(",") if d.strip()]
    renames = []
    for r in a.rename:
        if "=" not in r:
            sys.exit("convert_pth: --rename takes OLD=NEW, got '%s'" % r)
        renames.append(tuple(r.split("=", 1)))
    reshapes = []
    for r in a.reshape:
        try:
            name, dims = r.split("=", 1)
            reshapes.append((name, [int(d) for d in dims.split(",")]))
        except ValueError:
            sys.exit("convert_pth: --reshape takes NAME=D0,D1,..., got '%s'" % r)
    sd = load_state_dict(a.input, a.allow_pickle)
    out, dropped = transform(sd, drop, renames, prefix, reshapes)
    if not out:
        sys.exit("convert_pth: nothing left after --drop %s" % a.drop)
    meta = {"converted_from": os.path.basename(a.input), "converter": "tools/convert_pth.py torch " + torch.__version__}
    if a.arch:
        if not a.n_classes or a.n_classes <= 0:
            sys.exit("convert_pth: --arch needs --n-classes K (K > 0)")
        meta.update({"arch": a.arch, "variant": a.variant, "n_classes": a.n_classes, "in_channels": a.in_channels,
                     "width": "%.9g" % a.width, "mean": three(a.mean, "--mean"), "std": three(a.std, "--std"),
                     "input_size": "0,0", "class_names": "[]", "class_colours": "[]", "backbone": a.backbone,
                     "output_stride": a.output_stride})
    elif a.n_classes:
        sys.exit("convert_pth: --n-classes is only used with --arch")
    write_safetensors(a.output, out, meta)
    n_par = sum(v.numel() for k, v in out.items() if v.is_floating_point() and not k.endswith(("running_mean", "running_var")))
    print("%s: %d tensors (%d dropped), %d floating values outside BN statistics%s" % (
        a.output, len(out), len(dropped), n_par, ", arch " + a.arch if a.arch else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
