"""The Pillow engine: every input the libvips engine does not take (animation, CMYK, 16-bit grey, GIF, BMP,
TIFF, AVIF; GIF and AVIF outputs), and everything with ``IMAGING_ENGINE=pillow``.

A set of outputs comes from one decode: the image is decoded once (a JPEG at the smallest DCT scale the
largest output allows), turned upright and into a working mode (L, LA, RGB or RGBA) and, unless an output
keeps its ICC profile, into sRGB; then each output is cut, resized, padded and flattened from that.
An animation's frames are each decoded once too, every animated output drawing its own frame from it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from typing import Any

from PIL import Image, ImageCms, ImageOps, ImageSequence

from . import smartcrop
from .geometry import Geometry
from .outputs import Made, Wanted, naming
from .probe import decode_errors
from .spec import ALPHA_OUTPUTS, ANIMATED_OUTPUTS, DEFAULT_QUALITY, ResizeSpec, grey_of, parse_colour

# Shrink-on-load: decode JPEGs at the smallest DCT scale still >= DRAFT_GAP x the target size, then
# reduce by whole factors down to RESIZE_GAP x the target before the final Lanczos pass.
DRAFT_GAP = 2.0
RESIZE_GAP = 2.5
_Z_RLE = 3


class Picture:
    """The decoded picture, upright and in a working mode, with its ICC profile; in sRGB on demand."""

    def __init__(self, im: Image.Image, icc: bytes | None) -> None:
        self.im, self.icc = _to_working_mode(ImageOps.exif_transpose(im) or im, icc)
        self._srgb: Image.Image | None = None

    def pixels(self, spec: ResizeSpec) -> tuple[Image.Image, bytes | None]:
        """The image an output draws from, and the profile it writes."""
        if spec.keep_icc or not self.icc:
            return self.im, self.icc if spec.keep_icc else None
        return self.srgb(), None

    def srgb(self) -> Image.Image:
        if not self.icc:
            return self.im
        if self._srgb is None:
            self._srgb = to_srgb(self.im, self.icc)
        return self._srgb


Outputs = Iterator[tuple[int, Made]]  # each output as it is made: its index in ``wanted``, and it


def render_set(im: Image.Image, frames: int, wanted: Sequence[Wanted]) -> tuple[Image.Image, Outputs]:
    """The upright sRGB picture (an animation's first frame, for a placeholder), decoded now, and the
    outputs of ``wanted``, each made as the iterator reaches it."""
    animated = [w for w in wanted if frames > 1 and w.format in ANIMATED_OUTPUTS]
    if animated:
        made, first = _render_animated(im, wanted, animated)
        return first, iter(enumerate(made))
    shrink_on_load(im, max(w.geo.scale for w in wanted))
    picture = Picture(im, im.info.get("icc_profile"))
    return picture.srgb(), ((i, _still(picture, w)) for i, w in enumerate(wanted))


def _still(picture: Picture, w: Wanted) -> Made:
    with naming(w.name), decode_errors():
        src, icc = picture.pixels(w.spec)
        frame = draw(src, smartcrop.place(src, w.geo), w.spec, w.format)
        out = io.BytesIO()
        frame.save(out, format=w.format, **save_options(w.format, w.spec, icc))
        return Made(out.getvalue(), frame.width, frame.height, w.format)


def _render_animated(im: Image.Image, wanted: Sequence[Wanted],
                     animated: list[Wanted]) -> tuple[list[Made], Image.Image]:
    """Each frame decoded once: every animated output draws it; a still output draws the first alone."""
    icc = im.info.get("icc_profile")
    drawn: dict[int, list[Image.Image]] = {id(w): [] for w in wanted}
    placed: dict[int, Geometry] = {}
    durations, first = [], None
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        picture = Picture(frame.copy(), icc)
        first = first or picture.srgb()
        for w in wanted:
            if index == 0 or w in animated:
                src, _ = picture.pixels(w.spec)
                geo = placed.setdefault(id(w), smartcrop.place(src, w.geo))  # one crop for every frame
                drawn[id(w)].append(draw(src, geo, w.spec, w.format))
        durations.append(frame.info.get("duration", 100))
    made = []
    for w in wanted:
        frames = drawn[id(w)]
        opts = save_options(w.format, w.spec, icc if w.spec.keep_icc else None)
        if len(frames) > 1:
            opts.update(save_all=True, append_images=frames[1:], duration=durations, loop=im.info.get("loop", 0))
        out = io.BytesIO()
        with naming(w.name):
            frames[0].save(out, format=w.format, **opts)
        made.append(Made(out.getvalue(), frames[0].width, frames[0].height, w.format, len(frames)))
    assert first is not None
    return made, first


def shrink_on_load(im: Image.Image, scale: float) -> None:
    """Decode a JPEG at the smallest DCT scale that leaves DRAFT_GAP x the largest output's size."""
    if scale < 1 and im.format in ("JPEG", "MPO") and im.mode in ("RGB", "L"):
        need = (math.ceil(im.width * scale * DRAFT_GAP), math.ceil(im.height * scale * DRAFT_GAP))
        im.draft(im.mode, need)


def to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    """``im``'s pixels in sRGB, from its embedded profile (sharp's default: every browser shows sRGB
    alike). A grey image, one in sRGB already, or a profile LittleCMS cannot use is left as it is."""
    if im.mode not in ("RGB", "RGBA") or icc == srgb_profile():
        return im
    transform = _transform(icc, im.mode, im.mode)
    if transform is None:
        return im
    return ImageCms.applyTransform(im, transform) or im


@lru_cache(maxsize=32)
def _transform(icc: bytes, mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from a profile to sRGB, built once per profile (building one costs more than
    applying it to a small image)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.buildTransform(source, _srgb(), mode, out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def srgb_profile() -> bytes:
    return bytes(_srgb().tobytes())


def draw(im: Image.Image, geo: Geometry, spec: ResizeSpec, out_fmt: str) -> Image.Image:
    """Cut ``geo.box``, resize to ``geo.size``, pad to the canvas, flatten alpha the format cannot keep."""
    w, h = im.size
    box = (geo.box[0] * w, geo.box[1] * h, geo.box[2] * w, geo.box[3] * h)
    if geo.size != (w, h) or box != (0, 0, w, h):
        im = im.resize(geo.size, Image.Resampling.LANCZOS, box=box, reducing_gap=RESIZE_GAP)
    else:
        im = im.copy()
    background = parse_colour(spec.background)
    if geo.canvas != geo.size:
        mode = im.mode
        fill: Any = background if mode.startswith("RGB") else grey_of(background)
        if mode in ("RGBA", "LA"):
            fill = (*fill, 255) if isinstance(fill, tuple) else (fill, 255)
        canvas = Image.new(mode, geo.canvas, fill)
        canvas.paste(im, geo.offset)
        im = canvas
    if out_fmt not in ALPHA_OUTPUTS:
        im = _flatten(im, background)
    im.info = {}  # the encoders write comments and XMP found here: only an ICC profile asked for is kept
    return im


def save_options(out_fmt: str, spec: ResizeSpec, icc: bytes | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    quality = spec.quality or DEFAULT_QUALITY.get(out_fmt)
    if out_fmt == "JPEG":
        opts.update(quality=quality, progressive=spec.progressive, optimize=spec.progressive)
    elif out_fmt == "PNG":
        # zlib's RLE strategy after PNG's row filters: as small as the default strategy on photos and
        # about three times faster to encode (measured in make bench).
        opts.update(compress_level=6, compress_type=_Z_RLE)
    elif out_fmt == "WEBP":
        opts.update(quality=quality, method=4)
    elif out_fmt == "AVIF":
        opts.update(quality=quality)
    if icc and out_fmt != "GIF":
        opts["icc_profile"] = icc
    return opts


def _to_working_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """A mode every resampler and encoder handles: L, LA, RGB or RGBA. Returns the ICC profile that
    describes the result (CMYK becomes sRGB through its own profile)."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im, icc
    if mode == "CMYK":
        if icc:
            converted = to_srgb_from_cmyk(im, icc)
            if converted is not None:
                return converted, srgb_profile()
        return im.convert("RGB"), None
    if mode.startswith("I;16") or mode in ("I", "F"):
        scale = 1 / 256 if mode.startswith("I;16") or mode == "I" else 255.0
        return im.convert("F").point(lambda v: v * scale).convert("L"), icc
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB"), icc
    if mode == "1":
        return im.convert("L"), icc
    if mode in ("La", "RGBa"):
        return im.convert(mode.upper()), icc
    return im.convert("RGBA" if "A" in mode else "RGB"), icc


def to_srgb_from_cmyk(im: Image.Image, icc: bytes) -> Image.Image | None:
    transform = _transform(icc, "CMYK", "RGB")
    return ImageCms.applyTransform(im, transform) if transform is not None else None


def _flatten(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if im.mode not in ("RGBA", "LA"):
        return im
    base_mode = "RGB" if im.mode == "RGBA" else "L"
    fill: Any = background if base_mode == "RGB" else grey_of(background)
    base = Image.new(base_mode, im.size, fill)
    base.paste(im, mask=im.getchannel("A"))
    return base
