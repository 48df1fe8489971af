/* The memory a loop shares with its program ring's dispatcher: control words
 * and the chain slots. It is the dispatcher's .bss (a mmapable BPF array
 * map); the same definition is compiled into the BPF object, the C runtime
 * and the Cython glue.
 *
 * A slot's life: the loop writes the chain (program, args, max_steps), its
 * waiter (user_data of the Operation waiting on the loop's ring) and state
 * STARTING, then wakes the program ring with an IORING_OP_MSG_RING whose CQE
 * carries (CHAIN_CMD_START << 16 | slot). The dispatcher runs the program's
 * steps (RUNNING), and at the end (DONE) posts the chain's result to the
 * loop's ring with another MSG_RING aimed at the waiter. The loop frees the
 * slot (FREE) when that CQE arrives. */
#ifndef AIOURING_DISPATCHER_H
#define AIOURING_DISPATCHER_H
#include "chain.h"

#define CHAIN_SLOTS 64			/* chains in flight in one program ring */
#define PROGRAM_RING_SQ_ENTRIES 8
#define PROGRAM_RING_CQ_ENTRIES 512

enum {
	CHAIN_SLOT_FREE = 0,
	CHAIN_SLOT_STARTING = 1,
	CHAIN_SLOT_RUNNING = 2,
	CHAIN_SLOT_DONE = 3,
};

/* What a wake-up CQE asks for (its res: cmd << 16 | slot). */
enum {
	CHAIN_CMD_START = 1,
	CHAIN_CMD_CANCEL = 2,
	CHAIN_CMD_SHUTDOWN = 3,
};

/* user_data on the program ring: the kind in the top byte. A chain's request
 * carries its slot and the slot's generation, so a stale CQE is ignored. */
#define CHAIN_UD_KIND_SHIFT 56
#define CHAIN_UD_REQUEST (1ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_WAKE (2ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_NOTIFY (3ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_IGNORE (4ULL << CHAIN_UD_KIND_SHIFT)

struct aiouring_chain_slot {
	struct aiouring_chain chain;	/* 136 bytes */
	__u32 state;
	__u32 where;			/* CHAIN_RAN_IN_KERNEL once started there */
	__u64 waiter;			/* user_data of the final CQE on the loop ring */
	__u32 generation;
	__u32 cancel;			/* the loop asked to cancel it */
	__u32 inflight;			/* a request of it is in the program ring */
	__u32 reserved0;
	__u64 request;			/* user_data of that request */
	__u64 reserved[2];		/* 192 bytes in all */
};

struct aiouring_chain_shared {
	__u32 shutdown;			/* set by the runtime before CHAIN_CMD_SHUTDOWN */
	__s32 notify_fd;		/* the loop's ring fd; < 0: none (probe) */
	__u32 inflight;			/* chain requests in the program ring */
	__s32 fatal;			/* why the dispatcher stopped on its own */
	__u64 loop_steps;		/* loop_step calls */
	__u64 cqes;			/* CQEs consumed */
	__u64 requests;			/* chain requests submitted */
	__u64 started;
	__u64 finished;
	__u64 notify_failures;		/* final MSG_RINGs the loop ring refused */
	__u64 reserved[8];
	struct aiouring_chain_slot slots[CHAIN_SLOTS];
};
#endif
