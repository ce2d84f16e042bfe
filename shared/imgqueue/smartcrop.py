"""Where ``cover`` crops when asked to look (``crop=attention`` or ``entropy``), for the Pillow engine; the
libvips engine uses libvips' own smartcrop, which scores the same things.

A cover crop cuts along one axis only, so the choice is where a window of the crop's width (or height)
slides: the picture is scored on a small copy (``SIDE`` pixels on its longest side), per column (or row),
and the window with the highest score wins, the centre breaking ties.

* ``entropy``: the window whose luminance has the most information (Shannon entropy of a 32-level
  histogram), so a detailed subject beats a smooth sky.
* ``attention``: the window with the most of what catches the eye: edges, saturated colour and skin tones
  (libvips' attention strategy scores these three).
"""

from __future__ import annotations

import math

from PIL import Image, ImageFilter

from .geometry import Geometry
from .spec import Crop

SIDE = 64
LEVELS = 32


def place(im: Image.Image, geo: Geometry) -> Geometry:
    """``geo`` with its crop box moved where ``geo.smart`` says to look in ``im`` (upright, any size)."""
    if geo.smart is None:
        return geo
    small = im.convert("RGB")
    small.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
    across = geo.box[2] - geo.box[0] < 1  # the window slides across; otherwise down
    if not across:
        small = small.transpose(Image.Transpose.TRANSPOSE)
    width = geo.box[2] - geo.box[0] if across else geo.box[3] - geo.box[1]
    window = max(1, min(small.width, round(width * small.width)))
    if geo.smart is Crop.ENTROPY:
        start = _best(_entropies(small, window), small.width - window)
    else:
        start = _best(_window_sums(_attention(small), window), small.width - window)
    fraction = start / small.width
    return geo.placed(fraction, geo.box[1]) if across else geo.placed(geo.box[0], fraction)


def _best(scores: list[float], last: int) -> int:
    """The start with the highest score; of equals, the nearest the middle."""
    middle = last / 2
    return max(range(len(scores)), key=lambda i: (round(scores[i], 9), -abs(i - middle)))


def _columns(values: list[float], width: int) -> list[float]:
    """Per-column sums of a row-major ``values`` of ``width`` columns."""
    sums = [0.0] * width
    for i, v in enumerate(values):
        sums[i % width] += v
    return sums


def _window_sums(column_scores: list[float], window: int) -> list[float]:
    total = sum(column_scores[:window])
    out = [total]
    for i in range(window, len(column_scores)):
        total += column_scores[i] - column_scores[i - window]
        out.append(total)
    return out


def _attention(small: Image.Image) -> list[float]:
    """Per-column score: edges (luminance), saturation, and skin tones."""
    edges = small.convert("L").filter(ImageFilter.FIND_EDGES).tobytes()
    rgb = small.tobytes()
    scores = []
    for r, g, b, edge in zip(rgb[0::3], rgb[1::3], rgb[2::3], edges, strict=True):
        high, low = max(r, g, b), min(r, g, b)
        saturation = (high - low) / high if high else 0.0
        skin = 1.0 if r > 95 and g > 40 and b > 20 and r > g and r > b and r - min(g, b) > 15 else 0.0
        scores.append(edge / 255 + saturation + skin)
    return _columns(scores, small.width)


def _entropies(small: Image.Image, window: int) -> list[float]:
    """The entropy of each window's luminance histogram, the histogram slid a column at a time."""
    luma = small.convert("L")
    height = luma.height
    columns = [[0] * LEVELS for _ in range(luma.width)]
    for i, v in enumerate(luma.tobytes()):
        columns[i % luma.width][v * LEVELS // 256] += 1
    hist = [sum(c[k] for c in columns[:window]) for k in range(LEVELS)]
    out = [_entropy(hist, window * height)]
    for i in range(window, luma.width):
        for k in range(LEVELS):
            hist[k] += columns[i][k] - columns[i - window][k]
        out.append(_entropy(hist, window * height))
    return out


def _entropy(hist: list[int], total: int) -> float:
    return -sum(n / total * math.log2(n / total) for n in hist if n)
