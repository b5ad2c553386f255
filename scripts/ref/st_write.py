"""Write (and read) safetensors files by hand (Debian has no
python3-safetensors); the one writer of every scripts/ref/make_*_ref.py.

read(path) -> (metadata dict, dict name -> numpy array), in file order.

write(path, tensors, metadata=None)
  tensors: dict name -> array, or a list of (name, array) pairs, in file
  order; an array is a numpy array or a torch tensor and keeps its dtype
  (float64 -> F64, int64 -> I64, float32 -> F32, bfloat16 -> BF16 ...).
  metadata: dict, values converted with str(). Written to PATH.tmp, then
  renamed over PATH.
"""
import json
import os
import struct

import numpy as np

_NP = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
       np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
       np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL"}


def _dtype_and_bytes(a):
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().contiguous().cpu()
        if str(a.dtype) == "torch.bfloat16":  # numpy has no bfloat16: the raw bits
            import torch
            return "BF16", list(a.shape), a.view(torch.int16).numpy().tobytes()
        a = a.numpy()
    a = np.asarray(a)  # (np.ascontiguousarray would turn a 0-dim array into shape [1])
    if not a.flags.c_contiguous:
        a = a.copy()
    return _NP[a.dtype], list(a.shape), a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def write(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    items = tensors.items() if isinstance(tensors, dict) else tensors
    for name, a in items:
        dt, shape, b = _dtype_and_bytes(a)
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


_ST = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
       "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", {}) or {}
    out = {}
    for name, v in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=_ST[v["dtype"]]).reshape(v["shape"]).copy()
    return meta, out
