"""How close an output is to an ideal resize: PSNR (RGB) and SSIM (luma, 7x7 windows) against a
reference made with Pillow's Lanczos filter from the fully decoded source, with the same geometry
(``imgqueue.geometry``) and no lossy encoding. Alpha is flattened onto white on both sides."""

from __future__ import annotations

import io
import math
from functools import cache

import numpy as np
from PIL import Image, ImageOps

from imgqueue.geometry import compute_geometry
from imgqueue.spec import ResizeSpec

_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
_WINDOW = 7


def _rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return im.convert("RGB")


@cache
def reference(data: bytes, spec: ResizeSpec) -> Image.Image:
    """The ideal output: full decode, EXIF orientation, the geometry's crop, one Lanczos pass."""
    with Image.open(io.BytesIO(data)) as im:
        upright = _rgb(ImageOps.exif_transpose(im) or im)
    geo = compute_geometry(upright.width, upright.height, spec)
    w, h = upright.size
    box = (geo.box[0] * w, geo.box[1] * h, geo.box[2] * w, geo.box[3] * h)
    return upright.resize(geo.size, Image.Resampling.LANCZOS, box=box)


def _box_mean(x: np.ndarray) -> np.ndarray:
    c = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    n = _WINDOW
    total: np.ndarray = c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]
    return total / (n * n)


def ssim(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    if min(x.shape) < _WINDOW:
        return float("nan")
    mx, my = _box_mean(x), _box_mean(y)
    vx, vy = _box_mean(x * x) - mx * mx, _box_mean(y * y) - my * my
    cov = _box_mean(x * y) - mx * my
    s = ((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(s.mean())


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(255 * 255 / mse)


def score(source: bytes, spec: ResizeSpec, output: bytes) -> tuple[float, float]:
    """(PSNR dB, SSIM) of ``output`` against the reference resize of ``source``; NaN when the sizes
    differ (a contender that chose another geometry is not compared pixel by pixel)."""
    ref = reference(source, spec)
    with Image.open(io.BytesIO(output)) as im:
        out = _rgb(im)
    if out.size != ref.size:
        return float("nan"), float("nan")
    return psnr(ref, out), ssim(ref, out)
