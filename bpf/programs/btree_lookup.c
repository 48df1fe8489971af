/* btree_lookup(key, root, max_depth) with files [index] and buffers
 * [block] (BTREE_BLOCK bytes; aligned, for O_DIRECT): the key's record in
 * a B-tree stored in a file (the format is aiouring/bpf/btree.py's): read
 * the root block, pick the child whose key range holds the key (a binary
 * search of the node), read that block, and so on, one read per level,
 * down to a leaf. Result: 1, with the record (key and value,
 * BTREE_RECORD bytes) at the start of the context region, when the key is
 * there; 0 when it is not; -EIO for a block that is not a node or a read
 * that comes back short, -ELOOP past max_depth levels. */
#include "chain.h"

#define BTREE_BLOCK 4096
#define BTREE_MAGIC 0x31544241u		/* "ABT1" */
#define BTREE_HEADER 16
#define BTREE_INNER_ENTRY 16		/* key u64, child block u64 */
#define BTREE_RECORD 32			/* key u64, value 24 bytes */
#define BTREE_LEAF 1
#define BTREE_SEARCH_ROUNDS 9		/* 2^9 > entries in a block */

enum { BT_KEY, BT_ROOT, BT_MAX_DEPTH };
enum { BT_LEVELS };

CHAIN_INLINE int bt_read(struct chain_io *io, __u64 block)
{
	return chain_read(io, 0, CHAIN_FILE(0), chain_buf(0, 0, BTREE_BLOCK), block * BTREE_BLOCK);
}

static int btree_lookup_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->buffer_len[0] < BTREE_BLOCK || c->arg[BT_MAX_DEPTH] == 0)
		return chain_finish(c, -CHAIN_EINVAL);
	return bt_read(io, c->arg[BT_ROOT]);
}

static int btree_lookup_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	__u32 header[2], count, entry, lo = 0, hi, mid, i;
	__u64 key = c->arg[BT_KEY], probe, child;
	int leaf;

	if (res < 0)
		return chain_finish(c, res);
	if (res != BTREE_BLOCK || chain_load(io, 0, 0, header, sizeof(header)))
		return chain_finish(c, -CHAIN_EIO);
	count = header[1] >> 16;
	leaf = (header[1] & 0xffff) == BTREE_LEAF;
	entry = leaf ? BTREE_RECORD : BTREE_INNER_ENTRY;
	if (header[0] != BTREE_MAGIC || count == 0 ||
	    BTREE_HEADER + count * entry > BTREE_BLOCK)
		return chain_finish(c, -CHAIN_EIO);
	/* lo = the number of entries whose key is <= key. */
	hi = count;
	for (i = 0; i < BTREE_SEARCH_ROUNDS; i++) {
		if (lo >= hi)
			break;
		mid = (lo + hi) / 2;
		if (chain_load_u64(io, 0, BTREE_HEADER + mid * entry, &probe))
			return chain_finish(c, -CHAIN_EIO);
		if (probe <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (leaf) {
		if (lo == 0 || chain_load_u64(io, 0, BTREE_HEADER + (lo - 1) * entry, &probe))
			return chain_finish(c, 0);
		if (probe != key)
			return chain_finish(c, 0);
		if (chain_load(io, 0, BTREE_HEADER + (lo - 1) * entry, c->context.bytes,
			       BTREE_RECORD))
			return chain_finish(c, -CHAIN_EIO);
		return chain_finish(c, 1);
	}
	c->var[BT_LEVELS] += 1;
	if (c->var[BT_LEVELS] >= c->arg[BT_MAX_DEPTH])
		return chain_finish(c, -CHAIN_ELOOP);
	if (chain_load_u64(io, 0, BTREE_HEADER + (lo ? lo - 1 : 0) * entry + 8, &child))
		return chain_finish(c, -CHAIN_EIO);
	return bt_read(io, child);
}

CHAIN_PROGRAM(btree_lookup);
