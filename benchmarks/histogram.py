"""A latency histogram with log-linear buckets, as benchmarks/load_client.c
records them: values below 256 are kept exactly, above that every power of
two is split into 128 buckets (each under 1% wide). Percentiles read from it
are the highest value of the bucket the rank falls in (never below the true
value, at most one bucket width above it), capped at the largest value seen.

The client prints its histogram as "LOW:COUNT" pairs (a bucket's lowest
value and its count); from_pairs() reads them and merge() (or merged(), over
samples) adds the samples of several runs together.
"""
import math

SUB_BITS = 7
EXACT_BELOW = 2 << SUB_BITS


def bucket_of(value):
    """The bucket index of a non-negative integer value."""
    if value < EXACT_BELOW:
        return value
    shift = value.bit_length() - (SUB_BITS + 1)
    return (shift << SUB_BITS) + (value >> shift)


def bucket_range(index):
    """(lowest, highest) value of bucket `index`."""
    if index < EXACT_BELOW:
        return index, index
    shift = (index >> SUB_BITS) - 1
    low = (index - (shift << SUB_BITS)) << shift
    return low, low + (1 << shift) - 1


class Histogram:
    def __init__(self):
        self.counts = {}
        self.total = 0
        self.max = 0

    def record(self, value, count=1):
        value = int(value)
        if value < 0:
            raise ValueError(f"a latency cannot be negative: {value}")
        if count < 0:
            raise ValueError(f"a count cannot be negative: {count}")
        if count:
            i = bucket_of(value)
            self.counts[i] = self.counts.get(i, 0) + count
            self.total += count
            self.max = max(self.max, value)

    @classmethod
    def from_pairs(cls, pairs, max_value=None):
        """A histogram of [(value, count), ...]; max_value, when known
        exactly, caps the percentiles (else a bucket's highest value does)."""
        h = cls()
        for value, count in pairs:
            h.record(value, count)
        if h.total:
            h.max = bucket_range(bucket_of(h.max))[1] if max_value is None else int(max_value)
        return h

    def pairs(self):
        """[(lowest value of a bucket, count), ...] in increasing order."""
        return [(bucket_range(i)[0], self.counts[i]) for i in sorted(self.counts)]

    def merge(self, other):
        for i, count in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + count
        self.total += other.total
        self.max = max(self.max, other.max)
        return self

    def percentile(self, p):
        """The value at or below which p percent of the recorded values lie."""
        if not 0 <= p <= 100:
            raise ValueError(f"a percentile is between 0 and 100, not {p}")
        if not self.total:
            raise ValueError("no values recorded")
        # Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floats.
        rank = max(1, math.ceil(round(p / 100 * self.total, 6)))
        seen = 0
        for i in sorted(self.counts):
            seen += self.counts[i]
            if seen >= rank:
                return min(bucket_range(i)[1], self.max)
        return self.max  # not reached: the ranks add up to total

    def mean(self):
        """Mean of the buckets' midpoints."""
        if not self.total:
            raise ValueError("no values recorded")
        return sum(sum(bucket_range(i)) / 2 * c for i, c in self.counts.items()) / self.total


def merged(sample_metrics, key):
    """One Histogram of the histograms `key` of several samples' metrics
    (their exact maxima, `hist_max_...`, where recorded), or None."""
    out = None
    for metrics in sample_metrics:
        pairs = metrics.get(key)
        if pairs:
            h = Histogram.from_pairs(pairs, metrics.get(key.replace("hist_", "hist_max_", 1)))
            out = h if out is None else out.merge(h)
    return out
