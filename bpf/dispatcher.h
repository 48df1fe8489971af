/* The memory a loop shares with its program ring's dispatcher; the same
 * definitions are compiled into the BPF object, the C runtime and the Cython
 * glue. Two regions, both BPF array maps the loop maps into its process:
 *
 * - chains (the dispatcher's .bss): struct aiouring_chain per slot, what
 *   programs see (arguments, state, result, context region), plus the
 *   batch a step queues. A program can write anywhere in it.
 * - control (a map programs cannot name): per slot the chain's state, its
 *   waiter, its tables (buffers, files, direct descriptors: what the
 *   coroutine handed over), its requests in flight, the SQEs of a linked
 *   chain it is attached to; and the ring's control words.
 *
 * A slot's life: the loop writes the chain and its control slot (state
 * STARTING) and wakes the program ring with a MSG_RING whose CQE carries
 * (CHAIN_CMD_START << 16 | slot). The dispatcher submits the linked steps,
 * runs start() and step() per completion (RUNNING); when the program
 * finishes, it cancels what is in flight and closes the direct descriptors
 * left open (FINISHING), then posts the result to the loop's ring with
 * another MSG_RING aimed at the waiter (DONE). The loop frees the slot. */
#ifndef AIOURING_DISPATCHER_H
#define AIOURING_DISPATCHER_H
#include "chain.h"
#include "chain_check.h"

#define CHAIN_SLOTS 64			/* chains in flight in one program ring */
#define CHAIN_MAX_LINKED 16		/* steps of a linked chain a program is attached to */
#define PROGRAM_RING_SQ_ENTRIES 128
#define PROGRAM_RING_CQ_ENTRIES 8192
/* Direct descriptors of the program ring: CHAIN_MAX_DIRECT per slot. */
#define PROGRAM_RING_FILES (CHAIN_SLOTS * CHAIN_MAX_DIRECT)

enum {
	CHAIN_SLOT_FREE = 0,
	CHAIN_SLOT_STARTING = 1,
	CHAIN_SLOT_RUNNING = 2,
	CHAIN_SLOT_FINISHING = 3,
	CHAIN_SLOT_DONE = 4,
};

/* What a wake-up CQE asks for (its res: cmd << 16 | slot). */
enum {
	CHAIN_CMD_START = 1,
	CHAIN_CMD_CANCEL = 2,
	CHAIN_CMD_SHUTDOWN = 3,
};

/* user_data on the program ring: the kind in the top byte. A chain's request
 * carries the slot's generation, its slot and its entry in the slot's table
 * of requests in flight, so a stale CQE is ignored. */
#define CHAIN_UD_KIND_SHIFT 56
#define CHAIN_UD_REQUEST (1ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_WAKE (2ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_NOTIFY (3ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_IGNORE (4ULL << CHAIN_UD_KIND_SHIFT)
#define CHAIN_UD_GENERATION_SHIFT 24
#define CHAIN_UD_SLOT_SHIFT 8

/* An entry of a chain's table of requests in flight. */
enum {
	CHAIN_ENTRY_FREE = 0,
	CHAIN_ENTRY_INFLIGHT = 1,
	CHAIN_ENTRY_NOTIF = 2,		/* send_zc: result seen, notification to come */
};

/* What the driver does when an entry completes, beyond giving the program
 * its result. */
enum {
	CHAIN_EFFECT_NONE = 0,
	CHAIN_EFFECT_OPENS = 1,		/* success opens direct descriptor `direct` */
	CHAIN_EFFECT_CLOSES = 2,	/* success closes it */
	CHAIN_EFFECT_CLEANUP = 3,	/* the driver's own close: no program step */
};

struct chain_entry {
	__u32 tag;
	__u8 state;
	__u8 effect;
	__u8 direct;
	__u8 zerocopy;
	__s64 ts_sec;			/* timeouts: the kernel reads it at submission */
	__s64 ts_nsec;
};

/* A linked step's SQE as the loop wrote it (64 bytes, uapi layout). */
struct chain_staged_sqe {
	__u64 words[8];
};

struct chain_control_slot {
	__u32 state;
	__u32 generation;
	__u64 waiter;			/* user_data of the final CQE on the loop ring */
	__u32 where;			/* CHAIN_RAN_IN_KERNEL once started there */
	__u32 cancel;			/* the loop asked to cancel it */
	__u32 inflight;			/* entries in use */
	__u32 steps;			/* requests issued */
	__u32 max_steps;
	__u32 batches;			/* submissions (start/steps that issued requests) */
	__u32 nlinked;			/* staged linked steps */
	__u32 direct_open;		/* bit i: direct descriptor i is open */
	__u32 free_top;			/* free entries: free_list[0..free_top) */
	__u32 program;			/* the program's index (the driver's copy) */
	__u64 start_ns;			/* bpf_ktime_get_ns() at start and end */
	__u64 end_ns;
	struct chain_tables tables;
	struct chain_fault fault;
	__u8 linked_effect[CHAIN_MAX_LINKED];	/* CHAIN_EFFECT_* of each linked step */
	__u8 linked_direct[CHAIN_MAX_LINKED];
	__s32 linked_results[CHAIN_MAX_LINKED];	/* each linked step's res ... */
	__u32 linked_posted;			/* ... if bit i is set */
	__u32 reserved1;
	__u8 free_list[CHAIN_MAX_INFLIGHT];
	struct chain_entry entries[CHAIN_MAX_INFLIGHT];
	struct chain_staged_sqe linked[CHAIN_MAX_LINKED];
};

struct aiouring_chain_control {
	__u32 shutdown;			/* set by the runtime before CHAIN_CMD_SHUTDOWN */
	__s32 notify_fd;		/* the loop's ring fd; < 0: none (probe) */
	__u32 inflight;			/* chain requests in the program ring */
	__s32 fatal;			/* why the dispatcher stopped on its own */
	__u32 current;			/* the slot whose program runs (chain_load) */
	__u32 reserved0;
	__u64 chains_user_base;		/* where the runtime mapped the chains region */
	__u64 control_user_base;	/* and this one */
	__u64 loop_steps;		/* loop_step calls */
	__u64 cqes;			/* CQEs consumed */
	__u64 requests;			/* chain requests submitted */
	__u64 started;
	__u64 finished;
	__u64 notify_failures;		/* final MSG_RINGs the loop ring refused */
	__u64 refused;			/* SQEs the kernel did not take at submission */
	/* The dispatcher's scratch: kept here rather than on the BPF stack so
	 * the verifier does not follow each value through every path. */
	struct chain_resolved resolved;
	__u32 detail;
	__u32 sqe_count;
	__s32 stage_rc;			/* what the program's start()/step() returned */
	__u32 stage_count;		/* requests it queued */
	__s32 stage_error;
	__u32 reserved1;
	__u64 reserved[4];
	struct chain_control_slot slots[CHAIN_SLOTS];
};

/* The chains region (the dispatcher's .bss). */
struct aiouring_chains {
	struct aiouring_chain chains[CHAIN_SLOTS];
	struct chain_request batch[CHAIN_MAX_BATCH];	/* what the running step queued */
};

#define CHAIN_ENTRY_USER_DATA(generation, slot, entry)				\
	(CHAIN_UD_REQUEST | ((__u64)((generation) & 0xffffffff) << CHAIN_UD_GENERATION_SHIFT) \
	 | ((__u64)((slot) & 0xffff) << CHAIN_UD_SLOT_SHIFT) | ((entry) & 0xff))
#endif
