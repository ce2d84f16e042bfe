"""A set of outputs from one upload: named variants (a srcset of widths, a square thumbnail, WebP beside
JPEG), asked for as ``variants`` (a JSON array) or by an operator's preset.

Each variant is an object with a ``name`` (``[a-z0-9_-]{1,32}``, unique in the job) and the fields of a
single output (width, height, fit, format, quality, background, crop, fx, fy, ...); a field a variant
leaves out is the upload's own form field, if it has one. ``Presets`` are named lists of variants, read
from the settings (``PRESETS``, ``PRESETS_FILE``) and checked when the API starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidSpec
from .spec import Limits, ResizeSpec, parse_spec

NAME = re.compile(r"[a-z0-9_-]{1,32}")
# The fields a variant may hold: a spec's, and the aliases the form accepts.
FIELDS = frozenset({"name", *ResizeSpec.__dataclass_fields__, "withoutEnlargement", "keepIcc"})


@dataclass(frozen=True)
class Variant:
    name: str
    spec: ResizeSpec


def parse_variants(raw: Any, defaults: Mapping[str, Any], limits: Limits = Limits(),
                   writable: Collection[str] | None = None,
                   default_size: tuple[int, int] | None = None) -> tuple[Variant, ...]:
    """``raw``: the JSON text of the form's ``variants`` field (or the list itself); ``defaults``: the
    upload's own resize fields, which every variant inherits. Raises InvalidSpec naming the variant."""
    items = _json(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise InvalidSpec("variants must be a JSON array of one or more objects, each with a name")
    if len(items) > limits.max_variants:
        raise InvalidSpec(f"variants: {len(items)} outputs, more than the limit of {limits.max_variants} "
                          "(MAX_VARIANTS)")
    out: list[Variant] = []
    for index, item in enumerate(items):
        variant = _variant(index, item, defaults, limits, writable, default_size)
        if any(v.name == variant.name for v in out):
            raise InvalidSpec(f"variants[{index}]: the name {variant.name!r} is used twice")
        out.append(variant)
    return tuple(out)


def _variant(index: int, item: dict[str, Any], defaults: Mapping[str, Any], limits: Limits,
             writable: Collection[str] | None, default_size: tuple[int, int] | None) -> Variant:
    name = item.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidSpec(f"variants[{index}]: name must be 1 to 32 of a-z, 0-9, _ and -, got {str(name)[:40]!r}")
    unknown = sorted(str(k)[:40] for k in item if k not in FIELDS)
    if unknown:
        raise InvalidSpec(f"variants[{index}] ({name}): unknown field {unknown[0]!r}")
    values = {**defaults, **{k: v for k, v in item.items() if k != "name"}}
    try:
        return Variant(name, parse_spec(values, limits, writable, default_size))
    except InvalidSpec as exc:
        raise InvalidSpec(f"variants[{index}] ({name}): {exc}") from None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise InvalidSpec("variants must be JSON: an array of objects, each with a name") from None


def to_json(variants: tuple[Variant, ...]) -> list[dict[str, Any]]:
    return [{"name": v.name, **v.spec.to_dict()} for v in variants]


@dataclass(frozen=True)
class Presets:
    """Named sets of variants an operator defines; ``only``: uploads must name one (presets-only mode)."""

    sets: Mapping[str, tuple[Variant, ...]]
    only: bool = False

    @classmethod
    def parse(cls, text: str, only: bool, limits: Limits, writable: Collection[str]) -> Presets:
        """``text``: JSON ``{"<preset>": [variant, ...], ...}``. Raises InvalidSpec naming the preset."""
        raw = json.loads(text) if text.strip() else {}
        if not isinstance(raw, dict):
            raise InvalidSpec("presets must be a JSON object: a name for each list of variants")
        sets = {}
        for name, items in raw.items():
            if not isinstance(name, str) or not NAME.fullmatch(name):
                raise InvalidSpec(f"preset name {str(name)[:40]!r}: 1 to 32 of a-z, 0-9, _ and -")
            try:
                sets[name] = parse_variants(items, {}, limits, writable)
            except InvalidSpec as exc:
                raise InvalidSpec(f"preset {name!r}: {exc}") from None
        return cls(sets, only)

    def get(self, name: str) -> tuple[Variant, ...]:
        found = self.sets.get(name)
        if found is None:
            known = ", ".join(sorted(self.sets)) or "none are defined"
            raise InvalidSpec(f"preset must be one of this API's presets ({known}), got {name[:40]!r}")
        return found
