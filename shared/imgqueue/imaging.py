"""Pure image code: probe an input, resize it by a spec, encode it. No Redis, no queue, no file naming.

``resize(src, dst, spec, limits)`` reads ``src`` (bytes, a path or a binary file) and writes the encoded
result to ``dst`` (a path or a binary file). Fit modes follow sharp's meaning. Animated GIF and WebP keep
every frame when the output format can animate (GIF, WebP) and keep the first frame otherwise.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError, features

from . import vips
from .errors import (
    CorruptImage,
    InvalidSpec,
    NotAnImage,
    TooManyFrames,
    TooManyPixels,
    UnsupportedFormat,
)

Source = bytes | Path | IO[bytes]


class Fit(str, Enum):
    """sharp's fit modes."""

    COVER = "cover"  # crop to fill width x height exactly (the default, as the demo's resize(w, h))
    CONTAIN = "contain"  # letterbox: fit inside, pad to width x height with the background colour
    FILL = "fill"  # stretch to width x height, ignoring the aspect ratio
    INSIDE = "inside"  # fit within width x height, keeping the aspect ratio
    OUTSIDE = "outside"  # cover width x height, keeping the aspect ratio, no crop


# Input formats we decode (Pillow's format names). Anything else Pillow knows is "unsupported".
INPUT_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF"})
# Output formats by the name users give; AVIF only where this Pillow can write it.
_OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}
_FEATURE = {"WEBP": "webp", "AVIF": "avif", "JPEG": "jpg", "PNG": "zlib"}
# When the input format cannot be written, or "same as input" is asked for it.
_SAME_AS_INPUT = {"MPO": "JPEG", "BMP": "PNG", "TIFF": "PNG"}
_ANIMATED_OUTPUTS = frozenset({"GIF", "WEBP"})
_ALPHA_OUTPUTS = frozenset({"PNG", "WEBP", "GIF", "AVIF"})
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
              "AVIF": "image/avif"}
_DEFAULT_QUALITY = {"JPEG": 80, "WEBP": 80, "AVIF": 50}  # sharp's defaults

# Shrink-on-load: decode JPEGs at the smallest DCT scale still >= DRAFT_GAP x the target size, then
# reduce by whole factors down to RESIZE_GAP x the target before the final Lanczos pass.
DRAFT_GAP = 2.0
RESIZE_GAP = 2.5
_ORIENTATION_TAG = 0x0112
_Z_RLE = 3


def output_formats() -> dict[str, str]:
    """Output format names this Pillow build can write, e.g. ``{"jpeg": "JPEG", ...}``."""
    return {name: fmt for name, fmt in _OUTPUT_FORMATS.items()
            if fmt not in _FEATURE or features.check(_FEATURE[fmt])}


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 50_000_000
    max_frames: int = 200
    max_dimension: int = 8192


@dataclass(frozen=True)
class ResizeSpec:
    width: int | None = None
    height: int | None = None
    fit: Fit = Fit.COVER
    format: str | None = None  # output format name (jpeg, png, webp, gif, avif); None: same as input
    quality: int | None = None  # 1-100; None: the format's default
    progressive: bool = False
    without_enlargement: bool = False
    background: str = "#ffffff"  # for contain padding and for flattening alpha

    def validate(self, limits: Limits = Limits()) -> ResizeSpec:
        """Return self if it can work, else raise InvalidSpec naming the parameter."""
        if self.width is None and self.height is None:
            raise InvalidSpec("width or height is required")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= limits.max_dimension:
                raise InvalidSpec(f"{name} must be between 1 and {limits.max_dimension}, got {value}")
        if not isinstance(self.fit, Fit):
            raise InvalidSpec(f"fit must be one of {', '.join(f.value for f in Fit)}")
        if self.format is not None and self.format not in output_formats():
            raise InvalidSpec(f"format must be one of {', '.join(output_formats())}, got {self.format!r}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise InvalidSpec(f"quality must be between 1 and 100, got {self.quality}")
        parse_colour(self.background)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fit"] = self.fit.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResizeSpec:
        try:
            fit = Fit(data.get("fit") or Fit.COVER.value)
        except ValueError:
            raise InvalidSpec(f"fit must be one of {', '.join(f.value for f in Fit)}") from None
        return cls(
            width=_opt_int(data.get("width")),
            height=_opt_int(data.get("height")),
            fit=fit,
            format=(data.get("format") or None),
            quality=_opt_int(data.get("quality")),
            progressive=bool(data.get("progressive", False)),
            without_enlargement=bool(data.get("without_enlargement", False)),
            background=str(data.get("background") or "#ffffff"),
        )


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # after EXIF orientation
    height: int
    frames: int
    mode: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class ResizeResult:
    width: int
    height: int
    format: str
    frames: int
    bytes: int = 0


@dataclass(frozen=True)
class Geometry:
    """Where the pixels go: crop ``box`` (fractions of the oriented source) resized to ``size``,
    pasted at ``offset`` on a ``canvas`` (equal to ``size`` except for contain)."""

    size: tuple[int, int]
    box: tuple[float, float, float, float]
    canvas: tuple[int, int]
    offset: tuple[int, int]
    scale: float  # the largest of the two axis scales, for shrink-on-load


def parse_colour(value: str) -> tuple[int, int, int]:
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        if len(text) != 6:
            raise ValueError
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise InvalidSpec(f"background must be a colour like #ffffff, got {value!r}") from None


def compute_geometry(width: int, height: int, spec: ResizeSpec) -> Geometry:
    """The output geometry for an oriented ``width`` x ``height`` source, as sharp computes it."""
    full = (0.0, 0.0, 1.0, 1.0)
    tw, th = spec.width, spec.height
    if tw is None and th is None:
        raise InvalidSpec("width or height is required")
    if tw is None or th is None:  # one side given: keep the aspect ratio, every fit alike
        s = (tw / width) if tw is not None else (th / height)  # type: ignore[operator]
        if spec.without_enlargement and s > 1:
            s = 1.0
        size = (max(1, round(width * s)), max(1, round(height * s)))
        return Geometry(size, full, size, (0, 0), s)
    sx, sy = tw / width, th / height
    fit = spec.fit
    if fit is Fit.FILL:
        if spec.without_enlargement and (sx > 1 or sy > 1):
            sx, sy = min(sx, 1.0), min(sy, 1.0)
        size = (max(1, round(width * sx)), max(1, round(height * sy)))
        return Geometry(size, full, size, (0, 0), max(sx, sy))
    s = min(sx, sy) if fit in (Fit.INSIDE, Fit.CONTAIN) else max(sx, sy)
    if spec.without_enlargement and s > 1:
        size = (width, height)  # sharp returns the image at its own size rather than enlarge it
        return Geometry(size, full, size, (0, 0), 1.0)
    if fit is Fit.COVER:
        cw, ch = min(1.0, tw / (width * s)), min(1.0, th / (height * s))
        box = ((1 - cw) / 2, (1 - ch) / 2, (1 + cw) / 2, (1 + ch) / 2)
        return Geometry((tw, th), box, (tw, th), (0, 0), s)
    size = (max(1, round(width * s)), max(1, round(height * s)))
    if fit is Fit.CONTAIN:
        return Geometry(size, full, (tw, th), ((tw - size[0]) // 2, (th - size[1]) // 2), s)
    return Geometry(size, full, size, (0, 0), s)


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Map Pillow's many exception types onto our permanent image errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooManyPixels(f"image is too large to decode safely: {exc}") from None
        except UnidentifiedImageError:
            raise NotAnImage("the file is not an image in any format we can read") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
            raise CorruptImage(f"the image could not be decoded: {exc}") from None


def _open(src: Source) -> Image.Image:
    if isinstance(src, bytes):
        fp: Any = io.BytesIO(src)
    elif isinstance(src, Path):
        fp = src
    else:
        fp = src
    return Image.open(fp)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, from the header only: Pillow's PNG ``getexif`` decodes the whole image to
    look for an eXIf chunk after the pixels, so a PNG without one in its header counts as upright."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    return int(im.getexif().get(_ORIENTATION_TAG, 1))


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    orientation = _orientation(im)
    return (im.height, im.width) if orientation in (5, 6, 7, 8) else (im.width, im.height)


def _check_header(im: Image.Image, limits: Limits) -> ImageInfo:
    fmt = im.format or "?"
    if fmt not in INPUT_FORMATS:
        raise UnsupportedFormat(f"{fmt} images are not supported; send JPEG, PNG, WebP, GIF, AVIF, BMP or TIFF")
    if im.width * im.height > limits.max_pixels:
        raise TooManyPixels(f"image has {im.width}x{im.height} = {im.width * im.height} pixels, "
                            f"more than the limit of {limits.max_pixels}")
    frames = int(getattr(im, "n_frames", 1))
    if frames > limits.max_frames:
        raise TooManyFrames(f"animation has {frames} frames, more than the limit of {limits.max_frames}")
    width, height = _oriented_size(im)
    return ImageInfo(fmt, width, height, frames, im.mode)


def probe(src: Source, limits: Limits = Limits()) -> ImageInfo:
    """Read the header (and check a PNG's chunks): format, oriented size, frame count. Raises an
    ImageError if unusable. Pixels are not decoded."""
    with _decode_errors():
        im = _open(src)
        try:
            info = _check_header(im, limits)
            if info.format == "PNG":
                im.verify()  # chunk CRCs, without inflating the pixels: catches truncated and corrupt files
            return info
        finally:
            if isinstance(src, (bytes, Path)):  # a caller's file object stays open for the caller
                im.close()


def output_format_for(input_format: str, spec: ResizeSpec) -> str:
    """Pillow's name of the format the output will be written in."""
    if spec.format:
        return output_formats()[spec.format]
    fmt = _SAME_AS_INPUT.get(input_format, input_format)
    return fmt if fmt in output_formats().values() else "PNG"


def _to_working_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """A mode every resampler and encoder handles: L, LA, RGB or RGBA. Returns the ICC profile to keep."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im, icc
    if mode == "CMYK":
        if icc:
            try:
                src_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                srgb = ImageCms.createProfile("sRGB")
                converted = ImageCms.profileToProfile(im, src_profile, srgb, outputMode="RGB")
                if converted is not None:
                    return converted, ImageCms.ImageCmsProfile(srgb).tobytes()
            except (ImageCms.PyCMSError, OSError):
                pass
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


def _flatten(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if im.mode not in ("RGBA", "LA"):
        return im
    base_mode = "RGB" if im.mode == "RGBA" else "L"
    fill: Any = background if base_mode == "RGB" else round(sum(background) / 3)
    base = Image.new(base_mode, im.size, fill)
    base.paste(im, mask=im.getchannel("A"))
    return base


def _render_frame(im: Image.Image, geo: Geometry, spec: ResizeSpec, out_fmt: str,
                  icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    im = ImageOps.exif_transpose(im) or im
    im, icc = _to_working_mode(im, icc)
    w, h = im.size
    box = (geo.box[0] * w, geo.box[1] * h, geo.box[2] * w, geo.box[3] * h)
    if geo.size != (w, h) or box != (0, 0, w, h):
        im = im.resize(geo.size, Image.Resampling.LANCZOS, box=box, reducing_gap=RESIZE_GAP)
    background = parse_colour(spec.background)
    if geo.canvas != geo.size:
        mode = im.mode
        fill: Any = background if mode.startswith("RGB") else round(sum(background) / 3)
        if mode in ("RGBA", "LA"):
            fill = (*fill, 255) if isinstance(fill, tuple) else (fill, 255)
        canvas = Image.new(mode, geo.canvas, fill)
        canvas.paste(im, geo.offset)
        im = canvas
    if out_fmt not in _ALPHA_OUTPUTS:
        im = _flatten(im, background)
    return im, icc


def _save_options(out_fmt: str, spec: ResizeSpec, icc: bytes | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    quality = spec.quality or _DEFAULT_QUALITY.get(out_fmt)
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


ENGINES = ("pillow", "vips")


def vips_available() -> bool:
    return vips.available()


def resize(src: Source, dst: Path | IO[bytes], spec: ResizeSpec, limits: Limits = Limits(),
           engine: str = "pillow") -> ResizeResult:
    """Resize ``src`` by ``spec`` and write the encoded image to ``dst``.

    EXIF orientation is applied first; metadata is dropped except the ICC profile; alpha is flattened
    onto ``spec.background`` when the output format has none. Raises an ImageError for bad input.
    ``engine="vips"`` lets libvips decode and shrink PNG and WebP inputs (see ``imgqueue.vips``).
    """
    spec.validate(limits)
    with _decode_errors():
        im = _open(src)
        info = _check_header(im, limits)
        out_fmt = output_format_for(info.format, spec)
        geo = compute_geometry(info.width, info.height, spec)
        icc = im.info.get("icc_profile")
        animate = info.frames > 1 and out_fmt in _ANIMATED_OUTPUTS
        if info.format == "JPEG" and im.mode in ("RGB", "L") and geo.scale < 1:
            need = (math.ceil(im.width * geo.scale * DRAFT_GAP), math.ceil(im.height * geo.scale * DRAFT_GAP))
            im.draft(im.mode, need)
        if animate:
            opts = _save_options(out_fmt, spec, icc)
            frames, durations = [], []
            for frame in ImageSequence.Iterator(im):
                rendered, _ = _render_frame(frame.copy(), geo, spec, out_fmt, icc)
                frames.append(rendered)
                durations.append(frame.info.get("duration", 100))
            opts.update(save_all=True, append_images=frames[1:], duration=durations,
                        loop=im.info.get("loop", 0))
            first = frames[0]
        else:
            source = im
            if (engine == "vips" and isinstance(src, bytes) and geo.scale < 1
                    and vips.suitable(info.format, im.mode, info.frames, im.info, _orientation(im))):
                source = vips.shrink(src, info.format, geo.scale * RESIZE_GAP)
            first, icc = _render_frame(source, geo, spec, out_fmt, icc)
            opts = _save_options(out_fmt, spec, icc)
        first.save(dst, format=out_fmt, **opts)
    size = dst.stat().st_size if isinstance(dst, Path) else 0
    return ResizeResult(first.width, first.height, out_fmt, len(frames) if animate else 1, size)


def resize_bytes(data: bytes, spec: ResizeSpec, limits: Limits = Limits(),
                 engine: str = "pillow") -> tuple[bytes, ResizeResult]:
    """Like ``resize`` but in memory: returns the encoded bytes and what was made."""
    out = io.BytesIO()
    result = resize(data, out, spec, limits, engine)
    encoded = out.getvalue()
    return encoded, ResizeResult(result.width, result.height, result.format, result.frames, len(encoded))


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidSpec(f"expected a whole number, got {value!r}") from None
