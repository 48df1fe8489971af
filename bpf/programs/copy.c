/* copy(chunk, max_bytes) with files [src, dst] and buffers [buf]: read a
 * chunk into buf, write exactly what was read (again after a short write),
 * repeat until EOF or max_bytes. Result: the number of bytes copied. Files
 * and sockets alike (both at their current position). */
#include "chain.h"

enum { COPY_CHUNK, COPY_MAX };
enum { COPY_TOTAL, COPY_PENDING, COPY_WRITTEN };
enum { COPY_READING, COPY_WRITING };
enum { COPY_SRC, COPY_DST };
enum { COPY_BUF };

CHAIN_INLINE int copy_read_next(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 left = c->arg[COPY_MAX] - c->var[COPY_TOTAL];
	__u32 len = c->arg[COPY_CHUNK];

	if (left == 0)
		return chain_finish(c, c->var[COPY_TOTAL]);
	if (left < len)
		len = left;
	c->phase = COPY_READING;
	return chain_read(io, 0, CHAIN_FILE(COPY_SRC), chain_buf(COPY_BUF, 0, len),
			  CHAIN_CURRENT_POSITION);
}

CHAIN_INLINE int copy_write_rest(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 done = c->var[COPY_WRITTEN];
	c->phase = COPY_WRITING;
	return chain_write(io, 0, CHAIN_FILE(COPY_DST),
			   chain_buf(COPY_BUF, done, c->var[COPY_PENDING] - done),
			   CHAIN_CURRENT_POSITION);
}

static int copy_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[COPY_CHUNK] == 0 || c->arg[COPY_CHUNK] > c->buffer_len[COPY_BUF])
		return chain_finish(c, -CHAIN_EINVAL);
	return copy_read_next(c, io);
}

static int copy_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	if (c->phase == COPY_READING) {
		if (res == 0)
			return chain_finish(c, c->var[COPY_TOTAL]);
		c->var[COPY_PENDING] = res;
		c->var[COPY_WRITTEN] = 0;
		return copy_write_rest(c, io);
	}
	if (res == 0)
		return chain_finish(c, -CHAIN_EIO);
	c->var[COPY_WRITTEN] += res;
	if (c->var[COPY_WRITTEN] < c->var[COPY_PENDING])
		return copy_write_rest(c, io);
	c->var[COPY_TOTAL] += c->var[COPY_PENDING];
	return copy_read_next(c, io);
}

CHAIN_PROGRAM(copy);
