"""The sweep: objects past their age are removed (outputs after OUTPUT_TTL, uploads a crash left behind
after JOB_TTL), but for an output a job still wants (one an identical upload shares), and what stays is
counted, so the bytes-stored figures never drift."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .base import Storage, StoredObject


@dataclass
class Swept:
    """Per prefix: objects removed, and bytes kept."""

    removed: dict[str, int] = field(default_factory=dict)
    kept_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())


def sweep(storage: Storage, max_age: Mapping[str, float],
          wanted: Callable[[list[str]], set[str]] = lambda keys: set()) -> Swept:
    """Remove every object under each prefix of ``max_age`` older than its age (seconds), unless ``wanted``
    says a job still wants it (a shared output); count the rest."""
    now = time.time()
    result = Swept()
    for prefix, age in max_age.items():
        result.removed[prefix] = result.kept_bytes[prefix] = 0
        old: list[StoredObject] = []
        for obj in storage.list(prefix):
            if now - obj.modified > age:
                old.append(obj)
            else:
                result.kept_bytes[prefix] += obj.size
        keep = wanted([obj.key for obj in old]) if old else set()
        for obj in old:
            if obj.key in keep:
                result.kept_bytes[prefix] += obj.size
            else:
                storage.delete(obj.key)
                result.removed[prefix] += 1
    return result
