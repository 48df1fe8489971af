"""Names of io_uring opcodes, setup flags and feature bits, by kernel value."""

# Opcode names are the core's (it parses them in ring policies).
from ._ring import OPCODE_NAMES as OPCODES

SETUP_FLAGS = {
    "IOPOLL": 1 << 0, "SQPOLL": 1 << 1, "SQ_AFF": 1 << 2, "CQSIZE": 1 << 3,
    "CLAMP": 1 << 4, "ATTACH_WQ": 1 << 5, "R_DISABLED": 1 << 6,
    "SUBMIT_ALL": 1 << 7, "COOP_TASKRUN": 1 << 8, "TASKRUN_FLAG": 1 << 9,
    "SQE128": 1 << 10, "CQE32": 1 << 11, "SINGLE_ISSUER": 1 << 12,
    "DEFER_TASKRUN": 1 << 13, "NO_MMAP": 1 << 14, "REGISTERED_FD_ONLY": 1 << 15,
    "NO_SQARRAY": 1 << 16, "HYBRID_IOPOLL": 1 << 17, "CQE_MIXED": 1 << 18,
}

# Flags that are only valid together with others.
SETUP_FLAG_REQUIRES = {
    "SQ_AFF": ("SQPOLL",),
    "TASKRUN_FLAG": ("COOP_TASKRUN",),
    "DEFER_TASKRUN": ("SINGLE_ISSUER",),
    "HYBRID_IOPOLL": ("IOPOLL",),
}

# Flags a probe cannot try on its own (they need a ring or memory to attach).
SETUP_FLAGS_NOT_PROBED = ("ATTACH_WQ", "NO_MMAP", "REGISTERED_FD_ONLY")

FEATURES = (
    "SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY",
    "FAST_POLL", "POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS",
    "RSRC_TAGS", "CQE_SKIP", "LINKED_FILE", "REG_REG_RING", "RECVSEND_BUNDLE",
    "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
)


def opcode_name(op: int) -> str:
    return OPCODES[op] if op < len(OPCODES) else f"OP_{op}"
