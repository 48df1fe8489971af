/* read_frame(max_body) with files [stream] and buffers [buf]: a
 * length-prefixed message: a 4-byte big-endian header, then exactly the
 * body length it announces, read into buf (header excluded). Short reads
 * are continued. Result: the body length; -EMSGSIZE when the header
 * announces more than max_body (no body byte is read then), -ENODATA at a
 * clean end of stream before the header, -EPROTO when the stream ends
 * inside a frame. */
#include "chain.h"

enum { FRAME_MAX };
enum { FRAME_GOT, FRAME_BODY_LEN };
enum { FRAME_READING_HEADER, FRAME_READING_BODY };

#define FRAME_HEADER_SIZE 4

CHAIN_INLINE int frame_read_header(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 got = c->var[FRAME_GOT];
	/* The header lands at the start of buf; the body overwrites it later. */
	return chain_recv(io, 0, CHAIN_FILE(0), chain_buf(0, got, FRAME_HEADER_SIZE - got), 0);
}

CHAIN_INLINE int frame_read_body(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 got = c->var[FRAME_GOT];
	return chain_recv(io, 0, CHAIN_FILE(0),
			  chain_buf(0, got, c->var[FRAME_BODY_LEN] - got), 0);
}

static int read_frame_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->buffer_len[0] < FRAME_HEADER_SIZE || c->arg[FRAME_MAX] > c->buffer_len[0])
		return chain_finish(c, -CHAIN_EINVAL);
	c->phase = FRAME_READING_HEADER;
	return frame_read_header(c, io);
}

static int read_frame_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	__u32 raw;
	__u64 length;

	if (res < 0)
		return chain_finish(c, res);
	if (res == 0) {
		if (c->phase == FRAME_READING_HEADER && c->var[FRAME_GOT] == 0)
			return chain_finish(c, -CHAIN_ENODATA);
		return chain_finish(c, -CHAIN_EPROTO);
	}
	c->var[FRAME_GOT] += res;
	if (c->phase == FRAME_READING_HEADER) {
		if (c->var[FRAME_GOT] < FRAME_HEADER_SIZE)
			return frame_read_header(c, io);
		if (chain_load_u32(io, 0, 0, &raw))
			return chain_finish(c, -CHAIN_EFAULT);
		length = ((raw & 0xff) << 24) | ((raw & 0xff00) << 8) |
			 ((raw >> 8) & 0xff00) | ((raw >> 24) & 0xff);
		if (length > c->arg[FRAME_MAX])
			return chain_finish(c, -CHAIN_EMSGSIZE);
		if (length == 0)
			return chain_finish(c, 0);
		c->var[FRAME_BODY_LEN] = length;
		c->var[FRAME_GOT] = 0;
		c->phase = FRAME_READING_BODY;
		return frame_read_body(c, io);
	}
	if (c->var[FRAME_GOT] < c->var[FRAME_BODY_LEN])
		return frame_read_body(c, io);
	return chain_finish(c, c->var[FRAME_BODY_LEN]);
}

CHAIN_PROGRAM(read_frame);
