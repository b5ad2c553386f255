#!/usr/bin/python3
"""make_detection_ref.py - reference cases for pixl's detection ops
(src/ops/roi.c, src/ops/boxes.c), made by torchvision.ops (Debian's
python3-torchvision 0.14 on PyTorch 1.13) in float64.

Writes tests/ref/detection/*.safetensors in the case format of
../shared/golden/README.md (torchvision/ section: `op` is the function name
in torchvision.ops, `params` its keyword arguments, `inputs` its positional
tensors; roi ops carry `grad_output` and `grad.input`, the IoU ops
`grad.boxes1` and `grad.boxes2`; nms outputs are int64
index lists compared exactly).

Shapes differ from ../shared/golden/torchvision: other channel counts,
output sizes and spatial scales, boxes on and across the borders, a
degenerate box, adaptive and fixed sampling grids; NMS with equal scores
(the stable order) and categories whose boxes coincide; IoU of identical,
nested, touching and disjoint boxes, with gradients. NMS cases are drawn again until no pair's IoU lies
within 1e-3 of the threshold.

BoxCoder (torchvision.models.detection._utils, not in torchvision.ops):
`box_encode(reference_boxes, proposals)` is BoxCoder(weights).encode_single,
`box_decode(rel_codes, boxes)` is decode_single; params {"weights": [wx, wy,
ww, wh]}; gradients grad.reference_boxes / grad.proposals and grad.rel_codes
/ grad.boxes. Boxes from 0.25 to ~50 wide, several classes per box in
decode, and a decode case where some dw, dh lie above bbox_xform_clip
(log(1000/16); at least 0.3 away from it: torch.clamp's gradient is 0 there).
These cases draw from their own generator, so the cases above are unchanged.

Usage: /usr/bin/python3 scripts/ref/make_detection_ref.py [OUTDIR]
"""
import json
import os
import sys

import torch
import torchvision
from torchvision import ops
from torchvision.models.detection._utils import BoxCoder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ref",
                                                         "detection")
MADE_BY = "scripts/ref/make_detection_ref.py, torchvision " + torchvision.__version__ + ", torch " + torch.__version__


def f32(t):
    """float32-representable float64 values"""
    return t.float().double()


def uniform(shape, g, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def spaced(shape, g):
    """distinct values 0.05 apart in random order (no ties for roi_pool's maximum)"""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=g).double()
    return f32(((perm - n // 2) * 0.05 + 0.025).reshape(shape))


def meta(op, params, inputs):
    return {"op": op, "params": json.dumps(params), "inputs": json.dumps(inputs), "rtol_f32": "1e-4",
            "atol_f32": "1e-5", "made_by": MADE_BY}


def write(name, m, tensors):
    st_write.write(os.path.join(OUT, name + ".safetensors"), tensors, m)
    print(name, [(n, tuple(t.shape)) for n, t in tensors])


def roi_case(name, op, params, x, boxes, g):
    xi = x.clone().requires_grad_(True)
    y = getattr(ops, op)(xi, boxes, **params)
    gy = uniform(y.shape, g)
    (y * gy).sum().backward()
    write(name, meta(op, params, ["input", "boxes"]),
          [("input", x), ("boxes", boxes), ("output", y.detach()), ("grad_output", gy), ("grad.input", xi.grad)])


def boxes_on(batch, rows):
    return f32(torch.tensor([[b] + list(r) for b, r in zip(batch, rows)], dtype=torch.float64))


def iou_margin_ok(boxes, thr):
    iou = ops.box_iou(boxes, boxes)
    iou.fill_diagonal_(-1.0)
    return bool(((iou - thr).abs() > 1e-3).all())


def random_boxes(n, g, size=40.0, lo=3.0, hi=14.0):
    xy = uniform((n, 2), g, 0.0, size)
    wh = uniform((n, 2), g, lo, hi)
    return f32(torch.cat([xy, xy + wh], 1))


def nms_case(name, n, thr, g, batched=False, ties=False, ncat=3, size=40.0):
    for _ in range(1000):
        boxes = random_boxes(n, g, size=size)
        if ties:  # a few score levels: many equal scores
            scores = f32(torch.randint(0, 4, (n,), generator=g).double() * 0.25 + 0.1)
        else:
            scores = uniform((n,), g, 0.0, 1.0)
        if iou_margin_ok(boxes, thr) and (ties or len(set(scores.tolist())) == n):
            break
    else:
        raise RuntimeError(name + ": no draw keeps every IoU 1e-3 away from the threshold")
    if batched:
        idxs = torch.randint(0, ncat, (n,), generator=g)
        # two categories with the same box: only the category keeps them apart
        boxes[1] = boxes[0]
        idxs[1] = (idxs[0] + 1) % ncat
        keep = ops.batched_nms(boxes, scores, idxs, thr)
        write(name, meta("batched_nms", {"iou_threshold": thr}, ["boxes", "scores", "idxs"]),
              [("boxes", boxes), ("scores", scores), ("idxs", idxs), ("output", keep)])
    else:
        keep = ops.nms(boxes, scores, thr)
        write(name, meta("nms", {"iou_threshold": thr}, ["boxes", "scores"]),
              [("boxes", boxes), ("scores", scores), ("output", keep)])


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(2024)

    # --- roi_align / roi_pool: a 2 x C x 15 x 12 map of an image 4x larger (spatial_scale 0.25)
    rows = [(0.0, 0.0, 47.0, 59.0),       # the whole image
            (-9.0, -5.5, 14.25, 20.0),    # across the top-left corner
            (30.5, 41.0, 55.0, 70.0),     # across the bottom-right corner, past the map
            (44.0, 2.0, 47.5, 57.0),      # a thin box on the right border
            (12.0, 12.0, 12.5, 12.25),    # degenerate (smaller than a cell)
            (60.0, 70.0, 80.0, 90.0),     # wholly outside
            (5.0, 30.0, 41.0, 58.75)]
    boxes = boxes_on([0, 1, 0, 1, 1, 0, 1], rows)
    for name, ch, params in [
        ("roi_align_c5_5x3_s025_adaptive_aligned", 5,
         {"output_size": [5, 3], "spatial_scale": 0.25, "sampling_ratio": 0, "aligned": True}),
        ("roi_align_c5_5x3_s025_adaptive", 5,
         {"output_size": [5, 3], "spatial_scale": 0.25, "sampling_ratio": -1, "aligned": False}),
        ("roi_align_c2_7_s025_grid3", 2,
         {"output_size": 7, "spatial_scale": 0.25, "sampling_ratio": 3, "aligned": False}),
        ("roi_align_c6_2x6_s025_grid1_aligned", 6,
         {"output_size": [2, 6], "spatial_scale": 0.25, "sampling_ratio": 1, "aligned": True}),
    ]:
        roi_case(name, "roi_align", params, uniform((2, ch, 15, 12), g), boxes, g)
    for name, ch, params in [
        ("roi_pool_c5_5x3_s025", 5, {"output_size": [5, 3], "spatial_scale": 0.25}),
        ("roi_pool_c2_2_s025", 2, {"output_size": 2, "spatial_scale": 0.25}),
    ]:
        roi_case(name, "roi_pool", params, spaced((2, ch, 15, 12), g), boxes, g)
    # feature-map coordinates (spatial_scale 1), one image, boxes on every border
    rows1 = [(0.0, 0.0, 9.0, 10.0), (-0.75, 3.0, 2.5, 10.5), (6.5, -1.25, 10.25, 4.0), (2.0, 2.0, 7.0, 8.0)]
    boxes1 = boxes_on([0, 0, 0, 0], rows1)
    roi_case("roi_align_c3_4x4_s1_adaptive_aligned", "roi_align",
             {"output_size": 4, "spatial_scale": 1.0, "sampling_ratio": -1, "aligned": True},
             uniform((1, 3, 11, 10), g), boxes1, g)
    roi_case("roi_pool_c3_3x2_s1", "roi_pool", {"output_size": [3, 2], "spatial_scale": 1.0},
             spaced((1, 3, 11, 10), g), boxes1, g)

    # --- nms / batched_nms
    nms_case("nms_n25_t045", 25, 0.45, g, size=12.0)
    nms_case("nms_n30_t06_ties", 30, 0.6, g, ties=True, size=6.0)
    nms_case("nms_n20_t02", 20, 0.2, g, size=30.0)
    nms_case("batched_nms_n30_t04", 30, 0.4, g, batched=True, size=8.0)
    nms_case("batched_nms_n24_t05_ties", 24, 0.5, g, batched=True, ties=True, ncat=2, size=6.0)

    # --- box_iou / generalized_box_iou: identical, nested, touching, disjoint
    b1 = f32(torch.tensor([[0, 0, 10, 10], [2, 2, 4, 4], [10, 0, 20, 10], [-5, -5, 0.5, 0.5],
                           [3.25, 1.5, 7.75, 19.0], [30, 30, 31, 32]], dtype=torch.float64))
    b2 = torch.cat([b1[:3], random_boxes(6, g, size=25.0, lo=0.5, hi=12.0)])
    for op in ("box_iou", "generalized_box_iou"):
        x1, x2 = b1.clone().requires_grad_(True), b2.clone().requires_grad_(True)
        y = getattr(ops, op)(x1, x2)
        gy = uniform(y.shape, g)
        (y * gy).sum().backward()
        write(op + "_6x9", meta(op, {}, ["boxes1", "boxes2"]),
              [("boxes1", b1), ("boxes2", b2), ("output", y.detach()), ("grad_output", gy),
               ("grad.boxes1", x1.grad), ("grad.boxes2", x2.grad)])

    coder_cases()


def varied_boxes(n, g, size=50.0):
    """boxes 0.25 .. ~50 wide and high, anywhere in [-size/2, size]"""
    xy = uniform((n, 2), g, -size / 2, size)
    wh = f32(torch.exp(uniform((n, 2), g, 0.0, 1.0) * (torch.log(torch.tensor(50.0)) - torch.log(torch.tensor(0.25)))
                       + torch.log(torch.tensor(0.25))))
    return f32(torch.cat([xy, xy + wh], 1))


def coder_case(name, op, weights, a, b, g):
    names = ["reference_boxes", "proposals"] if op == "box_encode" else ["rel_codes", "boxes"]
    coder = BoxCoder(tuple(weights))
    xa, xb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    y = coder.encode_single(xa, xb) if op == "box_encode" else coder.decode_single(xa, xb)
    gy = uniform(y.shape, g)
    (y * gy).sum().backward()
    write(name, meta(op, {"weights": list(weights)}, names),
          [(names[0], a), (names[1], b), ("output", y.detach()), ("grad_output", gy),
           ("grad." + names[0], xa.grad), ("grad." + names[1], xb.grad)])


def coder_cases():
    g = torch.Generator().manual_seed(2025)
    clip = BoxCoder((1.0, 1.0, 1.0, 1.0)).bbox_xform_clip
    # encode: ground truth near its proposal (as the matcher pairs them) and far from it
    prop = varied_boxes(8, g)
    ref = varied_boxes(8, g)
    ref[:4] = f32(prop[:4] + uniform((4, 4), g, -0.2, 0.2) * (prop[:4, 2:] - prop[:4, :2]).repeat(1, 2))
    ref[:4] = f32(torch.cat([torch.minimum(ref[:4, :2], ref[:4, 2:] - 0.1), ref[:4, 2:]], 1))
    coder_case("box_encode_n8_w10_10_5_5", "box_encode", [10.0, 10.0, 5.0, 5.0], ref, prop, g)
    coder_case("box_encode_n8_w2_05_3_15", "box_encode", [2.0, 0.5, 3.0, 1.5], ref, prop, g)
    # decode: 3 classes per box, the box head's weights
    codes = uniform((7, 12), g, -3.0, 3.0)
    coder_case("box_decode_n7_c3_w10_10_5_5", "box_decode", [10.0, 10.0, 5.0, 5.0], codes, varied_boxes(7, g), g)
    # decode with the clamp active on some dw, dh (weights 1: codes are the deltas)
    for _ in range(1000):
        codes = uniform((6, 8), g, -2.0, 7.0)
        wh = codes.reshape(6, 2, 4)[:, :, 2:]
        if bool(((wh - clip).abs() > 0.3).all()) and int((wh > clip).sum()) >= 4 and int((wh < clip).sum()) >= 4:
            break
    else:
        raise RuntimeError("box_decode clamp: no draw with dw, dh 0.3 away from the clip")
    boxes = varied_boxes(6, g, size=10.0) * 0.1
    coder_case("box_decode_n6_c2_w1_clamp", "box_decode", [1.0, 1.0, 1.0, 1.0], codes, f32(boxes), g)


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
