# The loop-side driver of chain programs: the native build of a program runs
# on each completion of its chain on the loop's own ring, so a chain of any
# length resumes Python once. Each step's requests are checked against what
# the coroutine handed over (bpf/chain_check.h, the check the kernel path's
# dispatcher runs too) before any SQE is written; up to CHAIN_MAX_INFLIGHT
# are in flight, and when the program ends its chain the rest are cancelled
# and awaited, and the direct descriptors it left open are closed, before
# the coroutine resumes. On Linux 7.1+ the same programs run in the kernel
# instead (kernel.pyx); ChainPrograms picks the path per chain.

include "programs/inputs.pyx"
include "programs/path_choice.pyx"

cdef enum:
    CHAIN_CQE_F_NOTIF = 1 << 3
    CHAIN_TIMEOUT_ETIME_SUCCESS = 1 << 5
    CHAIN_SPLICE_F_FD_IN_FIXED = 1 << 31


cdef inline void prep_request(io_uring_sqe* sqe, chain_resolved* r, __kernel_timespec* ts,
                              int fixed_buffer) noexcept:
    """Writes a checked request as an SQE, with liburing's encoder for its
    opcode (fixed_buffer: the loop ring's fixed-buffer slot of its buffer)."""
    cdef uint8_t op = r.opcode
    cdef unsigned flags
    if op == CHAIN_OP_READ:
        if fixed_buffer >= 0:
            io_uring_prep_read_fixed(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.off,
                                     fixed_buffer)
        else:
            io_uring_prep_read(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.off)
        sqe.rw_flags = r.op_flags
    elif op == CHAIN_OP_WRITE:
        if fixed_buffer >= 0:
            io_uring_prep_write_fixed(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.off,
                                      fixed_buffer)
        else:
            io_uring_prep_write(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.off)
        sqe.rw_flags = r.op_flags
    elif op == CHAIN_OP_RECV:
        io_uring_prep_recv(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.op_flags)
    elif op == CHAIN_OP_SEND:
        io_uring_prep_send(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.op_flags)
    elif op == CHAIN_OP_SEND_ZC:
        io_uring_prep_send_zc(sqe, r.fd, <void*><uintptr_t>r.addr, r.len, r.op_flags, 0)
    elif op == CHAIN_OP_OPENAT:
        io_uring_prep_openat_direct(sqe, r.fd, <const char*><uintptr_t>r.addr, r.op_flags,
                                    r.mode, r.file_index)
    elif op == CHAIN_OP_CLOSE:
        io_uring_prep_close_direct(sqe, r.file_index)
    elif op == CHAIN_OP_STATX:
        io_uring_prep_statx(sqe, r.fd, <const char*><uintptr_t>r.addr, r.op_flags, r.mode,
                            <statx*><uintptr_t>r.addr2)
    elif op == CHAIN_OP_ACCEPT:
        io_uring_prep_accept_direct(sqe, r.fd, NULL, NULL, 0, r.file_index)
    elif op == CHAIN_OP_CONNECT:
        io_uring_prep_connect(sqe, r.fd, <sockaddr*><uintptr_t>r.addr, <socklen_t>r.off)
    elif op == CHAIN_OP_SPLICE:
        flags = r.op_flags
        if r.fixed_in:
            flags |= CHAIN_SPLICE_F_FD_IN_FIXED
        io_uring_prep_splice(sqe, r.fd_in, <int64_t>r.addr2, r.fd, <int64_t>r.off, r.len, flags)
    elif op == CHAIN_OP_TIMEOUT:
        ts.tv_sec = <long long>(r.ns // 1000000000)
        ts.tv_nsec = <long long>(r.ns % 1000000000)
        io_uring_prep_timeout(sqe, ts, 0, CHAIN_TIMEOUT_ETIME_SUCCESS)
    elif op == CHAIN_OP_LINK_TIMEOUT:
        ts.tv_sec = <long long>(r.ns // 1000000000)
        ts.tv_nsec = <long long>(r.ns % 1000000000)
        io_uring_prep_link_timeout(sqe, ts, 0)
    elif op == CHAIN_OP_FSYNC:
        io_uring_prep_fsync(sqe, r.fd, r.op_flags)
    else:
        io_uring_prep_nop(sqe)
    if r.sqe_flags & CHAIN_SQE_FIXED_FILE:
        sqe.flags |= IOSQE_FIXED_FILE
    if r.sqe_flags & CHAIN_SQE_IO_LINK:
        sqe.flags |= IOSQE_IO_LINK


cdef class LoopSideProgram(ProgramOperation):
    """One chain program running loop-side: the program's view of its chain,
    the driver's state (the same layout the dispatcher keeps per slot), and
    the batch a step queues. Its SQEs carry the entry of their request in
    the step bits of user_data; the operation stays on the ring until the
    chain has ended and nothing of it is in flight."""

    cdef aiouring_chain chain
    cdef chain_control_slot control
    cdef chain_request batch[CHAIN_MAX_BATCH]
    cdef chain_io io
    cdef __kernel_timespec timespecs[CHAIN_MAX_INFLIGHT]
    cdef const chain_program* program
    cdef uint32_t direct_taken          # bit i: tables.direct[i] is a slot of the loop's table

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        return False                    # deliver() detaches it

    cdef object context_now(self):
        return PyBytes_FromStringAndSize(<char*>self.chain.context.bytes, self.context_size)

    cdef int begin(self, unsigned max_steps) except -1:
        """Starts the chain: its linked steps, then the program's start()."""
        cdef Ring ring = self.owner.loop._ring
        cdef int i
        self.control.max_steps = max_steps
        self.control.state = CHAIN_SLOT_RUNNING
        self.control.where = CHAIN_RAN_LOOP_SIDE
        self.control.program = <uint32_t>self.index
        self.control.free_top = CHAIN_MAX_INFLIGHT
        for i in range(CHAIN_MAX_INFLIGHT):
            self.control.free_list[i] = CHAIN_MAX_INFLIGHT - 1 - i
        self.chain.program = <uint32_t>self.index
        self.inputs.fill(&self.control.tables, &self.chain)
        self.control.tables.context_addr = <uint64_t><uintptr_t>&self.chain.context
        self.io.buf_addr = self.control.tables.buf_addr
        self.io.buf_len = self.control.tables.buf_len
        self.io.nbuffers = self.control.tables.nbuffers
        self.io.context_addr = self.control.tables.context_addr
        for i in range(self.inputs.nviews):
            if isinstance(self.inputs.keep[i], AlignedBuffer):
                self.inputs.fixed_index[i] = (<AlignedBuffer>self.inputs.keep[i]
                                              ).ensure_registered(ring)
        if self.linked is not None:
            self.linked.acquire_for(self)
        ring.reserve(CHAIN_MAX_BATCH + CHAIN_MAX_LINKED)
        self.started = monotonic()
        self.enters_started = ring.enters
        ring.attach(self)
        if self.linked is not None:
            self.submit_linked()
        self.run_program(True, 0, 0)
        return 0

    cdef int submit_linked(self) except -1:
        """The linked chain the program is attached to, as one IOSQE_IO_LINK
        chain whose every step reports to the program."""
        cdef Ring ring = self.owner.loop._ring
        cdef AttachedSteps steps = self.linked
        cdef Py_ssize_t i
        cdef int e
        cdef io_uring_sqe* sqe
        for i in range(steps.count):
            e = self.take_entry()
            self.control.entries[e].tag = CHAIN_LINKED_TAG(<uint32_t>i)
            self.control.entries[e].state = CHAIN_ENTRY_INFLIGHT
            self.control.entries[e].effect = steps.effects[i]
            self.control.entries[e].direct = steps.directs[i]
            sqe = ring.reserved_sqe()
            steps.write_sqe(sqe, i)
            sqe.user_data = self.step_user_data(<uint32_t>e)
        self.control.steps += <uint32_t>steps.count
        self.control.inflight += <uint32_t>steps.count
        return 0

    cdef int take_entry(self) noexcept:
        self.control.free_top -= 1
        return self.control.free_list[self.control.free_top]

    cdef void give_entry(self, int e) noexcept:
        self.control.entries[e].state = CHAIN_ENTRY_FREE
        self.control.free_list[self.control.free_top] = e
        self.control.free_top += 1

    cdef int run_program(self, bint starting, uint32_t tag, int32_t res) except -1:
        cdef int rc
        # Room first: making it may dispatch completions (Python code), which
        # must not come between the program's requests and their SQEs.
        self.owner.loop._ring.reserve(CHAIN_MAX_BATCH)
        if self.control.state != CHAIN_SLOT_RUNNING:
            return 0
        self.chain.steps = self.control.steps
        self.chain.max_steps = self.control.max_steps
        self.chain.inflight = self.control.inflight
        self.io.reqs = self.batch
        self.io.count = 0
        self.io.error = 0
        if starting:
            rc = aiouring_chain_start(self.program, &self.chain, &self.io)
        else:
            rc = aiouring_chain_step(self.program, &self.chain, &self.io, tag, res)
        return self.after_program(rc)

    cdef int after_program(self, int rc) except -1:
        cdef int err = 0
        if rc != CHAIN_DONE:
            err = self.submit_batch()
            if err == 0 and self.control.inflight == 0:
                err = -EIO          # waits, with nothing in flight
        if err:
            self.chain.result = err
        if err or rc == CHAIN_DONE:
            self.begin_finish()
        return 0

    cdef int refuse(self, uint32_t fault, uint32_t position, uint32_t detail):
        self.control.fault.code = fault
        self.control.fault.position = position
        self.control.fault.detail = detail
        if position < CHAIN_MAX_BATCH:
            self.control.fault.request = self.batch[position]
        return -aiouring_chain_fault_errno(fault)

    cdef int assign_direct(self, uint32_t i) except -1:
        """A slot of the loop ring's file table for the chain's direct
        descriptor i (freed when the chain ends)."""
        self.control.tables.direct[i] = self.owner.loop._ring.file_table().allocate()
        self.direct_taken |= 1u << i
        return 0

    cdef int submit_batch(self) except? -1:
        """Checks what the step queued and writes its SQEs: 0, or -errno for
        the chain (a refused request is recorded as its fault)."""
        cdef Ring ring = self.owner.loop._ring
        cdef uint32_t count = self.io.count, i, fault, detail = 0
        cdef chain_resolved resolved[CHAIN_MAX_BATCH]
        cdef uint32_t previous
        cdef io_uring_sqe* sqe = NULL
        cdef uint16_t buf
        cdef int e, fixed
        if (self.io.error or count > CHAIN_MAX_BATCH
                or self.control.inflight + count > CHAIN_MAX_INFLIGHT):
            return self.refuse(CHAIN_FAULT_BUSY, count, 0)
        if count == 0:
            return 0
        if self.control.steps + count > self.control.max_steps:
            return -ELOOP
        for i in range(count):
            previous = CHAIN_PREVIOUS(&self.batch[i - 1]) if i else 0
            fault = aiouring_chain_check(&self.control.tables, &self.batch[i], previous,
                                         &resolved[i], &detail)
            while fault == CHAIN_NEED_DIRECT:
                try:
                    self.assign_direct(detail)
                except OSError as exc:
                    return -exc.errno
                fault = aiouring_chain_check(&self.control.tables, &self.batch[i], previous,
                                             &resolved[i], &detail)
            if fault != CHAIN_FAULT_NONE:
                return self.refuse(fault, i, detail)
        for i in range(count):
            e = self.take_entry()
            self.control.entries[e].tag = self.batch[i].tag
            self.control.entries[e].state = CHAIN_ENTRY_INFLIGHT
            self.control.entries[e].zerocopy = self.batch[i].opcode == CHAIN_OP_SEND_ZC
            if self.batch[i].opcode == CHAIN_OP_OPENAT or self.batch[i].opcode == CHAIN_OP_ACCEPT:
                self.control.entries[e].effect = CHAIN_EFFECT_OPENS
                self.control.entries[e].direct = <uint8_t>self.batch[i].off
            elif self.batch[i].opcode == CHAIN_OP_CLOSE:
                self.control.entries[e].effect = CHAIN_EFFECT_CLOSES
                self.control.entries[e].direct = <uint8_t>(self.batch[i].file & 0xff)
            else:
                self.control.entries[e].effect = CHAIN_EFFECT_NONE
            fixed = -1
            buf = self.batch[i].buf
            if ((self.batch[i].opcode == CHAIN_OP_READ or self.batch[i].opcode == CHAIN_OP_WRITE)
                    and buf < <uint16_t>self.inputs.nviews):
                fixed = self.inputs.fixed_index[buf]
            sqe = ring.reserved_sqe()
            prep_request(sqe, &resolved[i], &self.timespecs[e], fixed)
            sqe.user_data = self.step_user_data(<uint32_t>e)
        sqe.flags &= ~IOSQE_IO_LINK         # a link ends with its step's batch
        self.control.steps += count
        self.control.inflight += count
        self.control.batches += 1
        self.owner.steps_loop_side += count
        return 0

    cdef int begin_finish(self) except -1:
        """The chain ends: cancel what is in flight; settle() delivers once
        the kernel is done with all of it."""
        cdef Ring ring = self.owner.loop._ring
        cdef int e
        self.control.state = CHAIN_SLOT_FINISHING
        if self.control.inflight:
            ring.reserve(CHAIN_MAX_INFLIGHT)
            for e in range(CHAIN_MAX_INFLIGHT):
                if self.control.entries[e].state == CHAIN_ENTRY_INFLIGHT:
                    io_uring_prep_cancel64(ring.reserved_sqe(), self.step_user_data(<uint32_t>e), 0)
            ring.submit_now()
        return self.settle()

    cdef int settle(self) except -1:
        """Nothing in flight any more: close the direct descriptors the chain
        left open, then deliver."""
        cdef Ring ring = self.owner.loop._ring
        cdef io_uring_sqe* sqe
        cdef int i, e
        if self.control.inflight or self.control.state == CHAIN_SLOT_DONE:
            return 0
        if self.control.direct_open:
            ring.reserve(CHAIN_MAX_DIRECT)
            for i in range(CHAIN_MAX_DIRECT):
                if (self.control.direct_open & (1u << i)) and self.control.tables.direct[i] >= 0:
                    e = self.take_entry()
                    self.control.entries[e].state = CHAIN_ENTRY_INFLIGHT
                    self.control.entries[e].effect = CHAIN_EFFECT_CLEANUP
                    self.control.entries[e].zerocopy = 0
                    sqe = ring.reserved_sqe()
                    io_uring_prep_close_direct(sqe, <unsigned>self.control.tables.direct[i])
                    sqe.user_data = self.step_user_data(<uint32_t>e)
                    self.control.inflight += 1
            self.control.direct_open = 0
            if self.control.inflight:
                return 0
        return self.deliver()

    cdef int deliver_unstarted(self) except -1:
        """begin() failed before anything reached the ring: give back what
        it took."""
        cdef RegisteredFiles files = self.owner.loop._ring.files
        cdef int i
        self.control.state = CHAIN_SLOT_DONE
        for i in range(CHAIN_MAX_DIRECT):
            if self.direct_taken & (1u << i) and files is not None:
                files.release(self.control.tables.direct[i])
        self.direct_taken = 0
        if self.linked is not None:
            self.linked.release_states()
        self.inputs.release()
        self.delivered = True
        return 0

    cdef int direct_slot(self, int k) except -1:
        if self.control.tables.direct[k] < 0:
            self.assign_direct(k)
        return self.control.tables.direct[k]

    cdef int deliver(self) except -1:
        cdef Ring ring = self.owner.loop._ring
        cdef RegisteredFiles files = ring.files
        cdef int i
        self.control.state = CHAIN_SLOT_DONE
        if self.user_data:
            ring.detach(self)
            ring.completions_to_python += 1
        for i in range(CHAIN_MAX_DIRECT):
            if self.direct_taken & (1u << i) and files is not None:
                files.release(self.control.tables.direct[i])
        self.direct_taken = 0
        self.steps = self.control.steps
        self.batches = self.control.batches
        self.fault = self.control.fault
        self.context_bytes = self.context_now()
        self.owner.chains_loop_side += 1
        self.program = NULL
        self.owner.ended(self, self.chain.result, False, 0.0)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef uint32_t e = self.cqe_step
        cdef chain_entry* entry
        cdef uint32_t tag
        if e >= CHAIN_MAX_INFLIGHT or self.control.state == CHAIN_SLOT_DONE:
            return 0
        entry = &self.control.entries[e]
        if entry.state == CHAIN_ENTRY_FREE:
            return 0
        tag = entry.tag
        if entry.zerocopy and (flags & CHAIN_CQE_F_NOTIF):
            # send_zc: the kernel is done with the buffer; the result came before.
            self.give_entry(e)
            self.control.inflight -= 1
            if self.control.state == CHAIN_SLOT_FINISHING:
                self.settle()
            return 0
        if entry.zerocopy and (flags & IORING_CQE_F_MORE):
            entry.state = CHAIN_ENTRY_NOTIF
        else:
            if res >= 0 and entry.effect == CHAIN_EFFECT_OPENS:
                self.control.direct_open |= 1u << (entry.direct & 31)
            elif res >= 0 and entry.effect == CHAIN_EFFECT_CLOSES:
                self.control.direct_open &= ~(1u << (entry.direct & 31))
            self.give_entry(e)
            self.control.inflight -= 1
            if self.linked is not None and (tag & 0xffff0000u) == 0xffff0000u:
                self.linked.record(tag & 0xffff, res)
            if entry.effect == CHAIN_EFFECT_CLEANUP or self.control.state == CHAIN_SLOT_FINISHING:
                return self.settle()
        if self.control.state != CHAIN_SLOT_RUNNING:
            return 0
        if self.control.cancel:
            self.chain.result = -ECANCELED
            return self.begin_finish()
        return self.run_program(False, tag, res)

    cdef int cancel_chain(self) except -1:
        """The coroutine went away: end the chain (its requests are
        cancelled; the operation stays on the ring until their CQEs)."""
        if self.control.state == CHAIN_SLOT_RUNNING:
            self.control.cancel = 1
            self.chain.result = -ECANCELED
            self.begin_finish()
        return 0
