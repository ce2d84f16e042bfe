"""What a resize is asked to make and what it made: the shapes both engines share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import ImgqueueError
from .geometry import Geometry
from .spec import ResizeSpec


@dataclass(frozen=True)
class Wanted:
    """One output of a set: its spec, its geometry on the upright source, its format (Pillow's name)."""

    spec: ResizeSpec
    geo: Geometry
    format: str
    name: str = ""  # a set's output: named in the errors that concern it alone


@dataclass(frozen=True)
class Made:
    data: bytes
    width: int
    height: int
    format: str
    frames: int = 1


@contextmanager
def naming(name: str) -> Iterator[None]:
    """An error in making one output of a set says which (``variant w640: ...``)."""
    try:
        yield
    except ImgqueueError as exc:
        if not name:
            raise
        raise type(exc)(f"variant {name}: {exc}") from None
