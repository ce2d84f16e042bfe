"""What an input is and what it would cost, from its header: no pixel is decoded here.

Only the formats imgqueue decodes are ever parsed (``Image.open(..., formats=...)``); another format is
named from its magic bytes alone. Frames are counted with an early stop, so a million-frame GIF costs as
much as one over the limit. ``check_work`` bounds what a resize may produce, animations summed over their
frames, input and output alike (as imgproxy's resolution limits do). Any exception a decoder raises on
hostile input becomes an ImageError with a code, never anything else.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from .spec import ANIMATED_OUTPUTS, Limits, ResizeSpec

Source = bytes | Path | IO[bytes]
# The formats we decode, by Pillow's plugin names (MPO arrives through the JPEG plugin).
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
INPUT_FORMATS = frozenset({*OPEN_FORMATS, "MPO"})
_WALKED = frozenset({"GIF", "TIFF"})  # formats whose frame count is found by walking the file
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
        return Image.open(fp, formats=OPEN_FORMATS)
    except UnidentifiedImageError:
        raise _unidentified(fp) from None


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


def count_frames(im: Image.Image, stop: int) -> int:
    """Frames of ``im``, counted no further than ``stop`` (GIF and TIFF are walked frame by frame without
    decoding; the other formats say it in their header)."""
    if im.format not in _WALKED:
        return int(getattr(im, "n_frames", 1))
    frames = 1
    try:
        while frames < stop:
            im._seek(frames, False) if im.format == "GIF" else im._seek(frames)  # type: ignore[attr-defined]
            frames += 1
    except EOFError:
        pass
    im._seek(0, False) if im.format == "GIF" else im._seek(0)  # type: ignore[attr-defined]
    return frames


def check_header(im: Image.Image, limits: Limits) -> ImageInfo:
    """Format, size and frames within the limits: a frame over MAX_INPUT_PIXELS, too many frames, or all
    frames together over MAX_INPUT_PIXELS are refused."""
    fmt = im.format or "?"
    if fmt not in INPUT_FORMATS:
        raise UnsupportedFormat(f"{fmt} images are not supported; send JPEG, PNG, WebP, GIF, AVIF, BMP or TIFF")
    pixels = im.width * im.height
    if pixels > limits.max_pixels or (Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS):
        limit = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
        raise TooManyPixels(f"image has {im.width}x{im.height} = {pixels} pixels, more than the limit of {limit}")
    frames = count_frames(im, min(limits.max_frames, limits.max_pixels // max(1, pixels)) + 1)
    if frames > limits.max_frames:
        raise TooManyFrames(f"animation has more than {limits.max_frames} frames (the limit)")
    if frames * pixels > limits.max_pixels:
        raise TooManyPixels(f"animation has {frames} frames of {pixels} pixels, more than the limit of "
                            f"{limits.max_pixels} pixels in all")
    turn = orientation(im)
    w, h = (im.height, im.width) if turn in (5, 6, 7, 8) else (im.width, im.height)
    return ImageInfo(fmt, w, h, frames, im.mode, turn)


def probe(src: Source, limits: Limits = Limits()) -> ImageInfo:
    """Read the header (and check a PNG's chunks): format, oriented size, frame count. Raises an
    ImageError if unusable. Pixels are not decoded."""
    with decode_errors():
        im = open_image(src)
        try:
            info = check_header(im, limits)
            if info.format == "PNG":
                im.verify()  # chunk CRCs, without inflating the pixels: catches truncated and corrupt files
            return info
        finally:
            if isinstance(src, (bytes, Path)):  # a caller's file object stays open for the caller
                im.close()


def check_work(info: ImageInfo, spec: ResizeSpec, out_fmt: str, limits: Limits) -> int:
    """The pixels a resize of ``info`` by ``spec`` writes (every frame of an animation that stays one);
    OutputTooLarge over MAX_OUTPUT_PIXELS."""
    frames = info.frames if out_fmt in ANIMATED_OUTPUTS else 1
    pixels = compute_geometry(info.width, info.height, spec).pixels * frames
    if pixels > limits.max_output_pixels:
        what = f"{frames} frames of " if frames > 1 else ""
        raise OutputTooLarge(f"the output would have {what}{pixels // frames} pixels, more than the limit of "
                             f"{limits.max_output_pixels} pixels in all")
    return pixels
