"""Check the PyTorch definitions of make_zoo_plain_ref.py (which pixl's parity
tests use) against pytorch-semseg's own code: same state_dict (names and
shapes, hence the same parameter count) and the same outputs with the same
weights. Needs a checkout of https://github.com/meetshah1995/pytorch-semseg
(only ptsemseg/models/{utils,unet,frrn,icnet}.py are loaded; its package
__init__ files and the caffe/loss imports of icnet.py are bypassed).

    /usr/bin/python3 scripts/ref/check_plain_vs_semseg.py PATH/TO/pytorch-semseg

Checked:
  unet(feature_scale=4, is_batchnorm=False/True) == UNetValid(width 0.25, bn) on a
      mirrored input (pytorch-semseg has no border handling: its output is the
      valid 16k-60 window, which pixl crops to the input after mirroring);
  frrn(model_type A/B, group_norm False/True) == FRRN(kind, gn) at a size divisible
      by the largest scale (pixl pads other sizes);
  icnet(is_batchnorm=True): the state_dict equals ours plus the four unused
      pyramidPooling.path_module_list convs; in training mode (its eval mode only
      runs at 1025x2049) the three outputs equal ours at 161x161 (a size where its
      interpolation rule and pixl's agree).
"""
import importlib.util
import os
import sys
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_zoo_plain_ref as ours  # noqa: E402
import zoo_fill  # noqa: E402


def load_semseg(root):
    pkg = types.ModuleType("ptsemseg")
    pkg.__path__ = [os.path.join(root, "ptsemseg")]
    models = types.ModuleType("ptsemseg.models")
    models.__path__ = [os.path.join(root, "ptsemseg", "models")]
    loss = types.ModuleType("ptsemseg.loss")
    loss_loss = types.ModuleType("ptsemseg.loss.loss")
    loss_loss.multi_scale_cross_entropy2d = None
    sys.modules.update({"ptsemseg": pkg, "ptsemseg.models": models, "ptsemseg.caffe_pb2": types.ModuleType("c"),
                        "ptsemseg.loss": loss, "ptsemseg.loss.loss": loss_loss})
    pkg.caffe_pb2 = sys.modules["ptsemseg.caffe_pb2"]
    out = {}
    for name in ("utils", "unet", "frrn", "icnet"):
        spec = importlib.util.spec_from_file_location("ptsemseg.models." + name,
                                                      os.path.join(root, "ptsemseg", "models", name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["ptsemseg.models." + name] = mod
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def state(m):
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def same_state(a, b, what, extra_in_a=()):
    sa, sb = state(a), state(b)
    for k in extra_in_a:
        sa = {n: s for n, s in sa.items() if not n.startswith(k)}
    assert sa == sb, f"{what}: state_dicts differ: {set(sa) ^ set(sb)}"


def close(a, b, what):
    err = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
    assert err < 1e-5, f"{what}: relative error {err}"
    return err


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    ss = load_semseg(sys.argv[1])
    torch.manual_seed(0)
    # --- U-Net
    for bn in (False, True):
        a = ss["unet"].unet(feature_scale=4, n_classes=3, is_deconv=True, in_channels=3, is_batchnorm=bn)
        b = ours.UNetValid(3, 0.25, bn)
        same_state(a, b, f"unet bn={bn}")
        zoo_fill.fill_(a).eval()
        zoo_fill.fill_(b).eval()
        x = torch.randn(1, 3, 100, 100)
        xp = F.pad(x, [92, 92, 92, 92], mode="reflect")  # 284 = 16*10+124, as UNetValid mirrors 100
        with torch.no_grad():
            err = close(b(x), a(xp)[:, :, :100, :100], f"unet bn={bn}")
        print(f"unet (is_batchnorm={bn}): state_dict equal, {sum(p.numel() for p in a.parameters())} parameters, "
              f"output rel. error {err:.1e}")
    # --- FRRN
    for kind in ("A", "B"):
        for gn in (False, True):
            a = ss["frrn"].frrn(n_classes=4, model_type=kind, group_norm=gn, n_groups=16)
            b = ours.FRRN(4, kind, gn=gn)
            same_state(a, b, f"frrn {kind} gn={gn}")
            zoo_fill.fill_(a).eval()
            zoo_fill.fill_(b).eval()
            x = torch.randn(1, 3, 64, 64)
            with torch.no_grad():
                err = close(b(x), a(x), f"frrn {kind} gn={gn}")
            print(f"frrn{kind} (group_norm={gn}): state_dict equal, {sum(p.numel() for p in a.parameters())} "
                  f"parameters, output rel. error {err:.1e}")
    # --- ICNet
    a = ss["icnet"].icnet(n_classes=3, is_batchnorm=True)
    b = ours.ICNet(3)
    same_state(a, b, "icnet", extra_in_a=("pyramid_pooling.",))
    na, nb = sum(p.numel() for p in a.parameters()), sum(p.numel() for p in b.parameters())
    assert na - nb == ours.PPM_UNUSED, (na, nb)
    zoo_fill.fill_(a).train()
    zoo_fill.fill_(b).train()
    ours.STRICT = True
    x = torch.randn(2, 3, 161, 161)
    with torch.no_grad():
        ya = a(x)  # (sub124_cls at 1/4, sub24_cls, sub4_cls)
        yb, aux24, aux4 = b(x, with_aux=True)
        e24, e4 = close(aux24, ya[1], "icnet sub24"), close(aux4, ya[2], "icnet sub4")
        # ours resizes sub124 to the input; pytorch-semseg's eval does the same (z_factor 4, align_corners)
        main = F.interpolate(ya[0], size=(161, 161), mode="bilinear", align_corners=True)
        e0 = close(yb, main, "icnet main")
    print(f"icnet (is_batchnorm=True): state_dict equal except pyramid_pooling.path_module_list "
          f"({na} vs {nb} parameters, difference {na - nb} = the unused convs), train-mode outputs rel. error "
          f"{e0:.1e} / {e24:.1e} / {e4:.1e}")


if __name__ == "__main__":
    main()
