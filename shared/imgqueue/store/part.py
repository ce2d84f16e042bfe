"""What every small store is handed: the connection, the key names and the scripts."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from .. import keys
from .scripts import Scripts


@dataclass
class Part:
    redis: redis.Redis
    keys: keys.Keys
    scripts: Scripts
