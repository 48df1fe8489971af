/* The io_uring BPF struct_ops interface of Linux 7.1+, as the dispatcher
 * uses it. Defined here rather than taken from a generated vmlinux.h so that
 * the build needs no kernel image: libbpf matches the struct_ops type and
 * its members by name against the running kernel's BTF at load time. */
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
#define IOU_SQE_CQE_SKIP_SUCCESS (1U << 6)
#define IOU_ASYNC_CANCEL_ANY (1U << 2)

struct iou_cqe {
	__u64 user_data;
	__s32 res;
	__u32 flags;
};
#endif
