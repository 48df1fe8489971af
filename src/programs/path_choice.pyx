# Where a chain runs when the caller does not say: the path that recent
# chains say is faster for this program. A chain costs, loop-side, about one
# loop iteration per round of requests (a round: what one start()/step()
# issues) plus one to resume; in the kernel, a fixed hand-over (two
# wake-ups, and up to an iteration until the loop sees the end) plus the
# rounds themselves. Both costs move with how busy the loop is, so each
# estimate also remembers what the other one was when it was measured; when
# the loop has changed since (the kernel hand-over got much cheaper: the
# loop went idle; loop-side rounds got much dearer: it got busy), the other
# path is tried again at once. Otherwise it is tried every so often, rarely
# enough that a wrong try costs a few percent at most.

cdef double CHOICE_WEIGHT = 0.25        # of a new sample in the running estimates
cdef double REGIME_CHANGE = 4.0         # an estimate this far off means the loop changed
cdef unsigned long long RETRY_AFTER_CHANGE = 8
cdef unsigned long long RETRY_EVERY = 64


cdef inline double blend(double old, double sample, bint first) noexcept:
    return sample if first else old + CHOICE_WEIGHT * (sample - old)


cdef class PathChoice:

    def __cinit__(self):
        self.rounds = {}

    cdef bint prefer_kernel(self, int index):
        cdef double rounds, kernel, loop_side, ratio
        self.chains += 1
        if not self.have_kernel:
            return True
        if not self.have_loop_side:
            return False
        rounds = self.rounds.get(index, 1.0)
        kernel = self.kernel_overhead + rounds * self.kernel_per_round
        loop_side = (rounds + 1.0) * self.loop_per_round
        if kernel <= loop_side:
            if (self.kernel_overhead * REGIME_CHANGE < self.overhead_when_measured_loop
                    and self.chains - self.last_loop_side > RETRY_AFTER_CHANGE):
                return False
            ratio = loop_side / kernel if kernel > 0 else 1.0
            return self.chains - self.last_loop_side <= RETRY_EVERY * max(1.0, ratio)
        if (0 < self.loop_when_measured_kernel
                and self.loop_per_round > REGIME_CHANGE * self.loop_when_measured_kernel
                and self.chains - self.last_kernel > RETRY_AFTER_CHANGE):
            return True
        ratio = kernel / loop_side if loop_side > 0 else 1.0
        return self.chains - self.last_kernel > RETRY_EVERY * max(1.0, ratio)

    cdef int observe(self, ProgramOperation op, bint kernel, double kernel_seconds) except -1:
        cdef double latency = monotonic() - op.started
        cdef double rounds = <double>max(op.batches, 1)
        self.rounds[op.index] = blend(self.rounds.get(op.index, rounds), rounds,
                                      op.index not in self.rounds)
        if kernel:
            self.kernel_overhead = blend(self.kernel_overhead,
                                         max(latency - kernel_seconds, 0.0), not self.have_kernel)
            self.kernel_per_round = blend(self.kernel_per_round, kernel_seconds / rounds,
                                          not self.have_kernel)
            self.loop_when_measured_kernel = self.loop_per_round
            self.last_kernel = self.chains
            self.have_kernel = True
        else:
            self.loop_per_round = blend(self.loop_per_round, latency / (rounds + 1.0),
                                        not self.have_loop_side)
            self.overhead_when_measured_loop = self.kernel_overhead
            self.last_loop_side = self.chains
            self.have_loop_side = True
        return 0

    def stats(self):
        return {
            'kernel_overhead': self.kernel_overhead,
            'kernel_per_round': self.kernel_per_round,
            'loop_per_round': self.loop_per_round,
            'rounds': dict(self.rounds),
        }
