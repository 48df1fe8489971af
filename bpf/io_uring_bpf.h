/* The io_uring BPF struct_ops interface of Linux 7.1+, as the dispatcher
 * uses it, and the uapi SQE/CQE layouts it writes and reads. Defined here
 * rather than taken from a generated vmlinux.h so that the build needs no
 * kernel image: libbpf matches the struct_ops type and its members by name
 * against the running kernel's BTF at load time. */
#ifndef AIOURING_IO_URING_BPF_H
#define AIOURING_IO_URING_BPF_H
#include <linux/types.h>

/* Opaque (the ring being run); defined empty, as in the kernel's BTF, so that
 * libbpf finds the kfunc prototypes compatible (a forward declaration is not). */
struct iou_ctx {};

struct iou_loop_params {
	__u32 cq_wait_idx;		/* sleep until the CQ tail reaches this */
};

enum {
	IOU_LOOP_CONTINUE = 0,
	IOU_LOOP_STOP = 1,
};

enum {
	IOU_REGION_MEM = 0,
	IOU_REGION_CQ = 1,
	IOU_REGION_SQ = 2,
};

struct io_uring_bpf_ops {
	int (*loop_step)(struct iou_ctx *ctx, struct iou_loop_params *lp);
	__u32 ring_fd;
	void *priv;
};

/* Sleepable kfuncs: the program loads with BPF_F_SLEEPABLE. */
extern int bpf_io_uring_submit_sqes(struct iou_ctx *ctx, __u32 nr) __ksym;
extern __u8 *bpf_io_uring_get_region(struct iou_ctx *ctx, __u32 region_id,
				     const unsigned long rdwr_buf_size) __ksym;

/* uapi values the dispatcher needs (linux/io_uring.h of 7.1+). */
#define IOU_OP_ASYNC_CANCEL 14
#define IOU_OP_MSG_RING 40
#define IOU_MSG_DATA 0
#define IOU_SQE_FIXED_FILE (1U << 0)
#define IOU_SQE_IO_LINK (1U << 2)
#define IOU_SQE_CQE_SKIP_SUCCESS (1U << 6)
#define IOU_TIMEOUT_ETIME_SUCCESS (1U << 5)
#define IOU_SPLICE_F_FD_IN_FIXED (1U << 31)
#define IOU_CQE_F_MORE (1U << 1)
#define IOU_CQE_F_NOTIF (1U << 3)

/* struct io_uring_sqe, with the union members the dispatcher fills named
 * after their first use: off (addr2), addr (splice_off_in), op_flags
 * (rw_flags, msg_flags, open_flags, statx_flags, ...), file_index
 * (splice_fd_in). */
struct iou_sqe {
	__u8 opcode;
	__u8 flags;
	__u16 ioprio;
	__s32 fd;
	__u64 off;
	__u64 addr;
	__u32 len;
	__u32 op_flags;
	__u64 user_data;
	__u16 buf_index;
	__u16 personality;
	__s32 file_index;
	__u64 addr3;
	__u64 pad;
};

struct iou_cqe {
	__u64 user_data;
	__s32 res;
	__u32 flags;
};
#endif
