"""The processing-time and queue-wait histograms the Lua scripts keep in Redis (``observe`` in
lua/common.lua): their buckets, and how they read back."""

from __future__ import annotations

from dataclasses import dataclass

# Upper bounds (seconds) of the processing-time and queue-wait histograms the Lua scripts keep in Redis:
# a hash with a count per bound (and '+Inf') for its own bucket, and 'sum_us' (see observe in common.lua).
HISTOGRAM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), ending with (inf, count)
    sum: float

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Histogram:
        cumulative, buckets = 0, []
        for bound in (*HISTOGRAM_BUCKETS, "+Inf"):
            cumulative += int(raw.get(bound, 0))
            buckets.append((float(bound.lstrip("+")), cumulative))
        return cls(buckets, int(raw.get("sum_us", 0)) / 1e6)

    @property
    def count(self) -> int:
        return self.buckets[-1][1]
