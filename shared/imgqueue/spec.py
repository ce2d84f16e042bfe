"""The resize spec: what a client asks for, parsed and checked in one place, and the output-format rules.

``parse_spec`` reads both the API's form fields (strings) and the JSON stored in a job record (typed
values), with the same names, defaults and messages. Nothing here decodes images: what depends on the
imaging library (which formats this build can write) is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from .errors import InvalidSpec


class Fit(str, Enum):
    """sharp's fit modes."""

    COVER = "cover"  # crop to fill width x height exactly (the default, as the demo's resize(w, h))
    CONTAIN = "contain"  # letterbox: fit inside, pad to width x height with the background colour
    FILL = "fill"  # stretch to width x height, ignoring the aspect ratio
    INSIDE = "inside"  # fit within width x height, keeping the aspect ratio
    OUTSIDE = "outside"  # cover width x height, keeping the aspect ratio, no crop


class Crop(str, Enum):
    """Which part of the picture ``cover`` keeps (sharp's strategies, libvips' smartcrop)."""

    CENTRE = "centre"  # the middle (or around the focal point fx, fy when given)
    ATTENTION = "attention"  # the part most likely to catch the eye: skin tones, saturated colour, edges
    ENTROPY = "entropy"  # the part with the most detail


CROP_ALIASES = {"center": "centre"}

# Output formats by the name clients use -> the imaging library's name.
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}
FORMAT_ALIASES = {"jpg": "jpeg"}
# Input formats written as another format when the output is "same as input".
SAME_AS_INPUT = {"MPO": "JPEG", "BMP": "PNG", "TIFF": "PNG"}
ANIMATED_OUTPUTS = frozenset({"GIF", "WEBP"})
ALPHA_OUTPUTS = frozenset({"PNG", "WEBP", "GIF", "AVIF"})
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
              "AVIF": "image/avif"}
DEFAULT_QUALITY = {"JPEG": 80, "WEBP": 80, "AVIF": 50}  # sharp's defaults
DEFAULT_BACKGROUND = "#ffffff"
_COLOUR = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_WHOLE = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only: no other script's digits, no '3_0', no '+30'
FRACTION = r"(0|1|0?\.[0-9]{1,6}|1\.0{1,6})"  # 0 to 1 in ASCII digits: 0, 0.25, .5, 1, 1.0
_FRACTION = re.compile(FRACTION)
FLAG_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 50_000_000  # input: one frame, and all frames of an animation together
    max_frames: int = 200  # frames of an animation, pages of a TIFF, images of an MPO
    max_dimension: int = 8192  # largest width or height a client may ask for
    max_output_pixels: int = 16_800_000  # output: every frame written, together
    max_metadata_segments: int = 1000  # chunks, APP segments, extension blocks of metadata in one file
    max_metadata_bytes: int = 4 * 1024 * 1024
    max_variants: int = 12  # outputs one upload may ask for (variants or a preset)


@dataclass(frozen=True)
class ResizeSpec:
    width: int | None = None
    height: int | None = None
    fit: Fit = Fit.COVER
    format: str | None = None  # output format name (jpeg, png, webp, gif, avif); None: same as input
    quality: int | None = None  # 1-100; None: the format's default
    progressive: bool = False
    without_enlargement: bool = False
    background: str = DEFAULT_BACKGROUND  # for contain padding and for flattening alpha
    crop: Crop = Crop.CENTRE  # what cover keeps
    fx: float | None = None  # a focal point (0..1 across, 0..1 down) cover keeps centred where it can
    fy: float | None = None
    keep_icc: bool = False  # keep the input's ICC profile, unconverted; by default pixels become sRGB

    def validate(self, limits: Limits = Limits(), writable: Collection[str] | None = None) -> ResizeSpec:
        """Return self if it can work, else raise InvalidSpec naming the parameter. ``writable``: the
        output format names this build can write (every known one when not given)."""
        if self.width is None and self.height is None:
            raise InvalidSpec("width or height is required")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= limits.max_dimension:
                raise InvalidSpec(f"{name} must be between 1 and {limits.max_dimension}, got {value}")
        if not isinstance(self.fit, Fit):
            raise InvalidSpec(_fit_message(self.fit))
        formats = [f for f in OUTPUT_FORMATS if writable is None or f in writable]
        if self.format is not None and self.format not in formats:
            raise InvalidSpec(f"format must be one of {', '.join(formats)}, got {_echo(self.format)}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise InvalidSpec(f"quality must be between 1 and 100, got {self.quality}")
        parse_colour(self.background)
        self._validate_crop()
        return self

    @property
    def focal(self) -> tuple[float, float] | None:
        return None if self.fx is None or self.fy is None else (self.fx, self.fy)

    def _validate_crop(self) -> None:
        if (self.fx is None) != (self.fy is None):
            raise InvalidSpec("fx and fy go together: the focal point's place across and down, each 0 to 1")
        for name, value in (("fx", self.fx), ("fy", self.fy)):
            if value is not None and not 0 <= value <= 1:
                raise InvalidSpec(f"{name} must be between 0 and 1, got {value}")
        crops = self.crop is not Crop.CENTRE or self.focal is not None
        if crops and self.fit is not Fit.COVER:
            raise InvalidSpec("crop, fx and fy apply to fit=cover, the only fit that crops")
        if self.crop is not Crop.CENTRE and self.focal is not None:
            raise InvalidSpec("give crop=attention or entropy, or a focal point (fx, fy), not both")

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _SPEC_FIELDS}  # not asdict(): it deep-copies, slowly
        data["fit"], data["crop"] = self.fit.value, self.crop.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResizeSpec:
        """The spec stored in a job record: the same parser as the API's form fields."""
        return parse_spec(data)


_SPEC_FIELDS = tuple(f.name for f in fields(ResizeSpec))


def parse_spec(values: Mapping[str, Any], limits: Limits = Limits(), writable: Collection[str] | None = None,
               default_size: tuple[int, int] | None = None) -> ResizeSpec:
    """Build and check a spec from form fields or stored JSON. An empty field counts as not given (as HTML
    forms send them); ``default_size`` is used when neither width nor height is given. Raises InvalidSpec
    naming the parameter."""
    width, height = _whole(values, "width"), _whole(values, "height")
    if width is None and height is None and default_size is not None:
        width, height = default_size
    return ResizeSpec(
        width=width, height=height, fit=_fit(values.get("fit")), format=_format(values.get("format")),
        quality=_whole(values, "quality"), progressive=_flag(values, "progressive"),
        without_enlargement=_flag(values, "without_enlargement", "withoutEnlargement"),
        background=str(values.get("background") or DEFAULT_BACKGROUND),
        crop=_crop(values.get("crop")), fx=_fraction(values, "fx"), fy=_fraction(values, "fy"),
        keep_icc=_flag(values, "keep_icc", "keepIcc"),
    ).validate(limits, writable)


def output_format_for(input_format: str, spec: ResizeSpec, writable: Collection[str]) -> str:
    """The imaging library's name of the format the output will be written in: the one asked for, else the
    input's own (or its stand-in), else PNG."""
    if spec.format:
        return OUTPUT_FORMATS[spec.format]
    fmt = SAME_AS_INPUT.get(input_format, input_format)
    names = {OUTPUT_FORMATS[name] for name in writable if name in OUTPUT_FORMATS}
    return fmt if fmt in names else "PNG"


def parse_colour(value: str) -> tuple[int, int, int]:
    """``#rrggbb`` or ``#rgb`` (the ``#`` may be left out)."""
    if not _COLOUR.fullmatch(value):
        raise InvalidSpec(f"background must be a colour like #ffffff, got {_echo(value)}")
    text = value.removeprefix("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def grey_of(colour: tuple[int, int, int]) -> int:
    """The grey a colour becomes on a greyscale image (both engines use it for padding and flattening)."""
    return round(sum(colour) / 3)


def _echo(value: object, limit: int = 100) -> str:
    """What the client sent, quoted and cut short: error messages never carry a whole request back."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _whole(values: Mapping[str, Any], name: str) -> int | None:
    value = values.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raw = _text(value)
    if raw == "":
        return None
    if not _WHOLE.fullmatch(raw):
        raise InvalidSpec(f"{name} must be a whole number in ASCII digits, got {_echo(raw)}")
    return int(raw)


def whole_number(raw: str, name: str, low: int, high: int) -> int:
    """``raw`` as a whole number in ASCII digits from ``low`` to ``high``; InvalidSpec naming ``name`` if not."""
    value = int(raw) if _WHOLE.fullmatch(raw) else low - 1
    if not low <= value <= high:
        raise InvalidSpec(f"{name} must be a whole number in ASCII digits from {low} to {high}, got {_echo(raw)}")
    return value


def _flag(values: Mapping[str, Any], *names: str) -> bool:
    for name in names:
        value = values.get(name)
        if isinstance(value, bool):
            return value
        raw = _text(value).lower()
        if raw:
            if raw not in FLAG_WORDS:
                raise InvalidSpec(f"{name} must be true or false, got {_echo(raw)}")
            return FLAG_WORDS[raw]
    return False


def _fit(value: Any) -> Fit:
    raw = _text(value).lower() or Fit.COVER.value
    try:
        return Fit(raw)
    except ValueError:
        raise InvalidSpec(_fit_message(raw)) from None


def _crop(value: Any) -> Crop:
    raw = _text(value).lower() or Crop.CENTRE.value
    try:
        return Crop(CROP_ALIASES.get(raw, raw))
    except ValueError:
        raise InvalidSpec(f"crop must be one of {', '.join(c.value for c in Crop)}, got {_echo(raw)}") from None


def _fraction(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raw = _text(value)
    if raw == "":
        return None
    if not _FRACTION.fullmatch(raw):
        raise InvalidSpec(f"{name} must be a number from 0 to 1 in ASCII digits (0.25), got {_echo(raw)}")
    return float(raw)


def _fit_message(raw: object) -> str:
    return f"fit must be one of {', '.join(f.value for f in Fit)}, got {_echo(raw)}"


def _format(value: Any) -> str | None:
    raw = _text(value).lower()
    return FORMAT_ALIASES.get(raw, raw) or None
