"""What an upload asks to make, from its form: one output (the demo's ``width``, ``height`` and the other
resize fields), a set (``variants``, whose objects inherit those fields), or an operator's ``preset``;
and a ``placeholder``. In presets-only mode (``PRESETS_ONLY``) a preset is the only way to ask."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from imgqueue.errors import InvalidSpec
from imgqueue.placeholders import Placeholder, parse_placeholder
from imgqueue.spec import ResizeSpec, parse_spec
from imgqueue.variants import FIELDS, Variant, parse_variants, to_json

from . import state

RESIZE_FIELDS = FIELDS - {"name"}  # the form fields that say what to make


@dataclass(frozen=True)
class Order:
    spec: ResizeSpec  # the one output, or the first of the set
    variants: tuple[Variant, ...]  # empty: one output
    placeholder: Placeholder | None

    @property
    def fingerprint(self) -> str:
        """What is asked, as text: identical uploads must ask for the same to share an output."""
        asked = to_json(self.variants) if self.variants else self.spec.to_dict()
        return json.dumps([asked, self.placeholder.value if self.placeholder else ""], sort_keys=True)


def read(form: Mapping[str, str]) -> Order:
    """The order of an upload's form. Raises InvalidSpec naming the field."""
    st = state.get()
    default_size = (st.settings.default_width, st.settings.default_height)
    placeholder = parse_placeholder(form.get("placeholder"))
    preset, raw = (form.get("preset") or "").strip(), (form.get("variants") or "").strip()
    resize = {k: v for k, v in form.items() if k in RESIZE_FIELDS and str(v).strip()}
    if st.presets.only and (not preset or raw or resize):
        raise InvalidSpec("this API makes its presets only: send preset=<name> and no resize field or variants "
                          f"(presets: {', '.join(sorted(st.presets.sets))})")
    if preset and (raw or resize):
        raise InvalidSpec("a preset says what to make: send it without variants or resize fields")
    if preset:
        variants = st.presets.get(preset)
    elif raw:
        variants = parse_variants(raw, resize, st.limits, st.writable, default_size)
    else:
        return Order(parse_spec(form, st.limits, st.writable, default_size), (), placeholder)
    return Order(variants[0].spec, variants, placeholder)
