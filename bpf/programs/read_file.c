/* read_file() with buffers [path, dest]: a whole file in one chain. Opens
 * the path (a str the coroutine handed over) into direct descriptor 0 and
 * stats it at the same time (the statx lands at the start of the context
 * region); then reads the file into dest, continuing after short reads,
 * and closes it. The context region's u64 at READ_FILE_GOT holds the bytes
 * read. Result: the file's size. A dest smaller than the file is left
 * unread (the coroutine then knows the size and can ask again). */
#include "chain.h"

#define READ_FILE_GOT 32		/* u64 index: byte 256, after the statx */

enum { RF_OPEN, RF_STAT, RF_READ, RF_CLOSE };
enum { RF_OPENED, RF_STATED, RF_SIZE, RF_GOT };
enum { RF_PATH, RF_DEST };

CHAIN_INLINE int rf_close(struct aiouring_chain *c, struct chain_io *io)
{
	chain_set_u64(c, READ_FILE_GOT, c->var[RF_GOT]);
	return chain_close(io, RF_CLOSE, CHAIN_DIRECT(0));
}

CHAIN_INLINE int rf_read(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 got = c->var[RF_GOT];
	return chain_read(io, RF_READ, CHAIN_DIRECT(0),
			  chain_buf(RF_DEST, got, c->var[RF_SIZE] - got), got);
}

static int read_file_start(struct aiouring_chain *c, struct chain_io *io)
{
	struct chain_buf path = chain_buf(RF_PATH, 0, 0);
	int rc;

	rc = chain_openat(io, RF_OPEN, CHAIN_CWD, path, 0, 0, 0);
	if (rc < 0)
		return chain_finish(c, rc);
	rc = chain_statx(io, RF_STAT, CHAIN_CWD, path, 0, CHAIN_STATX_BASIC_STATS,
			 chain_buf(CHAIN_CONTEXT, 0, CHAIN_STATX_SIZE));
	if (rc < 0)
		return chain_finish(c, rc);
	return CHAIN_WAIT;
}

static int read_file_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);	/* the driver closes what was opened */
	switch (tag) {
	case RF_OPEN:
		c->var[RF_OPENED] = 1;
		break;
	case RF_STAT:
		c->var[RF_STATED] = 1;
		c->var[RF_SIZE] = chain_get_u64(c, CHAIN_STATX_SIZE_OFFSET / 8);
		break;
	case RF_READ:
		if (res == 0)
			return rf_close(c, io);	/* the file shrank */
		c->var[RF_GOT] += res;
		if (c->var[RF_GOT] < c->var[RF_SIZE])
			return rf_read(c, io);
		return rf_close(c, io);
	case RF_CLOSE:
		return chain_finish(c, c->var[RF_SIZE]);
	}
	if (!c->var[RF_OPENED] || !c->var[RF_STATED])
		return CHAIN_WAIT;	/* the other one is still in flight */
	if (c->var[RF_SIZE] == 0 || c->var[RF_SIZE] > c->buffer_len[RF_DEST])
		return rf_close(c, io);
	return rf_read(c, io);
}

CHAIN_PROGRAM(read_file);
