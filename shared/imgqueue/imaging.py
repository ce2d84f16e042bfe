"""Pure image code: probe an input, resize it by a spec, encode it. No Redis, no queue, no file naming.

``resize(src, dst, spec, limits, engine)`` reads ``src`` (bytes, a path or a binary file) and writes the
encoded result to ``dst`` (a path or a binary file). Fit modes follow sharp's meaning. Animated GIF and
WebP keep every frame when the output format can animate (GIF, WebP) and keep the first frame otherwise.

Two engines, chosen per image: libvips (``imgqueue.vips``) for the still JPEG, PNG and WebP it treats
exactly as Pillow does, when pyvips is installed; Pillow (this module) for everything else, and for
everything with ``engine="pillow"``. Both take the geometry from ``imgqueue.geometry``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageCms, ImageOps, ImageSequence, features

from . import vips
from .geometry import Geometry, compute_geometry
from .probe import ImageInfo, Source, check_work, decode_errors, inspect, probe
from .spec import (
    ALPHA_OUTPUTS,
    ANIMATED_OUTPUTS,
    DEFAULT_QUALITY,
    OUTPUT_FORMATS,
    Limits,
    ResizeSpec,
    grey_of,
    output_format_for,
    parse_colour,
)

__all__ = ["ImageInfo", "ResizeResult", "engine_for", "output_formats", "probe", "resize", "resize_bytes"]


_FEATURE = {"WEBP": "webp", "AVIF": "avif", "JPEG": "jpg", "PNG": "zlib"}

# Shrink-on-load: decode JPEGs at the smallest DCT scale still >= DRAFT_GAP x the target size, then
# reduce by whole factors down to RESIZE_GAP x the target before the final Lanczos pass.
DRAFT_GAP = 2.0
RESIZE_GAP = 2.5
_Z_RLE = 3


@cache
def output_formats() -> dict[str, str]:
    """Output format names this Pillow build can write, e.g. ``{"jpeg": "JPEG", ...}``."""
    return {name: fmt for name, fmt in OUTPUT_FORMATS.items()
            if fmt not in _FEATURE or features.check(_FEATURE[fmt])}


@dataclass(frozen=True)
class ResizeResult:
    width: int
    height: int
    format: str
    frames: int
    bytes: int = 0
    engine: str = "pillow"


def engine_for(engine: str, info: ImageInfo, out_fmt: str) -> str:
    """The engine that resizes this image: libvips where it is installed, allowed and suitable."""
    if engine != "pillow" and vips.available() and vips.suitable(info.format, info.mode, info.frames, out_fmt):
        return "vips"
    return "pillow"


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
    fill: Any = background if base_mode == "RGB" else grey_of(background)
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
        fill: Any = background if mode.startswith("RGB") else grey_of(background)
        if mode in ("RGBA", "LA"):
            fill = (*fill, 255) if isinstance(fill, tuple) else (fill, 255)
        canvas = Image.new(mode, geo.canvas, fill)
        canvas.paste(im, geo.offset)
        im = canvas
    if out_fmt not in ALPHA_OUTPUTS:
        im = _flatten(im, background)
    im.info = {}  # the encoders write comments and XMP found here: only the ICC profile is kept (icc)
    return im, icc


def _save_options(out_fmt: str, spec: ResizeSpec, icc: bytes | None) -> dict[str, Any]:
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


def resize(src: Source, dst: Path | IO[bytes], spec: ResizeSpec, limits: Limits = Limits(),
           engine: str = "auto") -> ResizeResult:
    """Resize ``src`` by ``spec`` and write the encoded image to ``dst``.

    EXIF orientation is applied first; metadata is dropped except the ICC profile; alpha is flattened
    onto ``spec.background`` when the output format has none. Raises an ImageError for bad input.
    """
    spec.validate(limits, output_formats())
    with decode_errors():
        im, info = inspect(src, limits)
        out_fmt = output_format_for(info.format, spec, output_formats())
        check_work(info, spec, out_fmt, limits)
        geo = compute_geometry(info.width, info.height, spec)
        if engine_for(engine, info, out_fmt) == "vips":
            im.close()
            return _write_vips(_as_bytes(src), dst, geo, spec, out_fmt, info)
        if info.frames > 1 and out_fmt in ANIMATED_OUTPUTS:
            frames, opts = _render_animation(im, geo, spec, out_fmt)
        else:
            _shrink_on_load(im, info, geo)
            still, icc = _render_frame(im, geo, spec, out_fmt, im.info.get("icc_profile"))
            frames, opts = [still], _save_options(out_fmt, spec, icc)
        frames[0].save(dst, format=out_fmt, **opts)
    size = dst.stat().st_size if isinstance(dst, Path) else 0
    return ResizeResult(frames[0].width, frames[0].height, out_fmt, len(frames), size)


def _write_vips(data: bytes, dst: Path | IO[bytes], geo: Geometry, spec: ResizeSpec, out_fmt: str,
                info: ImageInfo) -> ResizeResult:
    encoded, width, height = vips.render(data, geo, spec, out_fmt, info.orientation in (0, 1), info.format)
    if isinstance(dst, Path):
        dst.write_bytes(encoded)
    else:
        dst.write(encoded)
    return ResizeResult(width, height, out_fmt, 1, len(encoded), "vips")


def _as_bytes(src: Source) -> bytes:
    if isinstance(src, bytes):
        return src
    if isinstance(src, Path):
        return src.read_bytes()
    src.seek(0)
    return src.read()


def _render_animation(im: Image.Image, geo: Geometry, spec: ResizeSpec,
                      out_fmt: str) -> tuple[list[Image.Image], dict[str, Any]]:
    """Every frame rendered, and the save options that write them as one animation."""
    icc = im.info.get("icc_profile")
    frames, durations = [], []
    for frame in ImageSequence.Iterator(im):
        rendered, _ = _render_frame(frame.copy(), geo, spec, out_fmt, icc)
        frames.append(rendered)
        durations.append(frame.info.get("duration", 100))
    opts = _save_options(out_fmt, spec, icc)
    opts.update(save_all=True, append_images=frames[1:], duration=durations, loop=im.info.get("loop", 0))
    return frames, opts


def _shrink_on_load(im: Image.Image, info: ImageInfo, geo: Geometry) -> None:
    """Decode a JPEG at the smallest DCT scale that leaves DRAFT_GAP x the output size."""
    if geo.scale < 1 and info.format == "JPEG" and im.mode in ("RGB", "L"):
        need = (math.ceil(im.width * geo.scale * DRAFT_GAP), math.ceil(im.height * geo.scale * DRAFT_GAP))
        im.draft(im.mode, need)


def resize_bytes(data: bytes, spec: ResizeSpec, limits: Limits = Limits(),
                 engine: str = "auto") -> tuple[bytes, ResizeResult]:
    """Like ``resize`` but in memory: returns the encoded bytes and what was made."""
    out = io.BytesIO()
    result = resize(data, out, spec, limits, engine)
    encoded = out.getvalue()
    return encoded, replace(result, bytes=len(encoded))
