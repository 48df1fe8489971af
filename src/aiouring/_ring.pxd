# The core's declarations for the module aiouring._ring (Cython looks for
# them under the package path): see ../loop.pxd, its table of contents.
include "loop.pxd"
