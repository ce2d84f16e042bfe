"""Hostile files made byte by byte: structures that claim more than their first frame shows (frames larger
than a GIF's screen, TIFF pages larger than the first, APNG and WebP frames past their canvas, an MPO
whose second image is huge) and metadata by the hundred thousand. Small on disk: nothing here is meant to
be decoded, only refused."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def gif(screen: tuple[int, int], frames: list[tuple[int, int]]) -> bytes:
    """A GIF89a with a ``screen``-sized logical screen and one image per entry of ``frames`` (w, h), each
    with a few bytes of LZW data (a clear code and an end code: 'decoded', it would be empty)."""
    out = [b"GIF89a", struct.pack("<HHBBB", *screen, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff"]
    for w, h in frames:
        out += [b"\x21\xf9\x04\x04\x0a\x00\x00\x00",  # graphic control: the frame's delay
                b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0), b"\x02", b"\x02\x4c\x01\x00"]
    return b"".join(out) + b"\x3b"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(size: tuple[int, int], chunks: list[tuple[bytes, bytes]] = (), after_data: list[tuple[bytes, bytes]] = (),
        tail: bytes | None = None) -> bytes:
    """A greyscale PNG of ``size`` whose pixel data is one row's worth of zeros (not decodable whole), with
    ``chunks`` before its data and ``after_data`` after; ``tail`` replaces the IEND chunk."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", *size, 8, 0, 0, 0, 0))
    data = _png_chunk(b"IDAT", zlib.compress(b"\x00" * (size[0] + 1)))
    end = _png_chunk(b"IEND", b"") if tail is None else tail
    return (b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(_png_chunk(k, b) for k, b in chunks) + data
            + b"".join(_png_chunk(k, b) for k, b in after_data) + end)


def apng(canvas: tuple[int, int], frames: list[tuple[int, int]]) -> bytes:
    """An APNG whose frames (fcTL) have the given extents, whatever its canvas (IHDR) says."""
    control = [(b"acTL", struct.pack(">II", len(frames), 0))]
    for seq, (w, h) in enumerate(frames):
        control.append((b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, 0, 0, 1, 10, 0, 0)))
    return png(canvas, control)


def text_chunks(count: int, tail: bytes | None = None) -> bytes:
    """A 16x16 PNG with ``count`` empty tEXt chunks before its data (the attack: 1.2 million of them)."""
    chunk = _png_chunk(b"tEXt", b"k\x00")
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0))
    body = b"\x89PNG\r\n\x1a\n" + ihdr + chunk * count
    return body + (tail if tail is not None else _png_chunk(b"IDAT", zlib.compress(b"\x00" * 17 * 16))
                   + _png_chunk(b"IEND", b""))


def tiff(pages: list[tuple[int, int]]) -> bytes:
    """A little-endian TIFF with one IFD per page of the given size, every page's one strip pointing at
    the same few bytes (never read: only the IFDs are)."""
    strip_at = 8
    out = bytearray(b"II*\x00" + struct.pack("<I", 16) + b"\x00" * 8)
    for index, (w, h) in enumerate(pages):
        tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
                (273, 4, 1, strip_at), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, 8)]
        ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags)
        nxt = len(out) + len(ifd) + 4 if index < len(pages) - 1 else 0
        out += ifd + struct.pack("<I", nxt)
    return bytes(out)


def webp(canvas: tuple[int, int], frames: list[tuple[int, int]]) -> bytes:
    """An animated WebP (VP8X + ANIM + ANMF) whose frames have the given sizes, each with a few bytes of
    VP8L data."""

    def u24(v: int) -> bytes:
        return struct.pack("<I", v)[:3]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")

    vp8l = chunk(b"VP8L", b"\x2f" + struct.pack("<I", 0) + b"\x00" * 4)
    parts = [chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + u24(canvas[0] - 1) + u24(canvas[1] - 1)),
             chunk(b"ANIM", b"\x00" * 6)]
    parts += [chunk(b"ANMF", u24(0) + u24(0) + u24(w - 1) + u24(h - 1) + u24(100) + b"\x00" + vp8l)
              for w, h in frames]
    body = b"WEBP" + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mpo_with_a_huge_second_image(size: tuple[int, int]) -> bytes:
    """A two-image MPO (as a stereo camera writes), made by Pillow at 32x32, whose second image's frame
    header then claims ``size``."""
    buf = io.BytesIO()
    first, second = Image.new("RGB", (32, 32), (200, 10, 10)), Image.new("RGB", (32, 32), (10, 10, 200))
    first.save(buf, "MPO", save_all=True, append_images=[second])
    data = bytearray(buf.getvalue())
    sof = data.rfind(b"\xff\xc0")  # the second image's frame header comes last
    struct.pack_into(">HH", data, sof + 5, size[1], size[0])
    return bytes(data)


def jpeg_with_comments(count: int) -> bytes:
    """A small JPEG with ``count`` comment segments before its frame header."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buf, "JPEG")
    data = buf.getvalue()
    return data[:2] + b"\xff\xfe\x00\x03x" * count + data[2:]
