"""The libvips engine: the whole resize in libvips (``pip install 'imgqueue[vips]'``: pyvips and the
pyvips-binary wheel, which bundles libvips).

One ``thumbnail`` call decodes no more pixels than the output needs (JPEG and WebP shrink while they
load, PNG streams row by row), applies the EXIF orientation, resizes to the exact geometry the
Pillow engine computes (``imgqueue.geometry``), then padding, flattening and encoding happen in libvips
too: the pixels never cross into Python. The encoders use sharp's defaults. It takes the inputs that it
treats exactly as the Pillow engine does (``suitable``); the rest (animation, CMYK, 16-bit grey, GIF,
BMP, TIFF and AVIF, AVIF and GIF outputs) go to Pillow. An embedded ICC profile is kept, unconverted,
as with Pillow; every other piece of metadata is dropped.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from .errors import CorruptImage
from .geometry import FULL, Geometry
from .spec import ALPHA_OUTPUTS, DEFAULT_QUALITY, ResizeSpec, grey_of, parse_colour

# What libvips takes here: inputs by Pillow's format and mode names (and the libvips loader each must reach),
# outputs by format. Every other loader is blocked, as are those libvips itself calls untrusted: the bytes
# Pillow identified can reach no other loader than the one of their format.
LOADERS = {"JPEG": "VipsForeignLoadJpeg", "PNG": "VipsForeignLoadPng", "WEBP": "VipsForeignLoadWebp"}
INPUTS = frozenset(LOADERS)
MODES = frozenset({"RGB", "RGBA", "L", "LA", "P", "1"})
OUTPUTS = frozenset({"JPEG", "PNG", "WEBP"})
MIN_VERSION = (8, 15)  # the ``keep`` option of the savers
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# libvips' and its loaders' words for an allocation refused (WORKER_MEMORY_LIMIT also bounds thread stacks).
_MEMORY = ("out of memory", "insufficient memory", "cannot allocate", "memory area too large", "error creating thread")


@cache
def _pyvips() -> Any:
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    if (pyvips.version(0), pyvips.version(1)) < MIN_VERSION:
        return None
    pyvips.cache_set_max(0)  # every job is a new image: a cache only holds memory
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in LOADERS.values():
        pyvips.operation_block_set(loader, False)
    return pyvips


def available() -> bool:
    return _pyvips() is not None


def version() -> str | None:
    pyvips = _pyvips()
    return f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}" if pyvips else None


def set_threads(threads: int) -> None:
    """Threads libvips may use for one image (its default is one per CPU)."""
    os.environ["VIPS_CONCURRENCY"] = str(threads)
    pyvips = _pyvips()
    if pyvips is not None and hasattr(pyvips, "concurrency_set"):
        pyvips.concurrency_set(threads)


def suitable(fmt: str, mode: str, frames: int, out_fmt: str) -> bool:
    """Whether libvips gives this input the same treatment as the Pillow engine."""
    return fmt in INPUTS and mode in MODES and frames == 1 and out_fmt in OUTPUTS


def render(data: bytes, geo: Geometry, spec: ResizeSpec, out_fmt: str, upright: bool,
           in_fmt: str = "") -> tuple[bytes, int, int]:
    """Resize the encoded image ``data`` to ``geo`` and encode it as ``out_fmt``: (bytes, width, height).

    ``upright``: the probe found no EXIF orientation to apply (a PNG's eXIf after the pixels is not
    looked for, as in the Pillow engine). Raises CorruptImage for input libvips cannot decode."""
    pyvips = _pyvips()
    try:
        image = _thumbnail(pyvips, data, geo, upright)
        if in_fmt and not str(image.get("vips-loader")).startswith(in_fmt.lower()):
            raise CorruptImage(f"the image could not be decoded (libvips reads it as another format than "
                               f"{in_fmt})")
        image = _pad_and_flatten(image, geo, spec, out_fmt)
        encoded = image.write_to_buffer(_SUFFIX[out_fmt], **save_options(out_fmt, spec))
    except pyvips.Error as exc:
        detail = next((line.strip() for line in (exc.detail or "").splitlines() if line.strip()), exc.message)
        if any(m in detail.lower() for m in _MEMORY):
            raise MemoryError(detail) from None
        raise CorruptImage(f"the image could not be decoded ({detail[:100]})") from None
    return encoded, image.width, image.height


def _thumbnail(pyvips: Any, data: bytes, geo: Geometry, upright: bool) -> Any:
    """Decode (shrinking on load where the format can) and resize to ``geo.size`` in one pipeline."""
    width, height = geo.size
    # The loader's fail_on goes in the option string (thumbnail's own fail_on does not reach it here):
    # a truncated file fails, as with Pillow, rather than coming out half grey.
    options: dict[str, Any] = {"height": height, "no_rotate": upright, "option_string": "fail_on=truncated"}
    if geo.box == FULL:
        options["size"] = "force"  # exactly geo.size: the aspect ratio was already decided by the geometry
    else:
        options["crop"] = "centre"  # cover: scale to fill, then cut the middle, as geo.box says
    image = pyvips.Image.thumbnail_buffer(data, width, **options)
    if image.format != "uchar":  # a 16-bit RGB PNG: Pillow reads its high bytes, so do we
        image = image.colourspace("srgb" if image.bands >= 3 else "b-w")
    return image


def _pad_and_flatten(image: Any, geo: Geometry, spec: ResizeSpec, out_fmt: str) -> Any:
    background = parse_colour(spec.background)
    colour = list(background) if image.bands >= 3 else [grey_of(background)]
    if geo.canvas != geo.size:  # contain: an opaque background around the picture
        fill = [*colour, 255] if image.hasalpha() else colour
        image = image.embed(geo.offset[0], geo.offset[1], geo.canvas[0], geo.canvas[1],
                            extend="background", background=fill)
    if image.hasalpha() and out_fmt not in ALPHA_OUTPUTS:
        image = image.flatten(background=colour).cast("uchar")
    return image


def save_options(out_fmt: str, spec: ResizeSpec) -> dict[str, Any]:
    """The encoder settings, sharp's defaults (JPEG and WebP quality 80, PNG compression 6 without row
    filters, Huffman tables optimised for JPEG); only the ICC profile is written as metadata."""
    quality = spec.quality or DEFAULT_QUALITY.get(out_fmt, 80)
    if out_fmt == "JPEG":
        return {"Q": quality, "interlace": spec.progressive, "optimize_coding": True, "keep": "icc"}
    if out_fmt == "PNG":
        return {"compression": 6, "filter": "none", "keep": "icc"}
    return {"Q": quality, "effort": 4, "alpha_q": 100, "keep": "icc"}
