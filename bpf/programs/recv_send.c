/* recv_send(chunk) with files [sock_in, sock_out] and buffers [buf]: relay
 * a stream until EOF (one leg of a proxy): receive up to chunk bytes, send
 * exactly those (again after a short send), repeat. Result: the number of
 * bytes relayed. */
#include "chain.h"

enum { RELAY_CHUNK };
enum { RELAY_TOTAL, RELAY_PENDING, RELAY_SENT };
enum { RELAY_RECEIVING, RELAY_SENDING };

CHAIN_INLINE int relay_receive(struct aiouring_chain *c, struct chain_io *io)
{
	c->phase = RELAY_RECEIVING;
	return chain_recv(io, 0, CHAIN_FILE(0), chain_buf(0, 0, c->arg[RELAY_CHUNK]), 0);
}

CHAIN_INLINE int relay_send_rest(struct aiouring_chain *c, struct chain_io *io)
{
	__u64 sent = c->var[RELAY_SENT];
	c->phase = RELAY_SENDING;
	return chain_send(io, 0, CHAIN_FILE(1),
			  chain_buf(0, sent, c->var[RELAY_PENDING] - sent), 0);
}

static int recv_send_start(struct aiouring_chain *c, struct chain_io *io)
{
	if (c->arg[RELAY_CHUNK] == 0 || c->arg[RELAY_CHUNK] > c->buffer_len[0])
		return chain_finish(c, -CHAIN_EINVAL);
	return relay_receive(c, io);
}

static int recv_send_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	if (res < 0)
		return chain_finish(c, res);
	if (c->phase == RELAY_RECEIVING) {
		if (res == 0)
			return chain_finish(c, c->var[RELAY_TOTAL]);
		c->var[RELAY_PENDING] = res;
		c->var[RELAY_SENT] = 0;
		return relay_send_rest(c, io);
	}
	c->var[RELAY_SENT] += res;
	if (c->var[RELAY_SENT] < c->var[RELAY_PENDING])
		return relay_send_rest(c, io);
	c->var[RELAY_TOTAL] += c->var[RELAY_PENDING];
	return relay_receive(c, io);
}

CHAIN_PROGRAM(recv_send);
