#!/usr/bin/python3
"""make_act6_ref.py - reference cases for pixl_hardtanh / pixl_relu6
(MobileNetV2's activation), made by PyTorch in float64 with the case writer
of make_elem_ref.py: tests/ref/elem/{hardtanh_default,hardtanh_range,relu6}.safetensors
(op = Hardtanh / ReLU6, checked by tools/check/torch_zoo_act.c). Inputs are
spaced 0.05 apart from -6.3 to 6.3, so no value sits on a bound.

Usage: /usr/bin/python3 scripts/ref/make_act6_ref.py
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_elem_ref as E  # noqa: E402

E.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref", "elem")
E.MADE_BY = "scripts/ref/make_act6_ref.py, torch " + torch.__version__

if __name__ == "__main__":
    g = torch.Generator().manual_seed(66)
    E.make_module("hardtanh_default", nn.Hardtanh, {}, E.spaced((2, 3, 6, 7), g), g)
    E.make_module("hardtanh_range", nn.Hardtanh, {"min_val": -2.5, "max_val": 1.5}, E.spaced((2, 3, 6, 7), g), g)
    E.make_module("relu6", nn.ReLU6, {}, E.spaced((2, 3, 6, 7), g), g)
