#!/usr/bin/env python3
"""Reference SSIM values for core/metrics (metric.ssim), from scikit-image.

Run with Debian's python3-skimage (apt-get install python3-skimage python3-numpy):

    /usr/bin/python3 testdata/metrics/make_ssim_reference.py > testdata/metrics/ssim_reference.json

The input images are generated here with a seeded numpy RNG, rounded to float32 and stored in
the JSON (HWC order, row-major, flattened), so the Go test reads exactly the pixels that
scikit-image saw. SSIM is computed in float64 from those float32 values with

    structural_similarity(ref, img, gaussian_weights=True, sigma=1.5,
                          use_sample_covariance=False, data_range=R, channel_axis=-1)
"""
import json
import sys

import numpy as np
import skimage
from skimage.metrics import structural_similarity


def pattern(h, w, c, rng):
    """A smooth 'natural-looking' image in [0, 1]: sinusoids, a blob and an edge."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, c))
    for ch in range(c):
        fy, fx, ph = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), rng.uniform(0, 6.3)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        v = 0.35 + 0.2 * np.sin(fy * y + fx * x + ph)
        v += 0.4 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * (0.2 * min(h, w)) ** 2))
        v += 0.15 * (x > w * (0.3 + 0.1 * ch))
        out[..., ch] = v
    return np.clip(out, 0, 1)


def short(a):
    """The float32 values of a in their shortest decimal form (exact when read back as float32)."""
    return [float(str(v)) for v in a.ravel()]


def case(name, h, w, c, noise, seed, clip=False, data_range=1.0, scale=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    ref = pattern(h, w, c, rng)
    img = ref + noise * rng.standard_normal(ref.shape)
    if clip:
        img = np.clip(img, 0, 1)
    ref, img = ref * scale + offset, img * scale + offset
    ref, img = ref.astype(np.float32), img.astype(np.float32)
    ssim = structural_similarity(
        ref.astype(np.float64), img.astype(np.float64), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=data_range, channel_axis=-1)
    return {
        "name": name, "h": h, "w": w, "c": c, "data_range": data_range,
        "ref": short(ref),
        "img": short(img),
        "ssim": float(ssim),
    }


def main():
    cases = [
        case("gray28_noise0.1", 28, 28, 1, 0.1, 1),
        case("gray28_noise0.3_clipped", 28, 28, 1, 0.3, 2, clip=True),
        case("gray28_noise0.02", 28, 28, 1, 0.02, 3),
        case("rgb32_noise0.05", 32, 32, 3, 0.05, 4),
        case("gray20x37_noise0.1", 20, 37, 1, 0.1, 5),
        case("rgb11x13_minimal", 11, 13, 3, 0.1, 6),
        case("gray28_range2_[-1,1]", 28, 28, 1, 0.1, 7, data_range=2.0, scale=2.0, offset=-1.0),
    ]
    json.dump({
        "generator": "testdata/metrics/make_ssim_reference.py",
        "skimage_version": skimage.__version__,
        "numpy_version": np.__version__,
        "call": "structural_similarity(ref, img, gaussian_weights=True, sigma=1.5, "
                "use_sample_covariance=False, data_range=R, channel_axis=-1)",
        "layout": "HWC, row-major, flattened float32 values",
        "cases": cases,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
