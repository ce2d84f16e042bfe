"""What an image file's structure says before a pixel is decoded: every frame's extent and how much metadata
it carries, walked from the raw bytes.

The walk covers the formats whose structure Pillow would otherwise read chunk by chunk in Python (GIF,
PNG, JPEG and MPO, WebP), and it stops at the first limit passed, so a hostile file costs no more than one
at the limit: a GIF whose frames outgrow its logical screen, a PNG of a million text chunks, a JPEG of
endless APP segments. TIFF pages and AVIF sequences are counted by the probe through Pillow, whose
readers of those formats stop at the page or box they are asked for.

Every frame is counted at the size it is decoded at: a GIF draws each frame on a canvas as large as the
largest extent of any of its frames, so that canvas is what a frame costs.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import CorruptImage, TooManyFrames, TooManyPixels, TooMuchMetadata

Source = bytes | Path | IO[bytes]


@dataclass(frozen=True)
class Budget:
    """What a file's structure may hold: frames, pixels (one frame, and all frames together), metadata
    segments (chunks, APP segments, extension blocks) and metadata bytes."""

    max_frames: int
    max_pixels: int
    max_segments: int
    max_metadata_bytes: int


@dataclass(frozen=True)
class Layout:
    width: int  # the canvas every frame is decoded on
    height: int
    frames: int
    segments: int
    metadata_bytes: int
    mp_offsets: tuple[int, ...] = ()  # JPEG: where the MPF index's offsets count from (the MPO frames)
    alpha: bool | None = None  # WebP: whether its pixels have alpha (None: the walk does not say)
    exif: bytes = b""  # WebP: its EXIF chunk

    @property
    def pixels(self) -> int:
        return self.width * self.height


class _Tally:
    """Counts as a walk goes, raising the moment a budget is passed."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.width = self.height = self.frames = self.segments = self.metadata_bytes = 0

    def frame(self, right: int, bottom: int) -> None:
        self.frames += 1
        self.width, self.height = max(self.width, right), max(self.height, bottom)
        self.check_frames()

    def check_frames(self) -> None:
        b = self.budget
        pixels = self.width * self.height
        if pixels > b.max_pixels:
            raise TooManyPixels(f"a frame is {self.width}x{self.height} = {pixels} pixels, more than the limit of "
                                f"{b.max_pixels}")
        if self.frames > b.max_frames:
            raise TooManyFrames(f"the file has more than {b.max_frames} frames or pages (the limit)")
        if self.frames * pixels > b.max_pixels:
            raise TooManyPixels(f"the file has {self.frames} or more frames or pages of {pixels} pixels, more than the "
                                f"limit of {b.max_pixels} pixels in all")

    def metadata(self, size: int) -> None:
        self.segments += 1
        self.metadata_bytes += size
        b = self.budget
        if self.segments > b.max_segments:
            raise TooMuchMetadata(f"the file holds more than {b.max_segments} metadata chunks or segments "
                                  "(the limit)")
        if self.metadata_bytes > b.max_metadata_bytes:
            raise TooMuchMetadata(f"the file holds more than {b.max_metadata_bytes} bytes of metadata (the limit)")

    def layout(self, mp_offsets: tuple[int, ...] = (), alpha: bool | None = None, exif: bytes = b"") -> Layout:
        return Layout(self.width, self.height, self.frames, self.segments, self.metadata_bytes, mp_offsets, alpha,
                      exif)


def walk(src: Source, budget: Budget) -> Layout | None:
    """The layout of a GIF, PNG, JPEG or WebP file (None for any other format); TooManyPixels,
    TooManyFrames, TooMuchMetadata or CorruptImage as soon as the walk finds it."""
    with _view(src) as buf:
        walker = _walker(bytes(buf[:16]))
        if walker is None:
            return None
        try:
            return walker(buf, budget)
        except (struct.error, IndexError, ValueError):
            raise CorruptImage("the image could not be decoded (its structure is cut short or malformed)") from None


def _walker(head: bytes) -> Callable[[memoryview, Budget], Layout] | None:
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _gif
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _png
    if head[:2] == b"\xff\xd8":
        return _jpeg
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp
    return None


def _gif(buf: memoryview, budget: Budget) -> Layout:
    tally = _Tally(budget)
    width, height, flags = struct.unpack_from("<HHB", buf, 6)
    tally.width, tally.height = width, height
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(buf):
        kind = buf[pos]
        if kind == 0x3B:  # trailer
            break
        if kind == 0x2C:  # an image: its extent, its colour table, its data
            x, y, w, h, flags = struct.unpack_from("<HHHHB", buf, pos + 1)
            tally.frame(x + w, y + h)
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            pos = _sub_blocks(buf, pos)
        elif kind == 0x21:  # an extension: graphic control is the frame's own; the rest is metadata
            label = buf[pos + 1]
            end = _sub_blocks(buf, pos + 2)
            if label != 0xF9:
                tally.metadata(end - pos)
            pos = end
        else:
            raise ValueError(f"unknown GIF block {kind:#x}")
    if tally.frames == 0:
        raise ValueError("no image in the GIF")
    return tally.layout()


_TIFF_WIDTH, _TIFF_LENGTH = 256, 257
_TIFF_TYPES = {3: "H", 4: "I"}  # SHORT, LONG: the types a width or a length comes in
_TIFF_PAGE_TAGS = 64  # tags a page needs at most (baseline and extended TIFF); those beyond count as metadata


def _tiff(buf: memoryview, budget: Budget) -> Layout:
    """Every page (IFD) of a classic TIFF: its size and its tags (those beyond what a page needs count as
    metadata)."""
    tally = _Tally(budget)
    order = "<" if bytes(buf[:2]) == b"II" else ">"
    at = struct.unpack_from(order + "I", buf, 4)[0]
    seen: set[int] = set()
    while at and at not in seen:
        seen.add(at)
        count = struct.unpack_from(order + "H", buf, at)[0]
        size = {}
        for index, entry in enumerate(range(at + 2, at + 2 + 12 * count, 12)):
            tag, kind = struct.unpack_from(order + "HH", buf, entry)
            if index >= _TIFF_PAGE_TAGS:
                tally.metadata(12)
            if tag in (_TIFF_WIDTH, _TIFF_LENGTH) and kind in _TIFF_TYPES:
                size[tag] = struct.unpack_from(order + _TIFF_TYPES[kind], buf, entry + 8)[0]
        tally.frame(size.get(_TIFF_WIDTH, 0), size.get(_TIFF_LENGTH, 0))
        at = struct.unpack_from(order + "I", buf, at + 2 + 12 * count)[0]
    if tally.frames == 0:
        raise ValueError("no page in the TIFF")
    return tally.layout()


def _sub_blocks(buf: memoryview, pos: int) -> int:
    """The position after a chain of GIF sub-blocks (each a length byte, then that many bytes)."""
    while True:
        size = buf[pos]
        pos += 1 + size
        if size == 0:
            return pos


_PNG_DATA = frozenset({b"IDAT", b"fdAT"})
_PNG_FRAME = frozenset({b"IHDR", b"acTL", b"fcTL", b"IEND", b"PLTE", b"tRNS"})


def _png(buf: memoryview, budget: Budget) -> Layout:
    tally = _Tally(budget)
    pos = 8
    while pos + 8 <= len(buf):
        size, kind = struct.unpack_from(">I4s", buf, pos)
        body = pos + 8
        if kind == b"IHDR":
            tally.width, tally.height = struct.unpack_from(">II", buf, body)
            tally.check_frames()
        elif kind == b"fcTL":  # an APNG frame: its extent on the canvas
            w, h, x, y = struct.unpack_from(">IIII", buf, body + 4)
            tally.frame(x + w, y + h)
        elif kind == b"IEND":
            break
        elif kind not in _PNG_DATA and kind not in _PNG_FRAME:
            tally.metadata(size)
        pos = body + size + 4
    if tally.frames == 0:
        tally.frame(tally.width, tally.height)
    return tally.layout()


_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg(buf: memoryview, budget: Budget) -> Layout:
    tally = _Tally(budget)
    mp_at = _jpeg_frame(buf, 0, tally)
    return tally.layout((mp_at,) if mp_at else ())


def jpeg_frames(src: Source, offsets: list[int], budget: Budget) -> Layout:
    """The layout of an MPO's frames, each a JPEG at one of ``offsets``."""
    tally = _Tally(budget)
    with _view(src) as buf:
        try:
            for offset in offsets:
                if bytes(buf[offset:offset + 2]) != b"\xff\xd8":
                    raise ValueError("an MPO frame does not start a JPEG")
                _jpeg_frame(buf, offset, tally)
        except (struct.error, IndexError, ValueError):
            raise CorruptImage("the image could not be decoded (an MPO frame is cut short or malformed)") from None
    return tally.layout()


def _jpeg_frame(buf: memoryview, start: int, tally: _Tally) -> int:
    """Walk one JPEG's segments up to its scan: its size, its APP and COM segments. Returns where its MPF
    index counts offsets from (0: none)."""
    pos, mp_at = start + 2, 0
    while True:
        while buf[pos] == 0xFF and buf[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if buf[pos] != 0xFF:
            raise ValueError("a JPEG segment does not start with a marker")
        marker = buf[pos + 1]
        if marker == 0xDA or marker == 0xD9:  # the scan (or the end): the header is over
            break
        size = struct.unpack_from(">H", buf, pos + 2)[0]
        if marker in _SOF:
            height, width = struct.unpack_from(">HH", buf, pos + 5)
            tally.frame(width, height)
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            tally.metadata(size)
            if marker == 0xE2 and bytes(buf[pos + 4:pos + 8]) == b"MPF\x00":
                mp_at = pos + 8
        pos += 2 + size
    if tally.frames == 0:
        raise ValueError("no frame header in the JPEG")
    return mp_at


def _webp(buf: memoryview, budget: Budget) -> Layout:
    """A WebP's canvas, frames, alpha and EXIF, its container checked as libwebp's demuxer checks it (every
    chunk within the file, a still image's bitstream as large as its canvas), so that the probe needs no
    decoder: Pillow's allocates and clears the whole canvas just to open a file."""
    tally = _Tally(budget)
    declared = 8 + struct.unpack_from("<I", buf, 4)[0]
    if declared > len(buf):
        raise ValueError("the WebP is cut short")
    pos, alpha, exif, canvas = 12, False, b"", (0, 0)
    while pos + 8 <= declared:
        kind, size = struct.unpack_from("<4sI", buf, pos)
        body = pos + 8
        if body + size > declared:
            raise ValueError("a WebP chunk runs past the end of the file")
        if kind == b"VP8X":
            alpha = bool(buf[body] & 0x10)
            canvas = tally.width, tally.height = _u24(buf, body + 4) + 1, _u24(buf, body + 7) + 1
            tally.check_frames()
        elif kind == b"ANMF":
            x, y, w, h = (_u24(buf, body) * 2, _u24(buf, body + 3) * 2, _u24(buf, body + 6) + 1,
                          _u24(buf, body + 9) + 1)
            tally.frame(x + w, y + h)
        elif kind in (b"VP8 ", b"VP8L") and tally.frames == 0:
            size_of, has_alpha = _vp8(buf, body) if kind == b"VP8 " else _vp8l(buf, body)
            if canvas != (0, 0) and size_of != canvas:
                raise ValueError("a still WebP's picture is not the size of its canvas")
            alpha = alpha or has_alpha
            tally.frame(*size_of)
        elif kind not in (b"ANIM", b"ALPH", b"VP8 ", b"VP8L"):
            tally.metadata(size)
            if kind == b"EXIF":
                exif = bytes(buf[body:body + size])
        pos = body + size + (size & 1)
    if tally.frames == 0:
        raise ValueError("no image in the WebP")
    return tally.layout(alpha=alpha, exif=exif)


def _vp8(buf: memoryview, body: int) -> tuple[tuple[int, int], bool]:
    """A lossy bitstream's size (it has no alpha of its own: that is an ALPH chunk, flagged in VP8X)."""
    if bytes(buf[body + 3:body + 6]) != b"\x9d\x01\x2a":
        raise ValueError("a VP8 bitstream without its start code")
    w, h = struct.unpack_from("<HH", buf, body + 6)
    return (w & 0x3FFF, h & 0x3FFF), False


def _vp8l(buf: memoryview, body: int) -> tuple[tuple[int, int], bool]:
    """A lossless bitstream's size and whether it uses alpha."""
    if buf[body] != 0x2F:
        raise ValueError("a VP8L bitstream without its signature")
    bits = int.from_bytes(buf[body + 1:body + 5], "little")
    return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1), bool(bits >> 28 & 1)


def _u24(buf: memoryview, at: int) -> int:
    """A little-endian 24-bit number (WebP's sizes and offsets)."""
    low, high = struct.unpack_from("<HB", buf, at)
    return int(low | high << 16)


@contextmanager
def _view(src: Source) -> Iterator[memoryview]:
    """The file's bytes without copying them where possible: a buffer's own memory, a file mapped."""
    if isinstance(src, bytes):
        yield memoryview(src)
        return
    if isinstance(src, Path):
        with src.open("rb") as fh, _mapped(fh) as buf:
            yield buf
        return
    inner = getattr(src, "_file", src)  # a SpooledTemporaryFile: what it spools into
    if isinstance(inner, io.BytesIO):
        with inner.getbuffer() as buf:
            yield buf
        return
    try:
        inner.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        position = src.tell()
        src.seek(0)
        data = src.read()
        src.seek(position)
        yield memoryview(data)
        return
    with _mapped(inner) as buf:
        yield buf


@contextmanager
def _mapped(fh: IO[bytes]) -> Iterator[memoryview]:
    size = os.fstat(fh.fileno()).st_size
    if size == 0:
        yield memoryview(b"")
        return
    mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    try:
        yield view
    finally:
        view.release()
        with suppress(BufferError):  # a slice still held somewhere: the mapping goes with it
            mapped.close()
