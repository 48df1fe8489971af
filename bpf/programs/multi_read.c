/* multi_read(count, size) with files [file] and buffers [dest, offsets]:
 * count positional reads of size bytes, read i at the little-endian u64
 * offsets[i] into dest at i * size. Up to CHAIN_MAX_INFLIGHT are in flight
 * at once; the rest are issued as earlier ones complete. The context region
 * gathers each read's result (an s32: bytes read or -errno), in order.
 * Result: the number of reads that returned size bytes. */
#include "chain.h"

enum { MR_COUNT, MR_SIZE };
enum { MR_ISSUED, MR_DONE, MR_FULL };
enum { MR_FILE };
enum { MR_DEST, MR_OFFSETS };

#define MR_MAX_READS (CHAIN_CONTEXT_SIZE / 4)

CHAIN_INLINE int mr_issue(struct aiouring_chain *c, struct chain_io *io, __u32 i)
{
	__u64 offset;
	__u32 size = c->arg[MR_SIZE];

	if (chain_load_u64(io, MR_OFFSETS, i * 8, &offset))
		return -CHAIN_EFAULT;
	c->var[MR_ISSUED] = i + 1;
	return chain_read(io, i, CHAIN_FILE(MR_FILE), chain_buf(MR_DEST, i * size, size), offset);
}

static int multi_read_start(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 count = c->arg[MR_COUNT], size = c->arg[MR_SIZE];
	__u32 i;
	int rc;

	if (count > MR_MAX_READS || size == 0 || size > 0x7fffffff ||
	    count * size > c->buffer_len[MR_DEST] || count * 8 > c->buffer_len[MR_OFFSETS])
		return chain_finish(c, -CHAIN_EINVAL);
	if (count == 0)
		return chain_finish(c, 0);
	for (i = 0; i < CHAIN_MAX_INFLIGHT; i++) {
		if (i >= count)
			break;
		rc = mr_issue(c, io, i);
		if (rc < 0)
			return chain_finish(c, rc);
	}
	return CHAIN_WAIT;
}

static int multi_read_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	int rc;

	chain_set_u32(c, tag, (__u32)res);
	c->var[MR_DONE] += 1;
	if ((__u64)res == c->arg[MR_SIZE])
		c->var[MR_FULL] += 1;
	if (c->var[MR_ISSUED] < c->arg[MR_COUNT]) {
		rc = mr_issue(c, io, c->var[MR_ISSUED]);
		if (rc < 0)
			return chain_finish(c, rc);
	}
	if (c->var[MR_DONE] >= c->arg[MR_COUNT])
		return chain_finish(c, c->var[MR_FULL]);
	return CHAIN_WAIT;
}

CHAIN_PROGRAM(multi_read);
