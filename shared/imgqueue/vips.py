"""The libvips engine: the whole resize in libvips (``pip install 'imgqueue[vips]'``: pyvips and the
pyvips-binary wheel, which bundles libvips).

One ``thumbnail`` call decodes no more pixels than the output needs (JPEG and WebP shrink while they
load, PNG streams row by row), applies the EXIF orientation, resizes to the exact geometry the
Pillow engine computes (``imgqueue.geometry``), then padding, flattening and encoding happen in libvips
too: the pixels never cross into Python. The encoders use sharp's defaults. It takes the inputs that it
treats exactly as the Pillow engine does (``suitable``); the rest (animation, CMYK, 16-bit grey, GIF,
BMP, TIFF and AVIF, AVIF and GIF outputs) go to Pillow. Pixels become sRGB through an embedded ICC
profile (or keep it, unconverted, with ``keep_icc``); every other piece of metadata is dropped. A set
of outputs comes from one decode (``render_set``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from PIL import Image

from .errors import CorruptImage
from .geometry import FULL, Geometry
from .outputs import Made, Wanted, naming
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
_LARGEST = 10_000_000  # thumbnail's size for "as large as it is" (with size="down": never enlarged)
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
    """Resize the encoded image ``data`` to ``geo`` and encode it as ``out_fmt``: (bytes, width, height),
    in one pipeline from the encoded bytes (one output: nothing to share).

    ``upright``: the probe found no EXIF orientation to apply (a PNG's eXIf after the pixels is not
    looked for, as in the Pillow engine). Raises CorruptImage for input libvips cannot decode."""
    pyvips = _pyvips()
    with _errors(pyvips):
        image = _checked(_thumbnail(pyvips, data, geo, upright), in_fmt)
        if not spec.keep_icc:
            image = _srgb(image)
        image = _pad_and_flatten(image, geo, spec, out_fmt)
        return image.write_to_buffer(_SUFFIX[out_fmt], **save_options(out_fmt, spec)), image.width, image.height


def render_set(data: bytes, size: tuple[int, int], wanted: Sequence[Wanted], upright: bool, in_fmt: str,
               placeholder_side: int = 0) -> tuple[Image.Image | None, Iterator[tuple[int, Made]]]:
    """Every output of ``wanted`` from one decode: the image is decoded once (now), shrunk on load no
    further than the largest output needs, kept in memory; each output is derived from it, or from a larger
    output of the same crop (each resize then starts from fewer pixels), as the iterator reaches it, the
    largest first. With ``placeholder_side``, also the upright sRGB picture at that size."""
    pyvips = _pyvips()
    with _errors(pyvips):
        base = _checked(_base(pyvips, data, size, wanted, upright), in_fmt).copy_memory()
        converted = any(not w.spec.keep_icc for w in wanted) or placeholder_side
        sources = {True: base, False: _srgb(base).copy_memory() if converted else base}
        small = _to_pillow(sources[False].thumbnail_image(placeholder_side)) if placeholder_side else None
    return small, _derived(pyvips, sources, wanted)


def _derived(pyvips: Any, sources: dict[bool, Any], wanted: Sequence[Wanted]) -> Iterator[tuple[int, Made]]:
    derived: list[tuple[Any, bool]] = []  # whole-frame outputs made so far, largest first, by profile kept
    for index in sorted(range(len(wanted)), key=lambda i: -wanted[i].geo.pixels):
        w = wanted[index]
        with naming(w.name), _errors(pyvips):
            image = _derive(sources[w.spec.keep_icc], w.geo, [d for d, kept in derived if kept == w.spec.keep_icc])
            if w.geo.box == FULL:  # a source for the smaller ones: made once, kept in memory
                image = image.copy_memory()
                derived.append((image, w.spec.keep_icc))
            out = _pad_and_flatten(image, w.geo, w.spec, w.format)
            encoded = out.write_to_buffer(_SUFFIX[w.format], **save_options(w.format, w.spec))
        yield index, Made(encoded, out.width, out.height, w.format)


@contextmanager
def _errors(pyvips: Any) -> Iterator[None]:
    """libvips' errors as ours: memory refused is MemoryError, anything else the input's fault."""
    try:
        yield
    except pyvips.Error as exc:
        detail = next((line.strip() for line in (exc.detail or "").splitlines() if line.strip()), exc.message)
        if any(m in detail.lower() for m in _MEMORY):
            raise MemoryError(detail) from None
        raise CorruptImage(f"the image could not be decoded ({detail[:100]})") from None


def _checked(image: Any, in_fmt: str) -> Any:
    if in_fmt and not str(image.get("vips-loader")).startswith(in_fmt.lower()):
        raise CorruptImage(f"the image could not be decoded (libvips reads it as another format than {in_fmt})")
    return image


def _base(pyvips: Any, data: bytes, size: tuple[int, int], wanted: Sequence[Wanted], upright: bool) -> Any:
    """The picture (``size``: upright), at the scale of the largest output (shrunk on load where the format
    can)."""
    scale = min(1.0, max(w.geo.scale for w in wanted))
    target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    image = pyvips.Image.thumbnail_buffer(data, target[0], height=target[1], size="force", no_rotate=upright,
                                          option_string="fail_on=truncated")
    return _eight_bit(image)


def _derive(source: Any, geo: Geometry, larger: list[Any]) -> Any:
    """One output's picture (before padding) from the base, or from the smallest larger whole frame."""
    width, height = geo.size
    if geo.box == FULL:
        fits = [d for d in larger if d.width >= width and d.height >= height]
        source = fits[-1] if fits else source
        if (source.width, source.height) == geo.size:
            return source
        return source.thumbnail_image(width, height=height, size="force")
    if geo.smart is not None:
        enlarge = max(width / source.width, height / source.height)
        if enlarge > 1:  # find the window at the source's size, then enlarge the window alone
            window = (min(source.width, max(1, round(width / enlarge))),
                      min(source.height, max(1, round(height / enlarge))))
            return source.smartcrop(*window, interesting=geo.smart.value).thumbnail_image(width, height=height,
                                                                                         size="force")
        return source.thumbnail_image(width, height=height, crop=geo.smart.value)
    left, top = round(geo.box[0] * source.width), round(geo.box[1] * source.height)
    area_w = max(1, min(source.width - left, round((geo.box[2] - geo.box[0]) * source.width)))
    area_h = max(1, min(source.height - top, round((geo.box[3] - geo.box[1]) * source.height)))
    area = source.extract_area(left, top, area_w, area_h)
    return area if (area_w, area_h) == geo.size else area.thumbnail_image(width, height=height, size="force")


def _srgb(image: Any) -> Any:
    """The pixels in sRGB from the embedded profile, the profile dropped (sharp's default)."""
    if not image.get_typeof("icc-profile-data") or image.bands < 3:
        return image
    try:
        converted = image.icc_transform("srgb", embedded=True, intent="perceptual")
    except _pyvips().Error:
        return image  # a profile lcms cannot use: the pixels as they are
    converted = converted.copy()
    converted.remove("icc-profile-data")
    return converted


def _to_pillow(image: Any) -> Image.Image:
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[image.bands]
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def _thumbnail(pyvips: Any, data: bytes, geo: Geometry, upright: bool) -> Any:
    """Decode (shrinking on load where the format can) and resize to ``geo.size`` in one pipeline."""
    width, height = geo.size
    if geo.box != FULL and geo.scale > 1:
        # A cover that enlarges: thumbnail would enlarge the whole picture and then cut it (an 8000 x 1 PNG
        # to 300 x 300 made 720 million pixels and a gigabyte); cut the box out first, enlarge it alone.
        whole = pyvips.Image.thumbnail_buffer(data, _LARGEST, height=_LARGEST, size="down", no_rotate=upright,
                                              option_string="fail_on=truncated")
        return _derive(_eight_bit(whole), geo, [])
    # The loader's fail_on goes in the option string (thumbnail's own fail_on does not reach it here):
    # a truncated file fails, as with Pillow, rather than coming out half grey.
    options: dict[str, Any] = {"height": height, "no_rotate": upright, "option_string": "fail_on=truncated"}
    if geo.box == FULL:
        options["size"] = "force"  # exactly geo.size: the aspect ratio was already decided by the geometry
    else:
        options["crop"] = "centre"  # cover: scale to fill, then cut the middle, as geo.box says
    return _eight_bit(pyvips.Image.thumbnail_buffer(data, width, **options))


def _eight_bit(image: Any) -> Any:
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
    filters, Huffman tables optimised for JPEG); no metadata, or the ICC profile alone when it is kept."""
    quality = spec.quality or DEFAULT_QUALITY.get(out_fmt, 80)
    keep = "icc" if spec.keep_icc else "none"
    if out_fmt == "JPEG":
        return {"Q": quality, "interlace": spec.progressive, "optimize_coding": True, "keep": keep}
    if out_fmt == "PNG":
        return {"compression": 6, "filter": "none", "keep": keep}
    return {"Q": quality, "effort": 4, "alpha_q": 100, "keep": keep}
