"""Pure image code: probe an input, resize it by one spec or by several (a set of outputs from one decode),
encode. No Redis, no queue, no file naming.

``render_set(data, specs, limits, engine, placeholder)`` makes every output of ``specs`` from the encoded
``data`` and, when asked, a placeholder string; ``resize`` and ``resize_bytes`` make one. Fit modes follow
sharp's meaning. Animated GIF and WebP keep every frame when the output format can animate (GIF, WebP) and
keep the first frame otherwise. Pixels become sRGB through an embedded ICC profile, unless a spec keeps it.

Two engines, chosen per job: libvips (``imgqueue.vips``) for the still JPEG, PNG and WebP it treats
exactly as Pillow does, when pyvips is installed and every output is one it writes; Pillow
(``imgqueue.pillow_engine``) for everything else, and for everything with ``engine="pillow"``. Both take
the geometry from ``imgqueue.geometry``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from PIL import Image, features

from . import pillow_engine, placeholders, vips
from .geometry import FULL, compute_geometry
from .outputs import Made, Wanted
from .placeholders import Placeholder
from .probe import ImageInfo, Source, check_work, decode_errors, examine, open_image, probe
from .spec import OUTPUT_FORMATS, Limits, ResizeSpec, output_format_for

__all__ = ["ImageInfo", "Made", "ResizeResult", "SetRender", "SetResult", "engine_for", "output_formats", "probe",
           "render_set", "resize", "resize_bytes", "start_set"]


_FEATURE = {"WEBP": "webp", "JPEG": "jpg", "PNG": "zlib"}  # the library each encoder needs


@cache
def output_formats() -> dict[str, str]:
    """Output format names this Pillow build can write, e.g. ``{"jpeg": "JPEG", ...}`` (AVIF where Pillow
    was built with libavif: its plugin then registers a writer)."""
    Image.init()
    return {name: fmt for name, fmt in OUTPUT_FORMATS.items()
            if fmt in Image.SAVE and (fmt not in _FEATURE or features.check(_FEATURE[fmt]))}


@dataclass(frozen=True)
class ResizeResult:
    width: int
    height: int
    format: str
    frames: int
    bytes: int = 0
    engine: str = "pillow"


@dataclass(frozen=True)
class SetResult:
    outputs: list[Made]  # in the order of the specs
    engine: str  # vips or pillow
    placeholder: str = ""


@dataclass(frozen=True)
class SetRender:
    """A set being made: the picture is decoded (and the placeholder computed); each output is made as
    ``outputs`` reaches it, as (its index in the specs, what was made)."""

    engine: str
    placeholder: str
    outputs: Iterator[tuple[int, Made]]


def engine_for(engine: str, info: ImageInfo, out_fmt: str) -> str:
    """The engine that resizes this image to this format: libvips where it is installed, allowed and
    suitable."""
    return engine_for_set(engine, info, [out_fmt])


def engine_for_set(engine: str, info: ImageInfo, formats: Sequence[str]) -> str:
    """libvips when it takes the input and writes every output; Pillow otherwise (one engine per job)."""
    if engine != "pillow" and vips.available() and \
            all(vips.suitable(info.format, info.mode, info.frames, fmt) for fmt in formats):
        return "vips"
    return "pillow"


def render_set(data: bytes, specs: Sequence[ResizeSpec], limits: Limits = Limits(), engine: str = "auto",
               placeholder: Placeholder | None = None, names: Sequence[str] = ()) -> SetResult:
    """Every output of ``specs`` from one decode of ``data`` (see ``start_set``), all made."""
    started = start_set(data, specs, limits, engine, placeholder, names)
    made = dict(started.outputs)
    return SetResult([made[i] for i in range(len(specs))], started.engine, started.placeholder)


def start_set(data: bytes, specs: Sequence[ResizeSpec], limits: Limits = Limits(), engine: str = "auto",
              placeholder: Placeholder | None = None, names: Sequence[str] = ()) -> SetRender:
    """Decode ``data`` once for every output of ``specs``, checked against ``limits`` first (the whole set's
    pixels together); the outputs are made as the result's iterator reaches them. ``names`` (a set's) go into
    the error of an output that fails alone. Raises an ImageError for bad input, now or from the iterator."""
    writable = output_formats()
    for spec in specs:
        spec.validate(limits, writable)
    with decode_errors():
        header, info = examine(data, limits)  # a WebP without Pillow (no image): libvips may well decode it
        try:
            formats = [output_format_for(info.format, spec, writable) for spec in specs]
            check_work(info, list(zip(specs, formats, strict=True)), limits)
        except BaseException:
            _close(header)
            raise
        wanted = [Wanted(spec, compute_geometry(info.width, info.height, spec), fmt, name)
                  for spec, fmt, name in zip(specs, formats, names or [""] * len(specs), strict=True)]
        if engine_for_set(engine, info, formats) == "vips":
            _close(header)
            return _vips(data, info, wanted, placeholder)
        im = header if header is not None else open_image(data)
        try:
            picture, outputs = pillow_engine.render_set(im, info.frames, wanted)
            value = placeholders.compute(placeholders.small(picture, placeholder), placeholder) if placeholder else ""
        except BaseException:
            im.close()
            raise
    return SetRender("pillow", value, _closing(outputs, im))


def _close(im: Image.Image | None) -> None:
    if im is not None:
        im.close()


def _closing(outputs: Iterator[tuple[int, Made]], im: Image.Image) -> Iterator[tuple[int, Made]]:
    """The outputs, the image closed once they are made (or given up)."""
    try:
        yield from outputs
    finally:
        im.close()


def _vips(data: bytes, info: ImageInfo, wanted: list[Wanted], placeholder: Placeholder | None) -> SetRender:
    upright = info.orientation in (0, 1)
    one = wanted[0]
    if len(wanted) == 1 and placeholder is None and one.geo.smart is None and \
            (one.geo.box == FULL or one.spec.focal is None):  # one output: straight from the encoded bytes
        encoded, width, height = vips.render(data, one.geo, one.spec, one.format, upright, info.format)
        return SetRender("vips", "", iter([(0, Made(encoded, width, height, one.format))]))
    side = placeholders.SOURCE_SIDE[placeholder] if placeholder else 0
    small, outputs = vips.render_set(data, (info.width, info.height), wanted, upright, info.format, side)
    value = placeholders.compute(small, placeholder) if small is not None and placeholder else ""
    return SetRender("vips", value, outputs)


def resize(src: Source, dst: Path | IO[bytes], spec: ResizeSpec, limits: Limits = Limits(),
           engine: str = "auto") -> ResizeResult:
    """Resize ``src`` by ``spec`` and write the encoded image to ``dst``.

    EXIF orientation is applied first; metadata is dropped (the ICC profile too unless the spec keeps
    it); alpha is flattened onto ``spec.background`` when the output format has none. Raises an
    ImageError for bad input."""
    result = render_set(_as_bytes(src), [spec], limits, engine)
    made = result.outputs[0]
    if isinstance(dst, Path):
        dst.write_bytes(made.data)
    else:
        dst.write(made.data)
    return ResizeResult(made.width, made.height, made.format, made.frames, len(made.data), result.engine)


def _as_bytes(src: Source) -> bytes:
    if isinstance(src, bytes):
        return src
    if isinstance(src, Path):
        return src.read_bytes()
    src.seek(0)
    return src.read()


def resize_bytes(data: bytes, spec: ResizeSpec, limits: Limits = Limits(),
                 engine: str = "auto") -> tuple[bytes, ResizeResult]:
    """Like ``resize`` but in memory: returns the encoded bytes and what was made."""
    out = io.BytesIO()
    result = resize(data, out, spec, limits, engine)
    return out.getvalue(), result
