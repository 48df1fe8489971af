/* The opcodes real chains need, one scenario per arg 0; every result goes
 * to the context region as an s32 at the request's tag, and the chain ends
 * when all of a scenario's requests completed (result: the scenario's).
 *
 * 0 FILE: openat(buffer 0, a path) into direct 0 and statx(it) into the
 *   context region (bytes 256..512) at once; then read direct 0 into buffer
 *   1, fsync it and close it. Result: the bytes read.
 * 1 SOCKETS: accept on file 0 (listening) into direct 1 and connect file 1
 *   to the sockaddr in buffer 0 at once; then send_zc buffer 1 on file 1
 *   and recv (MSG_WAITALL) as many bytes on direct 1 into buffer 2.
 *   Result: the bytes received.
 * 2 SPLICE: splice arg 1 bytes of file 0 (offset 0) into file 1 (a pipe),
 *   then from file 2 (its other end) into file 3 at offset 0. Result: the
 *   bytes spliced out.
 * 3 TIMEOUTS: a timeout of arg 1 ns, and a recv on file 0 (no data comes)
 *   linked to a link_timeout of arg 2 ns. Result: 0. */
#include "chain.h"

enum { OP_FILE, OP_SOCKETS, OP_SPLICE, OP_TIMEOUTS };
enum { T_OPEN, T_STAT, T_READ, T_FSYNC, T_CLOSE };
enum { T_ACCEPT, T_CONNECT, T_SEND, T_RECV };
enum { T_SPLICE_IN, T_SPLICE_OUT };
enum { T_TIMEOUT, T_RECV_GUARDED, T_LINK_TIMEOUT };
enum { V_DONE, V_BYTES };

static int opcodes_start(struct aiouring_chain *c, struct chain_io *io)
{
	int rc = 0;

	c->phase = c->arg[0];
	switch (c->phase) {
	case OP_FILE:
		rc = chain_openat(io, T_OPEN, CHAIN_CWD, chain_buf(0, 0, 0), 0, 0, 0);
		if (rc == 0)
			rc = chain_statx(io, T_STAT, CHAIN_CWD, chain_buf(0, 0, 0), 0,
					 CHAIN_STATX_BASIC_STATS, chain_buf(CHAIN_CONTEXT, 256, 256));
		break;
	case OP_SOCKETS:
		rc = chain_accept(io, T_ACCEPT, CHAIN_FILE(0), 1);
		if (rc == 0)
			rc = chain_connect(io, T_CONNECT, CHAIN_FILE(1),
					   chain_buf(0, 0, c->buffer_len[0]));
		break;
	case OP_SPLICE:
		rc = chain_splice(io, T_SPLICE_IN, CHAIN_FILE(0), 0, CHAIN_FILE(1),
				  CHAIN_CURRENT_POSITION, c->arg[1], 0);
		break;
	case OP_TIMEOUTS:
		rc = chain_timeout(io, T_TIMEOUT, c->arg[1]);
		if (rc == 0)
			rc = chain_recv(io, T_RECV_GUARDED, CHAIN_FILE(0), chain_buf(0, 0, 1), 0);
		if (rc == 0)
			rc = chain_link(io);
		if (rc == 0)
			rc = chain_link_timeout(io, T_LINK_TIMEOUT, c->arg[2]);
		break;
	default:
		return chain_finish(c, -CHAIN_EINVAL);
	}
	return rc < 0 ? chain_finish(c, rc) : CHAIN_WAIT;
}

static int opcodes_step(struct aiouring_chain *c, struct chain_io *io, __u32 tag, __s32 res)
{
	chain_set_u32(c, tag, (__u32)res);
	c->var[V_DONE] |= 1u << (tag & 31);
	switch (c->phase) {
	case OP_FILE:
		if (res < 0)
			return chain_finish(c, res);
		if (tag == T_OPEN || tag == T_STAT) {
			if (c->var[V_DONE] != ((1u << T_OPEN) | (1u << T_STAT)))
				return CHAIN_WAIT;
			return chain_read(io, T_READ, CHAIN_DIRECT(0), chain_buf(1, 0, c->buffer_len[1]), 0);
		}
		if (tag == T_READ) {
			c->var[V_BYTES] = res;
			return chain_fsync(io, T_FSYNC, CHAIN_DIRECT(0), 0);
		}
		if (tag == T_FSYNC)
			return chain_close(io, T_CLOSE, CHAIN_DIRECT(0));
		return chain_finish(c, c->var[V_BYTES]);
	case OP_SOCKETS:
		if (res < 0)
			return chain_finish(c, res);
		if (tag == T_ACCEPT || tag == T_CONNECT) {
			if ((c->var[V_DONE] & 3) != 3)
				return CHAIN_WAIT;
			if (chain_send_zc(io, T_SEND, CHAIN_FILE(1), chain_buf(1, 0, c->buffer_len[1]), 0))
				return chain_finish(c, -CHAIN_EIO);
			return chain_recv(io, T_RECV, CHAIN_DIRECT(1),
					  chain_buf(2, 0, c->buffer_len[1]), CHAIN_MSG_WAITALL);
		}
		if (tag == T_RECV)
			c->var[V_BYTES] = res;
		if ((c->var[V_DONE] & 15) != 15)
			return CHAIN_WAIT;
		return chain_finish(c, c->var[V_BYTES]);
	case OP_SPLICE:
		if (res < 0)
			return chain_finish(c, res);
		if (tag == T_SPLICE_IN)
			return chain_splice(io, T_SPLICE_OUT, CHAIN_FILE(2), CHAIN_CURRENT_POSITION,
					    CHAIN_FILE(3), 0, res, 0);
		return chain_finish(c, res);
	case OP_TIMEOUTS:
		if ((c->var[V_DONE] & 7) != 7)
			return CHAIN_WAIT;
		return chain_finish(c, 0);
	}
	return chain_finish(c, -CHAIN_EINVAL);
}

CHAIN_PROGRAM(opcodes);
