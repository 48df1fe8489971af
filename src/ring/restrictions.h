/* Locking a ring to what its owner issues: IORING_REGISTER_RESTRICTIONS on a
 * ring set up with IORING_SETUP_R_DISABLED, before it is enabled. Once
 * enabled, the kernel fails any SQE whose opcode or flags are not in the set
 * with -EACCES, and any io_uring_register(2) operation not in the set with
 * EACCES, whatever a bug or a hostile input makes the owner write.
 *
 * Shared by the loop's ring (ring/restrictions.pyx) and the chain programs'
 * program ring (programs/program_ring.c). Self-contained: raw system calls
 * and the uapi layouts by value, so it builds next to liburing's copy of the
 * uapi header as well as next to the system's. */
#ifndef AIOURING_RING_RESTRICTIONS_H
#define AIOURING_RING_RESTRICTIONS_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define AIOURING_POLICY_OPCODES 256
#define AIOURING_POLICY_REGISTER_OPS 64

/* A set of opcodes, SQE flags and register operations, as bitmaps. */
struct aiouring_ring_policy {
	uint8_t opcodes[AIOURING_POLICY_OPCODES / 8];
	uint8_t register_ops[AIOURING_POLICY_REGISTER_OPS / 8];
	uint8_t sqe_flags;
};

/* uapi values (stable since Linux 5.10). */
#define AIOURING_REGISTER_PROBE_ 8
#define AIOURING_REGISTER_RESTRICTIONS_ 11
#define AIOURING_RESTRICTION_REGISTER_OP_ 0
#define AIOURING_RESTRICTION_SQE_OP_ 1
#define AIOURING_RESTRICTION_SQE_FLAGS_ALLOWED_ 2

/* struct io_uring_restriction */
struct aiouring_restriction_entry {
	uint16_t opcode;
	uint8_t value;		/* register_op, sqe_op or sqe_flags */
	uint8_t resv;
	uint32_t resv2[3];
};

/* struct io_uring_probe with room for every opcode */
struct aiouring_probe_buffer {
	uint8_t last_op;
	uint8_t ops_len;
	uint16_t resv;
	uint32_t resv2[3];
	struct { uint8_t op, resv; uint16_t flags; uint32_t resv2; } ops[AIOURING_POLICY_OPCODES];
};

static inline int aiouring_policy_has(const uint8_t *bits, unsigned i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

static inline void aiouring_policy_set(uint8_t *bits, unsigned i, int on)
{
	if (on)
		bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static inline int aiouring_io_uring_register(int fd, unsigned op, void *arg, unsigned nr)
{
	int ret = (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
	return ret < 0 ? -errno : ret;
}

/* The highest opcode the running kernel knows, or -errno. */
static inline int aiouring_ring_last_opcode(int ring_fd)
{
	struct aiouring_probe_buffer probe;
	int ret;

	memset(&probe, 0, sizeof(probe));
	ret = aiouring_io_uring_register(ring_fd, AIOURING_REGISTER_PROBE_, &probe,
					 AIOURING_POLICY_OPCODES);
	return ret < 0 ? ret : probe.last_op;
}

/* Registers the policy on a ring that is still disabled. Opcodes the kernel
 * does not know are left out (it could not run them anyway); so are the
 * register operations it does not know, found by dropping the highest until
 * the kernel takes the set. Returns 0 or -errno (-EBADFD: the ring was not
 * set up disabled; -EBUSY: it is restricted already). */
static inline int aiouring_restrict_ring(int ring_fd, const struct aiouring_ring_policy *policy)
{
	struct aiouring_restriction_entry entries[AIOURING_POLICY_OPCODES + 1 +
						  AIOURING_POLICY_REGISTER_OPS];
	unsigned count = 0, first_register_op;
	int last_op, ret;

	last_op = aiouring_ring_last_opcode(ring_fd);
	if (last_op < 0)
		return last_op;
	memset(entries, 0, sizeof(entries));
	for (int op = 0; op <= last_op; op++) {
		if (!aiouring_policy_has(policy->opcodes, (unsigned)op))
			continue;
		entries[count].opcode = AIOURING_RESTRICTION_SQE_OP_;
		entries[count].value = (uint8_t)op;
		count++;
	}
	entries[count].opcode = AIOURING_RESTRICTION_SQE_FLAGS_ALLOWED_;
	entries[count].value = policy->sqe_flags;
	count++;
	first_register_op = count;
	for (unsigned op = 0; op < AIOURING_POLICY_REGISTER_OPS; op++) {
		if (!aiouring_policy_has(policy->register_ops, op))
			continue;
		entries[count].opcode = AIOURING_RESTRICTION_REGISTER_OP_;
		entries[count].value = (uint8_t)op;
		count++;
	}
	for (;;) {
		ret = aiouring_io_uring_register(ring_fd, AIOURING_REGISTER_RESTRICTIONS_,
						 entries, count);
		if (ret >= 0)
			return 0;
		if (ret != -EINVAL || count == first_register_op)
			return ret;
		count--;	/* a register operation newer than this kernel */
	}
}

/* IORING_REGISTER_BPF_FILTER (Linux 7.0+): a classic BPF program the kernel
 * runs on every SQE of one opcode before issuing it, over struct
 * io_uring_bpf_ctx (user_data, opcode, flags, and per opcode the socket
 * family/type/protocol, the open flags/mode/resolve or the connect address);
 * it returns 0 to refuse the SQE (-EACCES), anything else to let it run.
 * Several filters on one opcode must all let it run. */
#define AIOURING_REGISTER_BPF_FILTER_ 37
#define AIOURING_BPF_CMD_FILTER_ 1

struct aiouring_filter_insn {	/* struct sock_filter */
	uint16_t code;
	uint8_t jt;
	uint8_t jf;
	uint32_t k;
};

struct aiouring_bpf_filter_reg {	/* struct io_uring_bpf with its filter */
	uint16_t cmd_type;
	uint16_t cmd_flags;
	uint32_t resv;
	uint32_t opcode;
	uint32_t flags;
	uint32_t filter_len;
	uint8_t pdu_size;
	uint8_t resv1[3];
	uint64_t filter_ptr;
	uint64_t resv2[5];
};

/* Attaches a filter to opcode on ring_fd. Returns 0 or -errno (-EINVAL: a
 * kernel without the filters, or a program it refuses). */
static inline int aiouring_register_bpf_filter(int ring_fd, unsigned opcode,
					       const struct aiouring_filter_insn *insns,
					       unsigned count)
{
	struct aiouring_bpf_filter_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.cmd_type = AIOURING_BPF_CMD_FILTER_;
	reg.opcode = opcode;
	reg.filter_len = count;
	reg.filter_ptr = (uint64_t)(uintptr_t)insns;
	return aiouring_io_uring_register(ring_fd, AIOURING_REGISTER_BPF_FILTER_, &reg, 1);
}

/* Attaches every filter of records laid out as RingPolicy.filter_records()
 * writes them: u32 opcode, u32 count, then count instructions, repeated.
 * Returns 0, or -errno with *failed_opcode the opcode whose filter failed
 * (-EINVAL too for a record running past the end). */
static inline int aiouring_register_filter_records(int ring_fd, const void *records, size_t size,
						   unsigned *failed_opcode)
{
	const char *at = records, *end = at + size;
	uint32_t opcode, count;
	int ret;

	while (at + 8 <= end) {
		memcpy(&opcode, at, 4);
		memcpy(&count, at + 4, 4);
		at += 8;
		*failed_opcode = opcode;
		if (count > (size_t)(end - at) / sizeof(struct aiouring_filter_insn))
			return -EINVAL;
		ret = aiouring_register_bpf_filter(ring_fd, opcode,
						   (const struct aiouring_filter_insn *)at, count);
		if (ret < 0)
			return ret;
		at += count * sizeof(struct aiouring_filter_insn);
	}
	return 0;
}

#endif
