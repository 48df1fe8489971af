"""The default path of chain programs (no path= given): the estimates it
keeps and the choices they make, replayed from chains of known cost (the
Linux 7.x guest checks the choices of real chains: tests/kernel/)."""

from aiouring._ring import _path_choice_replay as replay

US = 1e-6


def warm(kernel_handover, loop_round):
    """Both paths measured on 2-round chains, the loop idle."""
    events = [("delay", 5 * US)]
    for _ in range(3):
        events += [("kernel", 4, kernel_handover + 2 * 3 * US, 2, 2 * 3 * US),
                   ("loop-side", 4, 3 * loop_round, 2, 0)]
    return events


def run_chains(events, rounds, kernel_handover, loop_round, count, delay=5 * US):
    """count chains of `rounds` rounds, each where the choice says, costing
    what that path costs, the loop's probe measuring delay; returns the
    choices."""
    choices = []
    for i in range(count):
        if i % 16 == 0:
            events.append(("delay", delay))
        choice = replay(events + [("ask", 4)])[-1]
        choices.append(choice)
        events.append(("ask", 4))
        if choice == "kernel":
            events.append(("kernel", 4, kernel_handover + rounds * 3 * US, rounds,
                           rounds * 3 * US))
        else:
            events.append(("loop-side", 4, (rounds + 1) * loop_round, rounds, 0))
    return choices


def test_short_chains_on_an_idle_loop_stay_loop_side():
    events = warm(300 * US, 10 * US)
    assert run_chains(events, 2, 300 * US, 10 * US, 100).count("loop-side") >= 95


def test_long_chains_go_to_the_kernel_after_a_chain_or_two():
    events = warm(300 * US, 10 * US)
    run_chains(events, 2, 300 * US, 10 * US, 20)
    choices = run_chains(events, 400, 300 * US, 10 * US, 50)
    assert choices[:3].count("kernel") >= 1 and choices[3:].count("kernel") >= 45, choices


def test_a_busy_loop_sends_short_chains_to_the_kernel():
    events = warm(300 * US, 10 * US)
    run_chains(events, 2, 300 * US, 10 * US, 20)
    # 2 ms of Python per iteration: a loop-side round costs an iteration,
    # the kernel chain about one iteration in all.
    choices = run_chains(events, 4, 2000 * US, 2000 * US, 60, delay=2000 * US)
    assert choices[20:].count("kernel") >= 38, choices


def test_when_the_loop_goes_idle_again_loop_side_is_tried_again():
    events = warm(300 * US, 10 * US)
    run_chains(events, 4, 2000 * US, 2000 * US, 60, delay=2000 * US)   # busy: kernel
    choices = run_chains(events, 2, 300 * US, 10 * US, 100)   # idle again
    assert choices[30:].count("loop-side") >= 65, choices


def test_the_worse_path_is_retried_rarely():
    events = warm(300 * US, 10 * US)
    choices = run_chains(events, 2, 300 * US, 10 * US, 1000)
    assert 1 <= choices.count("kernel") <= 30       # a few retries: it might have changed


def test_one_stalled_chain_does_not_turn_the_choice():
    events = warm(300 * US, 10 * US)
    run_chains(events, 2, 300 * US, 10 * US, 20)
    # The machine stalled 5 ms during one loop-side chain.
    events += [("ask", 4), ("loop-side", 4, 5000 * US, 2, 0)]
    assert run_chains(events, 2, 300 * US, 10 * US, 30).count("loop-side") >= 29
    # ... and one stalled probe of the loop's delay is no busy loop either.
    events += [("delay", 5000 * US)]
    assert run_chains(events, 2, 300 * US, 10 * US, 15).count("loop-side") >= 14


def test_much_longer_chains_try_the_kernel_again_soon():
    # Short chains measured in the kernel at 20 us a round (its fixed costs
    # spread over 2 rounds), loop-side at 5 us: by those figures 2000-round
    # chains belong loop-side (40 vs 10 ms); in fact a long chain's rounds
    # cost 1 us in the kernel (2.3 ms in all). Tried there after a couple
    # of chains, the kernel keeps them.
    events = [("delay", 5 * US)]
    for _ in range(3):
        events += [("kernel", 4, 250 * US + 40 * US, 2, 40 * US),
                   ("loop-side", 4, 3 * 5 * US, 2, 0)]
    choices = []
    for _ in range(20):
        choice = replay(events + [("ask", 4)])[-1]
        choices.append(choice)
        events.append(("ask", 4))
        if choice == "kernel":
            events.append(("kernel", 4, 250 * US + 2000 * US, 2000, 2000 * US))
        else:
            events.append(("loop-side", 4, 2001 * 5 * US, 2000, 0))
    assert choices[:4].count("kernel") >= 1 and choices[4:].count("kernel") == 16, choices


def test_swinging_lengths_retry_the_worse_path_rarely():
    # A program whose chains alternate between 2 and 200 rounds, on a loop
    # where the kernel's hand-over never pays: loop-side nearly always.
    events = warm(300 * US, 10 * US)
    choices = []
    for i in range(400):
        rounds = 2 if i % 2 else 200
        choice = replay(events + [("ask", 4)])[-1]
        choices.append(choice)
        events.append(("ask", 4))
        if choice == "kernel":
            events.append(("kernel", 4, 3000 * US + rounds * 50 * US, rounds, rounds * 50 * US))
        else:
            events.append(("loop-side", 4, (rounds + 1) * 10 * US, rounds, 0))
    assert choices.count("kernel") <= 400 // 64 + 2, choices.count("kernel")
