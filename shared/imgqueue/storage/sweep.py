"""The sweep: objects past their age are removed (outputs after OUTPUT_TTL, uploads a crash left behind
after JOB_TTL), and what stays is counted, so the bytes-stored figures never drift."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .base import Storage


@dataclass
class Swept:
    """Per prefix: objects removed, and bytes kept."""

    removed: dict[str, int] = field(default_factory=dict)
    kept_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())


def sweep(storage: Storage, max_age: Mapping[str, float]) -> Swept:
    """Remove every object under each prefix of ``max_age`` older than its age (seconds); count the rest."""
    now = time.time()
    result = Swept()
    for prefix, age in max_age.items():
        result.removed[prefix] = result.kept_bytes[prefix] = 0
        for obj in storage.list(prefix):
            if now - obj.modified > age:
                storage.delete(obj.key)
                result.removed[prefix] += 1
            else:
                result.kept_bytes[prefix] += obj.size
    return result
