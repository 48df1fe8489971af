/* The program ring's runtime: see program_ring.h. */
#define _GNU_SOURCE
#include "program_ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef AIOURING_HAVE_LIBBPF

int aiouring_program_ring_supported(void) { return 0; }

int aiouring_program_ring_start(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out, char *err, size_t errlen)
{
	(void)object_path; (void)notify_fd; (void)limits; *out = NULL;
#ifndef AIOURING_NO_BPF_REASON
#define AIOURING_NO_BPF_REASON "libbpf or clang was missing at build time"
#endif
	snprintf(err, errlen, "aiouring was built without the kernel path of chain "
		 "programs (%s): they run loop-side", AIOURING_NO_BPF_REASON);
	return -ENOSYS;
}

int aiouring_program_ring_begin(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out)
{
	(void)object_path; (void)notify_fd; (void)limits; *out = NULL;
	return -ENOSYS;
}
int aiouring_program_ring_ready(struct aiouring_program_ring *r, int wait, char *err,
				size_t errlen)
{ (void)r; (void)wait; (void)err; (void)errlen; return -ENOSYS; }
void aiouring_program_ring_discard(struct aiouring_program_ring *r) { (void)r; }
int aiouring_program_ring_fd(struct aiouring_program_ring *r) { (void)r; return -1; }
struct aiouring_chains *aiouring_program_ring_chains(struct aiouring_program_ring *r)
{ (void)r; return NULL; }
struct aiouring_chain_control *aiouring_program_ring_control(struct aiouring_program_ring *r)
{ (void)r; return NULL; }
int aiouring_program_ring_wake(struct aiouring_program_ring *r, unsigned cmd, unsigned slot)
{ (void)r; (void)cmd; (void)slot; return -ENOSYS; }
int aiouring_program_ring_stop(struct aiouring_program_ring *r, double timeout)
{ (void)r; (void)timeout; return 0; }
int aiouring_program_ring_failed(struct aiouring_program_ring *r) { (void)r; return 0; }

#else

#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>

#include "../ring/restrictions.h"

/* Newer than Debian 12's uapi headers. */
#define CHAIN_SETUP_SINGLE_ISSUER (1U << 12)
#define CHAIN_SETUP_DEFER_TASKRUN (1U << 13)
#define CHAIN_SETUP_NO_SQARRAY (1U << 16)
#define CHAIN_SETUP_SQ_REWIND (1U << 20)
#define CHAIN_SETUP_CQSIZE (1U << 3)
#define CHAIN_SETUP_R_DISABLED (1U << 6)
#define CHAIN_REGISTER_ENABLE_RINGS 12
#define CHAIN_REGISTER_SEND_MSG_RING 31
#define CHAIN_OP_MSG_RING_ 40
#define CHAIN_OP_ASYNC_CANCEL_ 14
#define CHAIN_ASYNC_CANCEL_ANY (1U << 2)
#define CHAIN_ASYNC_CANCEL_ALL (1U << 0)
#ifndef BPF_F_SLEEPABLE
#define BPF_F_SLEEPABLE (1U << 4)
#endif
/* offsetof(struct io_uring_bpf_ops, ring_fd) in the .struct_ops data */
#define RING_FD_OFFSET 8

enum { STARTING, READY, FAILED, ENDED };

struct aiouring_program_ring {
	pthread_t thread;
	pid_t owner_pid;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int phase;
	int error;			/* -errno of a failed start or of the loop */
	int ring_fd;
	int notify_fd;
	struct io_uring_params params;
	void *rings;
	size_t rings_size;
	struct io_uring_sqe *sqes;
	size_t sqes_size;
	void *image;			/* the object file, ring_fd patched in */
	size_t image_size;
	struct bpf_object *obj;
	struct bpf_link *link;
	struct aiouring_chains *chains;		/* the dispatcher's .bss */
	size_t chains_size;
	struct aiouring_chain_control *control;	/* its control map */
	size_t control_size;
	char *err;			/* why the start failed (owned) */
	size_t errlen;
	int thread_started;
	int limited;			/* set up disabled, locked, then enabled */
	int has_policy;
	struct aiouring_ring_policy policy;
	void *filters;			/* limits' filter records (owned) */
	size_t filters_size;
};

/* libbpf's messages during a load, kept for the exception (the verifier
 * log among them). One load at a time per process does this. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len, log_cap;

#define LOG_HEAD 4096

/* Appends to the captured log; when full, the oldest text goes. */
static void log_append(const char *text, size_t n)
{
	if (n + 1 > log_cap)
		return;
	if (log_len + n + 1 > log_cap) {
		size_t drop = log_len + n + 1 - log_cap;
		memmove(log_buf, log_buf + drop, log_len - drop);
		log_len -= drop;
	}
	memcpy(log_buf + log_len, text, n);
	log_len += n;
	log_buf[log_len] = 0;
}

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char small[1024], *line = small;
	const char *text;
	size_t n;
	va_list copy;
	int got;

	if (level == LIBBPF_DEBUG || log_buf == NULL || log_cap < 64)
		return 0;
	/* A verifier log comes as one message, often longer than any fixed
	 * line: measure it first. */
	va_copy(copy, ap);
	got = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (got <= 0)
		return 0;
	if ((size_t)got >= sizeof(small)) {
		line = malloc((size_t)got + 1);
		if (line == NULL)
			line = small;
		else
			vsnprintf(line, (size_t)got + 1, fmt, ap);
	}
	n = line == small && (size_t)got >= sizeof(small) ? sizeof(small) - 1 : (size_t)got;
	text = line;
	if (n > log_cap / 2) {
		/* A verifier log longer than the room: its start (where the log
		 * begins) and its end (where the verifier says why). */
		size_t tail = log_cap / 2 - LOG_HEAD;
		log_append(text, LOG_HEAD);
		log_append("\n[...]\n", 7);
		log_append(text + n - tail, tail);
	} else {
		log_append(text, n);
	}
	if (line != small)
		free(line);
	return 0;
}

int aiouring_program_ring_supported(void) { return 1; }

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	int ret = (int)syscall(__NR_io_uring_setup, entries, p);
	return ret < 0 ? -errno : ret;
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
	int ret = (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
	return ret < 0 ? -errno : ret;
}

/* An IORING_OP_MSG_RING without a source ring (IORING_REGISTER_SEND_MSG_RING,
 * Linux 6.13+): wakes the program ring from any thread, even without a loop. */
static int send_msg_ring(int fd, __u64 user_data, __u32 res)
{
	struct io_uring_sqe sqe;
	int ret;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = CHAIN_OP_MSG_RING_;
	sqe.fd = fd;
	sqe.off = user_data;
	sqe.len = res;
	ret = (int)syscall(__NR_io_uring_register, -1, CHAIN_REGISTER_SEND_MSG_RING, &sqe, 1);
	return ret < 0 ? -errno : ret;
}

/* The program ring's direct descriptors, all empty: CHAIN_MAX_DIRECT per
 * chain slot. Closing the ring closes whatever chains left in them. */
static int register_direct_table(struct aiouring_program_ring *r)
{
	int fds[PROGRAM_RING_FILES], ret;
	for (int i = 0; i < PROGRAM_RING_FILES; i++)
		fds[i] = -1;
	ret = (int)syscall(__NR_io_uring_register, r->ring_fd, IORING_REGISTER_FILES, fds,
			   PROGRAM_RING_FILES);
	if (ret < 0) {
		ret = -errno;
		snprintf(r->err, r->errlen, "registering the program ring's direct descriptors: %s",
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* Locks a ring set up disabled to the limits begin() was given (filters,
 * then the policy), then enables it: this thread becomes its only issuer. */
static int apply_limits(struct aiouring_program_ring *r)
{
	unsigned opcode = 0;
	int ret;

	if (!r->limited)
		return 0;
	ret = aiouring_register_filter_records(r->ring_fd, r->filters, r->filters_size, &opcode);
	if (ret < 0) {
		snprintf(r->err, r->errlen, "the kernel refused an io_uring BPF filter "
			 "on the program ring (opcode %u): %s", opcode, strerror(-ret));
		return ret;
	}
	if (r->has_policy) {
		ret = aiouring_restrict_ring(r->ring_fd, &r->policy);
		if (ret < 0) {
			snprintf(r->err, r->errlen, "the kernel refused the program ring's "
				 "restrictions (IORING_REGISTER_RESTRICTIONS): %s; "
				 "AIOURING_RING_RESTRICTIONS=off runs without them", strerror(-ret));
			return ret;
		}
	}
	ret = aiouring_io_uring_register(r->ring_fd, CHAIN_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		snprintf(r->err, r->errlen, "enabling the program ring: %s", strerror(-ret));
	return ret;
}

static int setup_ring(struct aiouring_program_ring *r)
{
	struct io_uring_params *p = &r->params;
	int fd, ret;

	memset(p, 0, sizeof(*p));
	p->flags = CHAIN_SETUP_SINGLE_ISSUER | CHAIN_SETUP_DEFER_TASKRUN |
		   CHAIN_SETUP_NO_SQARRAY | CHAIN_SETUP_SQ_REWIND | CHAIN_SETUP_CQSIZE;
	if (r->limited)
		p->flags |= CHAIN_SETUP_R_DISABLED;
	p->cq_entries = PROGRAM_RING_CQ_ENTRIES;
	fd = sys_setup(PROGRAM_RING_SQ_ENTRIES, p);
	if (fd < 0) {
		snprintf(r->err, r->errlen, "io_uring_setup of the program ring "
			 "(SINGLE_ISSUER|DEFER_TASKRUN|NO_SQARRAY|SQ_REWIND): %s", strerror(-fd));
		return fd;
	}
	r->ring_fd = fd;
	if (!(p->features & IORING_FEAT_SINGLE_MMAP) || p->sq_entries != PROGRAM_RING_SQ_ENTRIES
	    || p->cq_entries != PROGRAM_RING_CQ_ENTRIES) {
		snprintf(r->err, r->errlen, "unexpected program ring geometry");
		return -EINVAL;
	}
	/* NO_SQARRAY: the SQ and CQ headers and the CQEs are one mapping. */
	r->rings_size = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	r->rings = mmap(NULL, r->rings_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (r->rings == MAP_FAILED) {
		r->rings = NULL;
		return -errno;
	}
	r->sqes_size = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		return -errno;
	}
	ret = register_direct_table(r);
	return ret ? ret : apply_limits(r);
}

/* libbpf before 1.4 cannot set a struct_ops data member after open: write
 * ring_fd into the object file's .struct_ops section before opening it. */
static int read_patched_object(struct aiouring_program_ring *r, const char *path)
{
	struct stat st;
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	const char *names;
	int fd, found = 0;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(r->err, r->errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	r->image = malloc(st.st_size);
	r->image_size = st.st_size;
	got = r->image ? read(fd, r->image, st.st_size) : -1;
	close(fd);
	if (got != st.st_size)
		return -EIO;
	eh = r->image;
	if (r->image_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > r->image_size ||
	    eh->e_shstrndx >= eh->e_shnum)
		goto bad;
	sh = (Elf64_Shdr *)((char *)r->image + eh->e_shoff);
	names = (const char *)r->image + sh[eh->e_shstrndx].sh_offset;
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_name >= sh[eh->e_shstrndx].sh_size ||
		    strcmp(names + sh[i].sh_name, ".struct_ops"))
			continue;
		if (sh[i].sh_size < RING_FD_OFFSET + 4 ||
		    sh[i].sh_offset + sh[i].sh_size > r->image_size)
			goto bad;
		memcpy((char *)r->image + sh[i].sh_offset + RING_FD_OFFSET, &r->ring_fd, 4);
		found = 1;
	}
	if (found)
		return 0;
bad:
	snprintf(r->err, r->errlen, "%s: not a chain dispatcher object", path);
	return -EINVAL;
}

/* Where a const volatile global lives in .rodata (its BTF DATASEC). */
static long rodata_offset(struct bpf_object *obj, const char *name)
{
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	int id;

	if (!btf)
		return -1;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -1;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		if (!strcmp(btf__name_by_offset(btf, var->name_off), name))
			return vs->offset;
	}
	return -1;
}

static int load_dispatcher(struct aiouring_program_ring *r, const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "aiouring_dispatcher");
	struct bpf_program *prog;
	struct bpf_map *map, *ops = NULL, *rodata = NULL, *bss = NULL, *control = NULL;
	__u32 geometry[3] = { r->params.cq_off.head, r->params.cq_off.tail,
			      r->params.cq_off.cqes };
	size_t size;
	void *data;
	int ret;

	ret = read_patched_object(r, path);
	if (ret)
		return ret;
	r->obj = bpf_object__open_mem(r->image, r->image_size, &opts);
	if (!r->obj) {
		ret = -errno;
		r->obj = NULL;
		return ret ? ret : -EINVAL;
	}
	bpf_object__for_each_map(map, r->obj) {
		const char *name = bpf_map__name(map);
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			ops = map;
		else if (strstr(name, ".rodata"))
			rodata = map;
		else if (strstr(name, ".bss"))
			bss = map;
		else if (!strcmp(name, "control"))
			control = map;
	}
	if (!ops || !rodata || !bss || !control) {
		snprintf(r->err, r->errlen, "%s: missing struct_ops, .rodata, .bss or the control "
			 "map: not a dispatcher of this aiouring", path);
		return -EINVAL;
	}
	/* libbpf >= 1.4 exposes the struct_ops data before load. */
	data = (void *)bpf_map__initial_value(ops, &size);
	if (data && size >= RING_FD_OFFSET + 4)
		memcpy((char *)data + RING_FD_OFFSET, &r->ring_fd, 4);
	data = (void *)bpf_map__initial_value(rodata, &size);
	for (int i = 0; i < 3; i++) {
		static const char *const names[3] = { "cq_head_off", "cq_tail_off", "cqes_off" };
		long off = rodata_offset(r->obj, names[i]);
		if (!data || off < 0 || (size_t)off + 4 > size) {
			snprintf(r->err, r->errlen, "%s: no %s in .rodata", path, names[i]);
			return -EINVAL;
		}
		memcpy((char *)data + off, &geometry[i], 4);
	}
	/* libbpf 1.1 does not know SEC("struct_ops.s/"). */
	bpf_object__for_each_program(prog, r->obj)
		bpf_program__set_flags(prog, bpf_program__flags(prog) | BPF_F_SLEEPABLE);
	ret = bpf_object__load(r->obj);
	if (ret)
		return ret < 0 ? ret : -EINVAL;
	/* libbpf 1.1 maps global data to its map only in skeletons: map it. */
	r->chains_size = bpf_map__value_size(bss);
	r->chains = r->chains_size != sizeof(*r->chains) ? MAP_FAILED :
		mmap(NULL, r->chains_size, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(bss), 0);
	if (r->chains == MAP_FAILED) {
		r->chains = NULL;
		snprintf(r->err, r->errlen, "%s: cannot map its chains (.bss of %zu bytes, "
			 "expected %zu): %s", path, (size_t)bpf_map__value_size(bss), sizeof(*r->chains),
			 strerror(errno));
		return -EINVAL;
	}
	r->control_size = bpf_map__value_size(control);
	r->control = r->control_size != sizeof(*r->control) ? MAP_FAILED :
		mmap(NULL, r->control_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(control), 0);
	if (r->control == MAP_FAILED) {
		r->control = NULL;
		snprintf(r->err, r->errlen, "%s: cannot map its control map: %s", path,
			 strerror(errno));
		return -EINVAL;
	}
	r->control->notify_fd = r->notify_fd;
	r->control->chains_user_base = (__u64)(uintptr_t)r->chains;
	r->control->control_user_base = (__u64)(uintptr_t)r->control;
	/* Attaches to the ring named by ring_fd, in this process. */
	r->link = bpf_map__attach_struct_ops(ops);
	if (!r->link) {
		ret = -errno;
		snprintf(r->err, r->errlen, "attaching the chain dispatcher to the program ring: %s",
			 strerror(-ret));
		return ret ? ret : -EINVAL;
	}
	return 0;
}

static void set_phase(struct aiouring_program_ring *r, int phase, int error)
{
	pthread_mutex_lock(&r->lock);
	r->phase = phase;
	r->error = error;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

/* After the dispatcher stopped and was detached: cancel what is still in
 * flight and consume CQEs until every chain request has completed (a
 * zero-copy send: until its notification), so no buffer a chain uses is
 * touched after the thread ends. */
static void drain(struct aiouring_program_ring *r)
{
	struct aiouring_chain_control *k = r->control;
	unsigned *head = (unsigned *)((char *)r->rings + r->params.cq_off.head);
	unsigned *tail = (unsigned *)((char *)r->rings + r->params.cq_off.tail);
	struct io_uring_cqe *cqes = (void *)((char *)r->rings + r->params.cq_off.cqes);
	unsigned mask = r->params.cq_entries - 1;
	int rounds = 0;

	if (!k)
		return;
	memset(&r->sqes[0], 0, sizeof(struct io_uring_sqe));
	r->sqes[0].opcode = CHAIN_OP_ASYNC_CANCEL_;
	r->sqes[0].fd = -1;
	r->sqes[0].cancel_flags = CHAIN_ASYNC_CANCEL_ANY | CHAIN_ASYNC_CANCEL_ALL;
	r->sqes[0].user_data = CHAIN_UD_IGNORE;
	sys_enter(r->ring_fd, 1, 0, 0);
	while (k->inflight > 0 && rounds++ < 100000) {
		unsigned h = __atomic_load_n(head, __ATOMIC_RELAXED);
		unsigned t = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
		if (h == t) {
			if (sys_enter(r->ring_fd, 0, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR)
				break;
			continue;
		}
		for (; h != t; h++) {
			__u64 ud = cqes[h & mask].user_data;
			__u32 flags = cqes[h & mask].flags;
			__u32 index = (ud >> CHAIN_UD_SLOT_SHIFT) & 0xffff, e = ud & 0xff;
			struct chain_control_slot *s;
			if ((ud & ~((1ULL << CHAIN_UD_KIND_SHIFT) - 1)) != CHAIN_UD_REQUEST ||
			    index >= CHAIN_SLOTS || e >= CHAIN_MAX_INFLIGHT)
				continue;
			s = &k->slots[index];
			if (s->entries[e].state == CHAIN_ENTRY_FREE)
				continue;
			if (s->entries[e].zerocopy && (flags & IORING_CQE_F_MORE)) {
				s->entries[e].state = CHAIN_ENTRY_NOTIF;
				continue;
			}
			s->entries[e].state = CHAIN_ENTRY_FREE;
			if (s->inflight)
				s->inflight--;
			k->inflight--;
		}
		__atomic_store_n(head, h, __ATOMIC_RELEASE);
	}
}

/* The dispatcher stopped without being asked: end the chains it ran with
 * -EIO on the loop's ring, so no coroutine waits forever. */
static void fail_running(struct aiouring_program_ring *r)
{
	struct aiouring_chain_control *k = r->control;
	if (!k || !r->chains || r->notify_fd < 0)
		return;
	for (int i = 0; i < CHAIN_SLOTS; i++) {
		struct chain_control_slot *s = &k->slots[i];
		if (s->state != CHAIN_SLOT_RUNNING && s->state != CHAIN_SLOT_STARTING &&
		    s->state != CHAIN_SLOT_FINISHING)
			continue;
		/* The waiter is read before the slot says DONE (then the loop may
		 * free it for another chain). */
		__u64 waiter = s->waiter;
		r->chains->chains[i].result = -EIO;
		__atomic_store_n(&s->state, CHAIN_SLOT_DONE, __ATOMIC_RELEASE);
		send_msg_ring(r->notify_fd, waiter, (__u32)-EIO);
	}
}

static void *program_ring_thread(void *arg)
{
	struct aiouring_program_ring *r = arg;
	const char *path = r->err;	/* the path rides in err until the start */
	char path_copy[4096];
	sigset_t all;
	int ret;

	/* Signals go to the loop's thread, never to this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	snprintf(path_copy, sizeof(path_copy), "%s", path);
	r->err[0] = 0;

	ret = setup_ring(r);
	if (!ret) {
		pthread_mutex_lock(&log_lock);
		log_buf = r->err;
		log_cap = r->errlen;
		log_len = 0;
		libbpf_print_fn_t old = libbpf_set_print(capture_print);
		ret = load_dispatcher(r, path_copy);
		libbpf_set_print(old);
		log_buf = NULL;
		pthread_mutex_unlock(&log_lock);
	}
	if (ret) {
		if (!r->err[0])
			snprintf(r->err, r->errlen, "loading the chain dispatcher: %s",
				 strerror(-ret));
		set_phase(r, FAILED, ret);
		return NULL;
	}
	set_phase(r, READY, 0);

	/* The dispatcher runs inside this call until it returns STOP. */
	for (;;) {
		ret = sys_enter(r->ring_fd, 0, 1, IORING_ENTER_GETEVENTS);
		if (ret == -EINTR && !r->control->shutdown)
			continue;
		break;
	}
	bpf_link__destroy(r->link);	/* detach: enter behaves normally again */
	r->link = NULL;
	drain(r);
	if (!r->control->shutdown) {
		fail_running(r);
		set_phase(r, ENDED, ret < 0 ? ret : (r->control->fatal ? r->control->fatal : -EIO));
	} else {
		set_phase(r, ENDED, 0);
	}
	return NULL;
}

static void release(struct aiouring_program_ring *r)
{
	if (r->link)
		bpf_link__destroy(r->link);
	if (r->chains)
		munmap(r->chains, r->chains_size);
	if (r->control)
		munmap(r->control, r->control_size);
	if (r->obj)
		bpf_object__close(r->obj);
	if (r->sqes)
		munmap(r->sqes, r->sqes_size);
	if (r->rings)
		munmap(r->rings, r->rings_size);
	if (r->ring_fd >= 0)
		close(r->ring_fd);
	free(r->image);
	free(r->filters);
	free(r->err);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->changed);
	free(r);
}

#define START_ERROR_SIZE (1 << 18)

int aiouring_program_ring_begin(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out)
{
	struct aiouring_program_ring *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	int ret;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	if (limits && (limits->policy || limits->filters_size)) {
		r->limited = 1;
		if (limits->policy) {
			r->has_policy = 1;
			r->policy = *limits->policy;
		}
		if (limits->filters_size) {
			r->filters = malloc(limits->filters_size);
			if (!r->filters) {
				free(r);
				return -ENOMEM;
			}
			memcpy(r->filters, limits->filters, limits->filters_size);
			r->filters_size = limits->filters_size;
		}
	}
	r->ring_fd = -1;
	r->notify_fd = notify_fd;
	r->owner_pid = getpid();
	r->errlen = START_ERROR_SIZE;
	r->err = malloc(r->errlen);
	if (!r->err) {
		free(r->filters);
		free(r);
		return -ENOMEM;
	}
	snprintf(r->err, r->errlen, "%s", object_path);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->changed, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&r->thread, &attr, program_ring_thread, r);
	pthread_attr_destroy(&attr);
	if (ret) {
		r->phase = FAILED;
		r->error = -ret;
		snprintf(r->err, r->errlen, "cannot start the program ring's thread: %s", strerror(ret));
		r->thread_started = 0;
	} else {
		r->thread_started = 1;
	}
	*out = r;
	return 0;
}

int aiouring_program_ring_ready(struct aiouring_program_ring *r, int wait, char *err,
				size_t errlen)
{
	int phase, error;

	pthread_mutex_lock(&r->lock);
	while (wait && r->phase == STARTING)
		pthread_cond_wait(&r->changed, &r->lock);
	phase = r->phase;
	error = r->error;
	pthread_mutex_unlock(&r->lock);
	if (phase == STARTING)
		return 0;
	if (phase == READY || (phase == ENDED && !error))
		return 1;
	if (err && errlen)
		snprintf(err, errlen, "%s", r->err);
	return error ? error : -EIO;
}

void aiouring_program_ring_discard(struct aiouring_program_ring *r)
{
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	release(r);
}

int aiouring_program_ring_start(const char *object_path, int notify_fd,
				const struct aiouring_program_ring_limits *limits,
				struct aiouring_program_ring **out, char *err, size_t errlen)
{
	struct aiouring_program_ring *r;
	int ret = aiouring_program_ring_begin(object_path, notify_fd, limits, &r);

	*out = NULL;
	if (ret)
		return ret;
	ret = aiouring_program_ring_ready(r, 1, err, errlen);
	if (ret < 0) {
		aiouring_program_ring_discard(r);
		return ret;
	}
	*out = r;
	return 0;
}

int aiouring_program_ring_fd(struct aiouring_program_ring *r) { return r->ring_fd; }

struct aiouring_chains *aiouring_program_ring_chains(struct aiouring_program_ring *r)
{
	return r->chains;
}

struct aiouring_chain_control *aiouring_program_ring_control(struct aiouring_program_ring *r)
{
	return r->control;
}

int aiouring_program_ring_wake(struct aiouring_program_ring *r, unsigned cmd, unsigned slot)
{
	return send_msg_ring(r->ring_fd, CHAIN_UD_WAKE, (cmd << 16) | slot);
}

int aiouring_program_ring_failed(struct aiouring_program_ring *r)
{
	int failed;
	pthread_mutex_lock(&r->lock);
	failed = r->phase == ENDED && r->error ? r->error : 0;
	pthread_mutex_unlock(&r->lock);
	return failed;
}

int aiouring_program_ring_stop(struct aiouring_program_ring *r, double timeout)
{
	struct timespec deadline;
	int ret;

	if (getpid() != r->owner_pid) {
		/* A forked child: the thread and the attachment are the parent's. */
		close(r->ring_fd);
		return 0;
	}
	if (aiouring_program_ring_ready(r, 1, NULL, 0) < 0) {
		aiouring_program_ring_discard(r);	/* it never started */
		return 0;
	}
	r->control->shutdown = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	send_msg_ring(r->ring_fd, CHAIN_UD_WAKE, CHAIN_CMD_SHUTDOWN << 16);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)timeout;
	deadline.tv_nsec += (long)((timeout - (time_t)timeout) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	ret = pthread_timedjoin_np(r->thread, NULL, &deadline);
	if (ret)
		return -ret;
	release(r);
	return 0;
}
#endif
