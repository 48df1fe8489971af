"""The B-tree file the btree_lookup chain program walks (one block read per
level, as an index lookup in the spirit of XRP), written and read here.

The file is a sequence of BLOCK-byte blocks, little-endian:

- every block is a node: a 16-byte header (magic ``b"ABT1"``, kind u16 (0:
  inner, 1: leaf), count u16 (its entries), 8 reserved bytes), then its
  entries, sorted by key;
- an inner entry is 16 bytes: key u64, child block number u64; the child
  holds the keys from its key (the first entry's child also those below)
  up to the next entry's;
- a leaf entry is a RECORD-byte record: key u64, then VALUE bytes of value.

``write(path, items, fanout=...)`` builds the tree bottom-up, at most
`fanout` entries per node, and returns (root block, depth): a small fanout
makes a deep tree of few keys (fanout 4, 4**6 keys: depth 6, 5.6 MB), the
shape the index-lookup benchmark wants. ``lookup()`` is the same walk with
one await per level, for comparison.
"""

import os
import struct

BLOCK = 4096
MAGIC = 0x31544241          # b"ABT1"
HEADER = struct.Struct("<IHHQ")
INNER = struct.Struct("<QQ")
RECORD = 32
VALUE = RECORD - 8
INNER_MAX = (BLOCK - HEADER.size) // INNER.size
LEAF_MAX = (BLOCK - HEADER.size) // RECORD
LEAF, INNER_KIND = 1, 0

__all__ = ["BLOCK", "RECORD", "VALUE", "write", "lookup", "record_value", "value_for"]


def value_for(key):
    """A value derived from the key (what tests and benchmarks store)."""
    return struct.pack("<Q", key ^ 0x5A5A5A5A5A5A5A5A) * 3


def record_value(record):
    """The value part of a RECORD-byte record."""
    return bytes(record[8:RECORD])


def _node(kind, entries):
    block = bytearray(BLOCK)
    HEADER.pack_into(block, 0, MAGIC, kind, len(entries), 0)
    offset = HEADER.size
    for entry in entries:
        block[offset:offset + len(entry)] = entry
        offset += len(entry)
    return bytes(block)


def write(path, items, fanout=None):
    """Writes the tree of items (pairs (key, value of VALUE bytes), keys
    unique unsigned 64-bit integers) to path; returns (root block, depth)."""
    items = sorted(items)
    if not items:
        raise ValueError("a B-tree needs at least one key")
    leaf_fanout = min(fanout or LEAF_MAX, LEAF_MAX)
    inner_fanout = min(fanout or INNER_MAX, INNER_MAX)
    if leaf_fanout < 1 or inner_fanout < 2:
        raise ValueError("fanout must be at least 2")
    blocks = []
    level = []                      # (first key, block number) of the level built last
    for i in range(0, len(items), leaf_fanout):
        chunk = items[i:i + leaf_fanout]
        records = []
        for key, value in chunk:
            if len(value) != VALUE:
                raise ValueError(f"values are {VALUE} bytes")
            records.append(struct.pack("<Q", key) + value)
        level.append((chunk[0][0], len(blocks)))
        blocks.append(_node(LEAF, records))
    depth = 1
    while len(level) > 1:
        upper = []
        for i in range(0, len(level), inner_fanout):
            chunk = level[i:i + inner_fanout]
            upper.append((chunk[0][0], len(blocks)))
            blocks.append(_node(INNER_KIND, [INNER.pack(k, b) for k, b in chunk]))
        level = upper
        depth += 1
    with open(path, "wb") as f:
        for block in blocks:
            f.write(block)
    return level[0][1], depth


def search(block, key):
    """(kind, entry) for key in a node: an inner node's child block, or a
    leaf's record (None when the key is not there)."""
    magic, kind, count, _ = HEADER.unpack_from(block, 0)
    if magic != MAGIC or count == 0:
        raise OSError(5, "not a B-tree node")
    size = RECORD if kind == LEAF else INNER.size
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        probe, = struct.unpack_from("<Q", block, HEADER.size + mid * size)
        if probe <= key:
            lo = mid + 1
        else:
            hi = mid
    if kind == LEAF:
        if lo == 0:
            return kind, None
        offset = HEADER.size + (lo - 1) * size
        record = bytes(block[offset:offset + RECORD])
        return kind, record if struct.unpack_from("<Q", record)[0] == key else None
    child, = struct.unpack_from("<Q", block, HEADER.size + max(lo - 1, 0) * size + 8)
    return kind, child


async def lookup(read_block, key, root=0, max_depth=32):
    """The value under key, one awaited read per level: read_block(number)
    is a coroutine function returning that block's bytes."""
    block_number = root
    for _ in range(max_depth):
        block = await read_block(block_number)
        if len(block) != BLOCK:
            raise OSError(5, "short read of a B-tree block")
        kind, found = search(block, key)
        if kind == LEAF:
            return None if found is None else record_value(found)
        block_number = found
    raise OSError(40, "B-tree deeper than max_depth")


def lookup_sync(fd, key, root=0, max_depth=32):
    """The same walk with os.pread (a reference for tests)."""
    block_number = root
    for _ in range(max_depth):
        block = os.pread(fd, BLOCK, block_number * BLOCK)
        kind, found = search(block, key)
        if kind == LEAF:
            return None if found is None else record_value(found)
        block_number = found
    raise OSError(40, "B-tree deeper than max_depth")
