/* The program ring: a dedicated io_uring per loop, run by a thread of its own
 * inside io_uring_enter with the dispatcher (bpf/dispatcher.bpf.c) attached
 * as its io_uring_bpf_ops, so chain programs run in the kernel (Linux 7.1+).
 * The ring is set up with raw system calls: Debian 12's liburing 2.3 cannot
 * map a NO_SQARRAY | SQ_REWIND ring. Built without libbpf, every start
 * fails with a reason. */
#ifndef AIOURING_PROGRAM_RING_H
#define AIOURING_PROGRAM_RING_H
#include <stddef.h>
#ifndef CHAIN_NATIVE
#define CHAIN_NATIVE 1
#endif
#include "dispatcher.h"

struct aiouring_program_ring;
struct aiouring_ring_policy;	/* ring/restrictions.h */

/* What a program ring may issue, as the loop's ring: a policy (NULL: no
 * restriction) and io_uring BPF filters as records (u32 opcode, u32 count,
 * then count struct aiouring_filter_insn), both copied by begin(). The
 * ring is set up disabled, locked to them, then enabled by its thread. */
struct aiouring_program_ring_limits {
	const struct aiouring_ring_policy *policy;
	const void *filters;
	size_t filters_size;
};

/* 1 when the extension was built with libbpf (the kernel path can exist). */
int aiouring_program_ring_supported(void);

/* Starts a program ring whose finished chains are posted to notify_fd (the
 * loop's ring; -1: none, for a probe). Blocks until the thread has set the
 * ring up and attached the dispatcher, or failed; then err holds why (the
 * verifier log, when there is one). Returns 0 or -errno. */
int aiouring_program_ring_start(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out, char *err, size_t errlen);

/* The same without waiting: starts the thread and returns; ready() says when
 * the ring can take chains (1), is still starting (0) or failed (-errno;
 * err holds why, and discard() frees it). */
int aiouring_program_ring_begin(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out);
int aiouring_program_ring_ready(struct aiouring_program_ring *r, int wait, char *err,
				size_t errlen);
void aiouring_program_ring_discard(struct aiouring_program_ring *r);

int aiouring_program_ring_fd(struct aiouring_program_ring *r);
/* The two regions the loop shares with the dispatcher (dispatcher.h). */
struct aiouring_chains *aiouring_program_ring_chains(struct aiouring_program_ring *r);
struct aiouring_chain_control *aiouring_program_ring_control(struct aiouring_program_ring *r);

/* Wakes the dispatcher now, from any thread: a CQE on the program ring with
 * res (cmd << 16 | slot). 0 or -errno. */
int aiouring_program_ring_wake(struct aiouring_program_ring *r, unsigned cmd, unsigned slot);

/* Stops the thread (requests still in flight are cancelled and their CQEs
 * awaited first, so no buffer is used afterwards), detaches the dispatcher
 * and frees everything. Returns 0, or -ETIMEDOUT when the thread did not end
 * within timeout seconds (then nothing is freed). In a forked child it only
 * closes the child's copy of the ring. */
int aiouring_program_ring_stop(struct aiouring_program_ring *r, double timeout);

/* Whether the ring's thread ended on its own (an error), and its errno. */
int aiouring_program_ring_failed(struct aiouring_program_ring *r);
#endif
