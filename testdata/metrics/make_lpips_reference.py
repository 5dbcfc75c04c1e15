#!/usr/bin/env python3
"""Reference LPIPS-squeeze values for core/metrics (metric.lpips), computed with PyTorch.

Run with Debian's python3-torch (apt-get install python3-torch python3-pil):

    /usr/bin/python3 testdata/metrics/make_lpips_reference.py [WEIGHTS] > testdata/metrics/lpips_reference.json

WEIGHTS defaults to ../shared/weights/lpips-squeeze-v0.1.safetensors (relative to the
repository root). torchvision and the lpips package are not needed: the safetensors file is
parsed here and the network is written with torch.nn.functional, following torchvision's
squeezenet1_1().features and lpips.LPIPS(net='squeeze', version='0.1').forward(x, y,
normalize=True) line by line. Inputs are generated with a seeded numpy RNG (plus one CIFAR-10
dog photo when the shared data is present), rounded to float32 and stored in the JSON (HWC,
row-major, flattened). Each case has the float32 value (how LPIPS runs) and a float64 one.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_WEIGHTS = os.path.join(ROOT, "..", "shared", "weights", "lpips-squeeze-v0.1.safetensors")
DOG = os.path.join(ROOT, "..", "shared", "data", "cifar10-dog", "test", "dog", "0000.jpg")


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", (name, info["dtype"])
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


FIRES = [(2, 3), (2, 4), (3, 6), (3, 7), (4, 9), (5, 10), (6, 11), (7, 12)]


def fire(w, prefix, x):
    s = F.relu(F.conv2d(x, w[prefix + ".squeeze.weight"], w[prefix + ".squeeze.bias"]))
    e1 = F.relu(F.conv2d(s, w[prefix + ".expand1x1.weight"], w[prefix + ".expand1x1.bias"]))
    e3 = F.relu(F.conv2d(s, w[prefix + ".expand3x3.weight"], w[prefix + ".expand3x3.bias"], padding=1))
    return torch.cat([e1, e3], 1)


def squeeze_taps(w, x):
    """The seven LPIPS slices of torchvision's squeezenet1_1().features."""
    taps = []
    h = F.relu(F.conv2d(x, w["net.slice1.0.weight"], w["net.slice1.0.bias"], stride=2))
    taps.append(h)                                             # features[0:2]
    h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    h = fire(w, "net.slice2.4", fire(w, "net.slice2.3", h))
    taps.append(h)                                             # features[2:5]
    h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    h = fire(w, "net.slice3.7", fire(w, "net.slice3.6", h))
    taps.append(h)                                             # features[5:8]
    h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    h = fire(w, "net.slice4.9", h)
    taps.append(h)                                             # features[8:10]
    for s, i in [(5, 10), (6, 11), (7, 12)]:
        h = fire(w, "net.slice%d.%d" % (s, i), h)
        taps.append(h)                                         # features[10:11] .. [12:13]
    return taps


def head(w, k):
    name = "lin%d.model.1.weight" % k
    return w[name] if name in w else w["lins.%d.model.1.weight" % k]


def lpips(w, x0, x1):
    """lpips.LPIPS(net='squeeze').forward(x0, x1, normalize=True) for NCHW x in [0, 1]."""
    x0, x1 = 2 * x0 - 1, 2 * x1 - 1
    shift, scale = w["scaling_layer.shift"], w["scaling_layer.scale"]
    t0, t1 = squeeze_taps(w, (x0 - shift) / scale), squeeze_taps(w, (x1 - shift) / scale)
    val = 0
    for k in range(7):
        f0 = t0[k] / (torch.sqrt(torch.sum(t0[k] ** 2, dim=1, keepdim=True)) + 1e-10)
        f1 = t1[k] / (torch.sqrt(torch.sum(t1[k] ** 2, dim=1, keepdim=True)) + 1e-10)
        val = val + F.conv2d((f0 - f1) ** 2, head(w, k)).mean([2, 3], keepdim=True)
    return val.reshape(-1)


def pattern(h, w, c, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, c))
    for ch in range(c):
        fy, fx, ph = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4), rng.uniform(0, 6.3)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        v = 0.35 + 0.2 * np.sin(fy * y + fx * x + ph)
        v += 0.4 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * (0.2 * min(h, w)) ** 2))
        v += 0.15 * (x > w * (0.3 + 0.1 * ch))
        out[..., ch] = v
    return np.clip(out, 0, 1)


def short(a):
    return [float(str(v)) for v in a.ravel()]


def make_case(w, name, ref, noise, seed):
    rng = np.random.default_rng(seed)
    img = ref + noise * rng.standard_normal(ref.shape)
    ref, img = ref.astype(np.float32), img.astype(np.float32)
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(
        np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        v32 = lpips(w, nchw(ref), nchw(img)).item()
        w64 = {k: v.double() for k, v in w.items()}
        v64 = lpips(w64, nchw(ref).double(), nchw(img).double()).item()
    h, wd, c = ref.shape
    return {"name": name, "h": h, "w": wd, "c": c, "ref": short(ref), "img": short(img),
            "lpips": v32, "lpips_f64": v64}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_WEIGHTS
    w, meta = read_safetensors(path)
    torch.set_num_threads(1)
    rng = np.random.default_rng(2024)
    cases = [
        make_case(w, "gray28_noise0.1", pattern(28, 28, 1, rng), 0.1, 1),
        make_case(w, "rgb32_noise0.05", pattern(32, 32, 3, rng), 0.05, 2),
        make_case(w, "rgb20x37_noise0.2", pattern(20, 37, 3, rng), 0.2, 3),
        make_case(w, "gray17_minimal_noise0.1", pattern(17, 17, 1, rng), 0.1, 4),
        make_case(w, "rgb64x48_noise0.1", pattern(64, 48, 3, rng), 0.1, 5),
    ]
    if os.path.exists(DOG):
        from PIL import Image
        dog = np.asarray(Image.open(DOG).convert("RGB"), dtype=np.float64) / 255
        cases.append(make_case(w, "cifar_dog0000_noise0.1", dog, 0.1, 6))
    json.dump({
        "generator": "testdata/metrics/make_lpips_reference.py",
        "torch_version": torch.__version__,
        "weights": os.path.basename(path),
        "weights_metadata": meta,
        "call": "lpips.LPIPS(net='squeeze', version='0.1')(ref, img, normalize=True), re-implemented with torch.nn.functional",
        "layout": "HWC, row-major, flattened float32 values in [0,1] (noise not clipped); gray is copied to RGB",
        "cases": cases,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
