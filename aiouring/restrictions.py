"""What a loop's io_uring may issue.

Every loop's ring is set up disabled and locked, before it is enabled
(IORING_REGISTER_RESTRICTIONS), to exactly the opcodes, SQE flags and
register operations aiouring issues: the sock_* requests, transports,
files, linked chains, chain programs run loop-side and the loop's own
wake-ups. Whatever a bug or a hostile input makes the loop write, the
kernel fails anything else with EACCES (PermissionError).

A chain program of your own that issues another opcode needs it allowed::

    from aiouring.restrictions import RingPolicy, set_ring_policy
    set_ring_policy(RingPolicy().allow("SOCKET"))     # rings created from now on

or, for a whole process, the environment: ``AIOURING_RING_RESTRICTIONS=+SOCKET``
(comma-separated names, ``+`` allows, ``-`` denies; ``off`` turns the
restrictions off). ``aiouring.features()["ring_restrictions"]`` and
``python -m aiouring info`` show the set in force.
"""

from ._ring import (RingPolicy, ring_policy, set_ring_policy, policy_from_environment,
                    LOOP_OPCODES, LOOP_SQE_FLAGS, LOOP_REGISTER_OPS, RESTRICTIONS_VARIABLE)

__all__ = ["RingPolicy", "ring_policy", "set_ring_policy", "policy_from_environment",
           "LOOP_OPCODES", "LOOP_SQE_FLAGS", "LOOP_REGISTER_OPS", "RESTRICTIONS_VARIABLE"]
