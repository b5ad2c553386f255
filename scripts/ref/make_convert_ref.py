#!/usr/bin/python3
"""make_convert_ref.py - cases for tools/convert_pth.py (PyTorch state_dict ->
pixl checkpoint), checked by tests/test_zoo_backbones.c.

Default: a small whole model. SegNet-Basic of ../shared/anchors/seg_models.py
(width 8, 5 classes, PyTorch's own random initialisation, perturbed BN
statistics) is saved as a training checkpoint the way training scripts do
({"epoch", "state_dict" with DataParallel's "module." prefix, an extra
"aux_head" module, "optimizer"}), converted with
    convert_pth.py IN.pth tests/ref/zoo/convert_segnet_basic.safetensors
        --drop aux_head --allow-pickle --arch segnet_basic --n-classes 5 --width 0.125 --mean .. --std ..
and its eval output on a fixed input is written to
tests/ref/zoo/convert_segnet_basic_io.safetensors (input, output, mean, std).
The C test loads the converted file with pixl_model_load() and compares.

--torchvision DIR (make check-convert): a torchvision resnet18 state_dict
(fc included) filled with the zoo_fill values of the names it has inside the
"resnet18" zoo model (backbone.conv1.weight ...), saved as DIR/resnet18.pth and
converted with --prefix backbone. --drop fc into DIR/resnet18_backbone.safetensors;
the C test (PIXL_CONVERT_DIR=DIR) loads that into pixl_backbone_build's
parameters and compares the features with tests/ref/zoo/resnet18.safetensors.
Likewise a torchvision vgg16 (features + classifier, filled with the values of
the names fcn8s gives them) becomes DIR/fcn8s_init.safetensors by --rename
features.=backbone.features. --drop classifier.6 and --reshape of fc6/fc7
into convolutions; the C test loads it with pixl_checkpoint_load_subset into
an fcn8s whose other tensors are filled, and compares with
tests/ref/zoo/fcn8s.safetensors.
"""
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import st_write  # noqa: E402
import zoo_fill  # noqa: E402

CONVERT = os.path.join(ROOT, "tools", "convert_pth.py")
OUT = os.path.join(ROOT, "tests", "ref", "zoo")


def convert(*args):
    subprocess.run([sys.executable, CONVERT, *args], check=True)


def small_model():
    sys.path.insert(0, os.path.join(ROOT, "..", "shared", "anchors"))
    import seg_models  # noqa: E402
    torch.manual_seed(3)
    m = seg_models.SegNetBasic(num_classes=5, width=8).eval()
    with torch.no_grad():
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        y = m(x)
    sd = {"module." + k: v for k, v in m.state_dict().items()}
    sd["module.aux_head.weight"] = torch.randn(5, 8, 1, 1)
    sd["module.aux_head.bias"] = torch.randn(5)
    ckpt = {"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}
    mean, std = "0.39,0.41,0.43", "0.3,0.31,0.32"
    with tempfile.TemporaryDirectory() as d:
        pth = os.path.join(d, "segnet_basic_train.pth")
        torch.save(ckpt, pth)
        convert(pth, os.path.join(OUT, "convert_segnet_basic.safetensors"), "--drop", "aux_head", "--allow-pickle",
                "--arch", "segnet_basic", "--n-classes", "5", "--width", "0.125", "--mean", mean, "--std", std)
    st_write.write(os.path.join(OUT, "convert_segnet_basic_io.safetensors"), {"input": x, "output": y},
                   {"made_by": "scripts/ref/make_convert_ref.py torch " + torch.__version__})
    print("convert_segnet_basic: %d parameters" % sum(p.numel() for p in m.parameters()))


def torchvision_case(d):
    import torchvision
    m = torchvision.models.resnet18()
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.from_numpy(zoo_fill.values("backbone." + name, tuple(t.shape))))
    os.makedirs(d, exist_ok=True)
    pth = os.path.join(d, "resnet18.pth")
    torch.save(m.state_dict(), pth)
    convert(pth, os.path.join(d, "resnet18_backbone.safetensors"), "--prefix", "backbone.", "--drop", "fc")
    # VGG-16 -> FCN initialisation (fc6/fc7 as convolutions); the fill uses pixl's fcn8s names,
    # which keep torchvision's classifier.0 / classifier.3 and only prefix the features
    v = torchvision.models.vgg16()
    with torch.no_grad():
        for name, t in v.state_dict().items():
            pname = "backbone." + name if name.startswith("features.") else name
            t.copy_(torch.from_numpy(zoo_fill.values(pname, tuple(t.shape))))
    pth = os.path.join(d, "vgg16.pth")
    torch.save(v.state_dict(), pth)
    del v
    convert(pth, os.path.join(d, "fcn8s_init.safetensors"), "--drop", "classifier.6",
            "--rename", "features.=backbone.features.",
            "--reshape", "classifier.0.weight=4096,512,7,7", "--reshape", "classifier.3.weight=4096,4096,1,1")
    os.unlink(pth)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--torchvision":
        torchvision_case(sys.argv[2])
    elif len(sys.argv) == 1:
        small_model()
    else:
        sys.exit("usage: make_convert_ref.py [--torchvision DIR]")
