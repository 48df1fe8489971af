# Where a chain runs when the caller does not say: the path that recent
# chains say is faster for this program. A chain costs, loop-side, about one
# loop iteration per round of requests (a round: what one start()/step()
# issues) plus one to resume; in the kernel, a fixed hand-over (two
# wake-ups, and up to an iteration until the loop sees the end) plus the
# rounds themselves. Both costs move with how busy the loop is, which a
# probe measures now and then: how long a callback scheduled when a chain
# starts waits for its turn. Each path's estimate remembers that delay when
# it was measured; when the loop has become much busier (the kernel may now
# win) or much idler (loop-side may) since the other path was measured, the
# other one is tried again soon. Otherwise it is tried every so often,
# rarely enough that a wrong try costs a few percent at most.

cdef double CHOICE_WEIGHT = 0.25        # of a new sample in the running estimates
cdef double REGIME_CHANGE = 4.0         # a loop this much busier or idler has changed
cdef double DELAY_FLOOR = 20e-6         # delays below this are all "idle"
cdef unsigned long long RETRY_AFTER_CHANGE = 8
cdef unsigned long long RETRY_AFTER_LENGTH_CHANGE = 2
cdef unsigned long long RETRY_EVERY = 64
cdef unsigned long long PROBE_EVERY = 16


cdef inline double blend(double old, double sample, bint first, bint* outlier) noexcept:
    """A running estimate; a sample REGIME_CHANGE times off replaces it (the
    loop changed: the old samples say nothing any more). One far above it
    does so only when the next is too: a single one is more likely a stall
    of the machine than a busier loop, and would otherwise turn every
    choice for dozens of chains (nothing makes a time look shorter, so one
    far below is taken at once). outlier NULL: taken at once."""
    if first or sample > REGIME_CHANGE * old or sample * REGIME_CHANGE < old:
        if first or outlier == NULL or outlier[0] or sample < old:
            if outlier != NULL:
                outlier[0] = False
            return sample
        outlier[0] = True
        return old
    if outlier != NULL:
        outlier[0] = False
    return old + CHOICE_WEIGHT * (sample - old)


cdef inline bint far_apart(double a, double b) noexcept:
    return a > REGIME_CHANGE * b or a * REGIME_CHANGE < b


cdef class PathChoice:

    def __cinit__(self):
        self.rounds = {}
        self.measured_rounds = {}

    cdef bint length_changed(self, int index, double rounds, int path):
        """Whether to try path (0 kernel, 1 loop-side) again because the
        program's chains are now far longer or shorter than the last one
        measured there: a per-round figure from 2-round chains says little
        about 2000-round ones (in the kernel, fixed costs weigh on short
        chains' rounds). At most once per RETRY_EVERY chains, so programs
        whose lengths keep swinging pay no more for it than for the
        periodic retries."""
        measured = self.measured_rounds.get(index)
        if measured is None or not far_apart(rounds, measured[path]):
            return False
        if self.length_retried and self.chains - self.length_retry_at <= RETRY_EVERY:
            return False
        return True

    cdef bint retry_for_length(self):
        self.length_retried = True
        self.length_retry_at = self.chains
        return True

    cdef bint prefer_kernel(self, int index):
        cdef double rounds, kernel, loop_side, ratio, delay
        self.chains += 1
        if not self.have_kernel:
            return True
        if not self.have_loop_side:
            return False
        rounds = self.rounds.get(index, 1.0)
        kernel = self.kernel_overhead + rounds * self.kernel_per_round
        loop_side = (rounds + 1.0) * self.loop_per_round
        delay = max(self.loop_delay, DELAY_FLOOR)
        if kernel <= loop_side:
            if (delay * REGIME_CHANGE < self.delay_at_loop_side
                    and self.chains - self.last_loop_side > RETRY_AFTER_CHANGE):
                return False        # the loop got idle since loop-side was measured
            if (self.chains - self.last_loop_side > RETRY_AFTER_LENGTH_CHANGE
                    and self.length_changed(index, rounds, 1)):
                return not self.retry_for_length()
            ratio = loop_side / kernel if kernel > 0 else 1.0
            return self.chains - self.last_loop_side <= RETRY_EVERY * max(1.0, ratio)
        if (delay > REGIME_CHANGE * self.delay_at_kernel
                and self.chains - self.last_kernel > RETRY_AFTER_CHANGE):
            return True             # the loop got busy since the kernel was measured
        if (self.chains - self.last_kernel > RETRY_AFTER_LENGTH_CHANGE
                and self.length_changed(index, rounds, 0)):
            return self.retry_for_length()
        ratio = kernel / loop_side if loop_side > 0 else 1.0
        return self.chains - self.last_kernel > RETRY_EVERY * max(1.0, ratio)

    cdef int probe(self, Loop loop) except -1:
        """Every PROBE_EVERY chains, a callback that measures how long the
        loop takes to get to it."""
        if self.probes % PROBE_EVERY == 0:
            loop.soon(self.probed, (monotonic(),))
        self.probes += 1
        return 0

    def probed(self, double scheduled):
        self.delay_sample(monotonic() - scheduled)

    cdef int delay_sample(self, double seconds) except -1:
        # Taken at once: the delay only sends a chain or two to the other
        # path to be measured again, where a stall is no longer believed.
        self.loop_delay = blend(self.loop_delay, seconds, not self.have_delay, NULL)
        self.have_delay = True
        return 0

    cdef int observe(self, ProgramOperation op, bint kernel, double kernel_seconds) except -1:
        cdef double latency = monotonic() - op.started
        cdef double rounds = <double>max(op.batches, 1)
        cdef double delay = max(self.loop_delay, DELAY_FLOOR)
        self.rounds[op.index] = blend(self.rounds.get(op.index, rounds), rounds,
                                      op.index not in self.rounds, NULL)
        measured = self.measured_rounds.setdefault(op.index, [rounds, rounds])
        measured[0 if kernel else 1] = rounds
        if kernel:
            self.kernel_overhead = blend(self.kernel_overhead,
                                         max(latency - kernel_seconds, 0.0), not self.have_kernel,
                                         &self.outlier_kernel_overhead)
            self.kernel_per_round = blend(self.kernel_per_round, kernel_seconds / rounds,
                                          not self.have_kernel, &self.outlier_kernel_round)
            self.delay_at_kernel = delay
            self.last_kernel = self.chains
            self.have_kernel = True
        else:
            self.loop_per_round = blend(self.loop_per_round, latency / (rounds + 1.0),
                                        not self.have_loop_side, &self.outlier_loop_round)
            self.delay_at_loop_side = delay
            self.last_loop_side = self.chains
            self.have_loop_side = True
        return 0

    def stats(self):
        return {
            'kernel_overhead': self.kernel_overhead,
            'kernel_per_round': self.kernel_per_round,
            'loop_per_round': self.loop_per_round,
            'loop_delay': self.loop_delay,
            'rounds': dict(self.rounds),
        }


def _path_choice_replay(events):
    """Replays chains through a fresh PathChoice, for tests: each event is
    ("kernel" | "loop-side", program index, seconds, rounds, in-kernel
    seconds), an observed chain; ("delay", seconds), what the loop's probe
    measured; or ("ask", program index), a decision ("kernel" or
    "loop-side"). Returns the decisions, in order."""
    cdef PathChoice choice = PathChoice.__new__(PathChoice)
    cdef ProgramOperation op
    decisions = []
    for event in events:
        if event[0] == "ask":
            decisions.append("kernel" if choice.prefer_kernel(event[1]) else "loop-side")
            continue
        if event[0] == "delay":
            choice.delay_sample(event[1])
            continue
        kind, index, seconds, rounds, kernel_seconds = event
        op = ProgramOperation.__new__(ProgramOperation)
        op.index = index
        op.batches = rounds
        op.started = monotonic() - seconds
        choice.observe(op, kind == "kernel", kernel_seconds)
    return decisions
