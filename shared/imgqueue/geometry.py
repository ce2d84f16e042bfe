"""Where the pixels go: the output geometry of a resize, as sharp computes it. Pure arithmetic: the probe
uses it to bound the work an upload asks for before any pixel is decoded, and the engines to resize."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InvalidSpec
from .spec import Crop, Fit, ResizeSpec


@dataclass(frozen=True)
class Geometry:
    """Crop ``box`` (fractions of the oriented source) resized to ``size``, pasted at ``offset`` on a
    ``canvas`` (equal to ``size`` except for contain)."""

    size: tuple[int, int]
    box: tuple[float, float, float, float]
    canvas: tuple[int, int]
    offset: tuple[int, int]
    scale: float  # the largest of the two axis scales, for shrink-on-load
    smart: Crop | None = None  # cover by attention or entropy: the engine places ``box`` from the pixels

    @property
    def pixels(self) -> int:
        """Pixels of one output frame."""
        return self.canvas[0] * self.canvas[1]

    def placed(self, x0: float, y0: float) -> Geometry:
        """The same crop, its top left corner moved to (x0, y0) (fractions), kept inside the picture."""
        cw, ch = self.box[2] - self.box[0], self.box[3] - self.box[1]
        x0, y0 = min(max(x0, 0.0), 1 - cw), min(max(y0, 0.0), 1 - ch)
        return replace(self, box=(x0, y0, x0 + cw, y0 + ch), smart=None)


FULL = (0.0, 0.0, 1.0, 1.0)


def compute_geometry(width: int, height: int, spec: ResizeSpec) -> Geometry:
    """The output geometry for an oriented ``width`` x ``height`` source."""
    tw, th = spec.width, spec.height
    if tw is None and th is None:
        raise InvalidSpec("width or height is required")
    if tw is None or th is None:  # one side given: keep the aspect ratio, every fit alike
        return _one_side(width, height, tw / width if tw is not None else th / height, spec)  # type: ignore[operator]
    sx, sy = tw / width, th / height
    if spec.fit is Fit.FILL:
        if spec.without_enlargement and (sx > 1 or sy > 1):
            sx, sy = min(sx, 1.0), min(sy, 1.0)
        size = (max(1, round(width * sx)), max(1, round(height * sy)))
        return Geometry(size, FULL, size, (0, 0), max(sx, sy))
    s = min(sx, sy) if spec.fit in (Fit.INSIDE, Fit.CONTAIN) else max(sx, sy)
    if spec.without_enlargement and s > 1:
        size = (width, height)  # sharp returns the image at its own size rather than enlarge it
        return Geometry(size, FULL, size, (0, 0), 1.0)
    if spec.fit is Fit.COVER:
        cw, ch = min(1.0, tw / (width * s)), min(1.0, th / (height * s))
        box = ((1 - cw) / 2, (1 - ch) / 2, (1 + cw) / 2, (1 + ch) / 2)
        smart = spec.crop if spec.crop is not Crop.CENTRE and (cw < 1 or ch < 1) else None
        geo = Geometry((tw, th), box, (tw, th), (0, 0), s, smart)
        focal = spec.focal
        return geo.placed(focal[0] - cw / 2, focal[1] - ch / 2) if focal else geo
    size = (max(1, round(width * s)), max(1, round(height * s)))
    if spec.fit is Fit.CONTAIN:
        return Geometry(size, FULL, (tw, th), ((tw - size[0]) // 2, (th - size[1]) // 2), s)
    return Geometry(size, FULL, size, (0, 0), s)


def _one_side(width: int, height: int, s: float, spec: ResizeSpec) -> Geometry:
    if spec.without_enlargement and s > 1:
        s = 1.0
    size = (max(1, round(width * s)), max(1, round(height * s)))
    return Geometry(size, FULL, size, (0, 0), s)
