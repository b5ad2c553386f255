"""Deterministic parameter values shared with tests/zoo_fill.c (see zoo_fill.h for
the rule), so reference outputs of large networks can be committed without weights.

    import zoo_fill; zoo_fill.fill_(model)   # every float parameter and buffer
"""
import numpy as np
import torch


def _fnv1a32(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def _mix32(h):
    h = h.astype(np.uint64)
    h ^= h >> np.uint64(16); h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13); h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    return h


def values(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    key = (i * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    u = _mix32(np.uint64(_fnv1a32(name)) ^ key).astype(np.float64) / 4294967296.0
    if name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("running_mean"):
        v = 0.2 * (2 * u - 1)
    elif len(shape) <= 1:
        v = 1 + 0.2 * (2 * u - 1) if name.endswith("weight") else 0.1 * (2 * u - 1)
    else:
        v = (2 * u - 1) * np.sqrt(3.0 / (n / shape[0]))
    return v.astype(np.float32).reshape(shape)


@torch.no_grad()
def fill_(model):
    """Fill every floating-point parameter and buffer of model (by state_dict name)."""
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            t.copy_(torch.from_numpy(values(name, tuple(t.shape))).to(t.dtype))
    return model
