"""What an input is and what it would cost, from its header: no pixel is decoded here.

Only the formats imgqueue decodes are ever parsed (``Image.open(..., formats=...)``); another format is
named from its magic bytes alone. Before Pillow reads a file, its structure is walked from the bytes
(``layout``): every frame's own extent, every page, every metadata chunk, with an early stop, so a
million-frame GIF or a million-chunk PNG costs as much as one just over the limit. ``check_work`` bounds
what a resize may produce, animations summed over their frames, input and output alike (as imgproxy's
resolution limits do). Any exception a decoder raises on hostile input becomes an ImageError with a
code, never anything else.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from .errors import (
    CorruptImage,
    ImgqueueError,
    NotAnImage,
    OutputTooLarge,
    TooManyFrames,
    TooManyPixels,
    UnsupportedFormat,
)
from .geometry import compute_geometry
from .layout import Budget, Layout, jpeg_frames, walk
from .spec import ANIMATED_OUTPUTS, Limits, ResizeSpec

Source = bytes | Path | IO[bytes]
# The formats we decode, by Pillow's plugin names (MPO arrives through the JPEG plugin).
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
INPUT_FORMATS = frozenset({*OPEN_FORMATS, "MPO"})
ORIENTATION_TAG = 0x0112
_SNIFF = 64  # bytes of the header that name a format


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # after EXIF orientation
    height: int
    frames: int
    mode: str
    orientation: int = 1  # the EXIF orientation still to apply (1: upright)

    @property
    def pixels(self) -> int:
        return self.width * self.height


@contextmanager
def decode_errors() -> Iterator[None]:
    """Map whatever a decoder raises on bad input onto our permanent image errors.

    Safe in any thread: it touches no global state (no ``warnings.catch_warnings``, which is not
    thread-safe) and takes no lock (no logging)."""
    try:
        yield
    except ImgqueueError:
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"image is too large to decode safely: {exc}") from None
    except UnidentifiedImageError:
        raise NotAnImage("the file is not an image in any format we can read") from None
    except MemoryError:
        raise
    except Exception as exc:  # struct.error, NotImplementedError, RecursionError...: the input's fault
        raise CorruptImage(f"the image could not be decoded ({type(exc).__name__}: {str(exc)[:100]})") from None


def load_decoders() -> None:
    """Import every Pillow plugin now, in the calling thread, rather than on first use (wherever that
    happens to be: a process that probes in other threads calls this first)."""
    Image.init()
    from PIL import ExifTags, TiffImagePlugin  # noqa: F401  (getexif's lazy imports)


def open_image(src: Source) -> Image.Image:
    """Open one of the formats we decode; UnsupportedFormat (named) or NotAnImage for anything else."""
    fp = io.BytesIO(src) if isinstance(src, bytes) else src
    try:
        return Image.open(fp, formats=_readable())
    except UnidentifiedImageError:
        raise _unidentified(fp) from None


@cache
def _readable() -> tuple[str, ...]:
    """The formats we decode that this Pillow build reads (AVIF needs Pillow built with libavif)."""
    Image.init()
    return tuple(f for f in OPEN_FORMATS if f in Image.OPEN)


def _unidentified(fp: Path | IO[bytes]) -> ImgqueueError:
    """Name another format from its first bytes only (each plugin's magic-number test), parsing nothing."""
    if isinstance(fp, Path):
        prefix = fp.open("rb").read(_SNIFF)
    else:
        fp.seek(0)
        prefix = fp.read(_SNIFF)
        fp.seek(0)
    Image.init()
    for name, (_factory, accept) in Image.OPEN.items():
        try:
            known = name not in INPUT_FORMATS and accept is not None and bool(accept(prefix))
        except Exception:  # a magic test that cannot read so short a prefix: not this one
            known = False
        if known:
            return UnsupportedFormat(f"{name} images are not supported; send JPEG, PNG, WebP, GIF, AVIF, BMP or TIFF")
    return NotAnImage("the file is not an image in any format we can read")


def orientation(im: Image.Image) -> int:
    """The EXIF orientation, from the header only: Pillow's PNG ``getexif`` decodes the whole image to
    look for an eXIf chunk after the pixels, so a PNG without one in its header counts as upright."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    return int(im.getexif().get(ORIENTATION_TAG, 1))


def budget(limits: Limits) -> Budget:
    return Budget(limits.max_frames, limits.max_pixels, limits.max_metadata_segments, limits.max_metadata_bytes)


def inspect(src: Source, limits: Limits) -> tuple[Image.Image, ImageInfo]:
    """Open an image and check it against ``limits`` from its headers alone: its structure walked from the
    bytes first (every frame's extent, its metadata), so that Pillow never parses a file over a limit;
    then the format, the size, the frames. The caller closes the image."""
    im, info = examine(src, limits)
    return (im if im is not None else open_image(src)), info


def examine(src: Source, limits: Limits) -> tuple[Image.Image | None, ImageInfo]:
    """``inspect``, except that a WebP is read from its own header alone, without Pillow (no image: None).
    Pillow's WebP reader allocates and clears the whole canvas to open a file: 13 ms for a 4096x4096
    photo, in the API and again in the worker, where libvips then decodes it."""
    layout = walk(src, budget(limits))
    if layout is not None and layout.alpha is not None:
        return None, _webp_info(layout, limits)
    im = open_image(src)
    try:
        return im, check_header(im, limits, layout, src)
    except BaseException:
        im.close()
        raise


def _webp_info(layout: Layout, limits: Limits) -> ImageInfo:
    """What Pillow would say of a WebP (its mode RGBA when it has alpha), from the walk of its chunks."""
    _check_pixels(layout.width, layout.height, limits)
    turn = int(_exif(layout.exif).get(ORIENTATION_TAG, 1)) if layout.exif else 1
    w, h = (layout.height, layout.width) if turn in (5, 6, 7, 8) else (layout.width, layout.height)
    return ImageInfo("WEBP", w, h, layout.frames, "RGBA" if layout.alpha else "RGB", turn)


def _exif(data: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(data)
    return exif


def check_header(im: Image.Image, limits: Limits, layout: Layout | None, src: Source) -> ImageInfo:
    """Format, size and frames within the limits: a frame over MAX_INPUT_PIXELS, too many frames, or all
    frames together over MAX_INPUT_PIXELS are refused. ``layout``: the walk of the file's structure, where
    its format has one; the other formats' frames are counted through Pillow's header readers."""
    fmt = im.format or "?"
    if fmt not in INPUT_FORMATS:
        raise UnsupportedFormat(f"{fmt} images are not supported; send JPEG, PNG, WebP, GIF, AVIF, BMP or TIFF")
    _check_pixels(im.width, im.height, limits)
    frames = _frames(im, layout, src, limits)
    turn = orientation(im)
    w, h = (im.height, im.width) if turn in (5, 6, 7, 8) else (im.width, im.height)
    return ImageInfo(fmt, w, h, frames, im.mode, turn)


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    pixels = width * height
    if pixels > limits.max_pixels or (Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS):
        limit = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
        raise TooManyPixels(f"image has {width}x{height} = {pixels} pixels, more than the limit of {limit}")


def _frames(im: Image.Image, layout: Layout | None, src: Source, limits: Limits) -> int:
    """How many frames, each checked (in the walk) against the pixel limits."""
    if im.format == "MPO":
        mpinfo = getattr(im, "mpinfo", None) or {}
        entries = mpinfo.get(0xB002, [])
        if layout is None or not layout.mp_offsets or len(entries) > limits.max_frames:
            raise TooManyFrames(f"an MPO of more than {limits.max_frames} images, or without its index")
        offsets = [0] + [int(e["DataOffset"]) + layout.mp_offsets[0] for e in entries[1:]]
        return jpeg_frames(src, offsets, budget(limits)).frames
    if layout is not None:
        return layout.frames
    frames = int(getattr(im, "n_frames", 1))  # AVIF, BMP: every frame the first one's size
    if frames > limits.max_frames:
        raise TooManyFrames(f"animation has more than {limits.max_frames} frames (the limit)")
    if frames * im.width * im.height > limits.max_pixels:
        raise TooManyPixels(f"animation has {frames} frames of {im.width * im.height} pixels, more than the limit of "
                            f"{limits.max_pixels} pixels in all")
    return frames


def probe(src: Source, limits: Limits = Limits()) -> ImageInfo:
    """Read the header (and check a PNG's chunks): format, oriented size, frame count. Raises an
    ImageError if unusable. Pixels are not decoded."""
    with decode_errors():
        im, info = examine(src, limits)
        if im is None:
            return info
        try:
            if info.format == "PNG":
                im.verify()  # chunk CRCs, without inflating the pixels: catches truncated and corrupt files
            return info
        finally:
            if isinstance(src, (bytes, Path)):  # a caller's file object stays open for the caller
                im.close()


def check_work(info: ImageInfo, outputs: Sequence[tuple[ResizeSpec, str]], limits: Limits) -> int:
    """The pixels a resize of ``info`` into ``outputs`` (spec, format) writes, every frame of an animation
    that stays one, the outputs of a set together; OutputTooLarge over MAX_OUTPUT_PIXELS."""
    total = 0
    for spec, out_fmt in outputs:
        frames = info.frames if out_fmt in ANIMATED_OUTPUTS else 1
        total += compute_geometry(info.width, info.height, spec).pixels * frames
    if total > limits.max_output_pixels:
        if len(outputs) > 1:
            raise OutputTooLarge(f"the {len(outputs)} outputs would have {total} pixels together, more than the "
                                 f"limit of {limits.max_output_pixels}")
        frames = info.frames if outputs[0][1] in ANIMATED_OUTPUTS else 1
        what = f"{frames} frames of " if frames > 1 else ""
        raise OutputTooLarge(f"the output would have {what}{total // frames} pixels, more than the limit of "
                             f"{limits.max_output_pixels} pixels in all")
    return total
