# Constants of the kernel interface, exported to Python once, from here
# (aiouring.ops, aiouring.fs and the tests use these, not their own copies).

AT_FDCWD = AT_FDCWD_VALUE
AT_EMPTY_PATH = AT_EMPTY_PATH_VALUE
AT_SYMLINK_NOFOLLOW = AT_SYMLINK_NOFOLLOW_VALUE
AT_REMOVEDIR = AT_REMOVEDIR_VALUE
RWF_NOWAIT = RWF_NOWAIT_VALUE
STATX_BASIC_STATS = STATX_BASIC_STATS_VALUE
MAX_TRANSFER = MAX_RW_COUNT
