/* The built-in chain programs, in their registration order: the index of a
 * program is its position here, on both paths. */
#include "copy.c"
#include "read_frame.c"
#include "pointer_chase.c"
#include "recv_send.c"
#include "nop_chain.c"
#include "multi_read.c"
#include "read_file.c"
#include "btree_lookup.c"
#include "splice_relay.c"

#define CHAIN_BUILTIN_PROGRAMS(X) \
	X(copy) X(read_frame) X(pointer_chase) X(recv_send) X(nop_chain) \
	X(multi_read) X(read_file) X(btree_lookup) X(splice_relay)
