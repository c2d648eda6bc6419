/* The Count stream of the echo service, shared by echo_server and bench/rpc. */
#ifndef KT_ECHO_COUNT_H
#define KT_ECHO_COUNT_H

#include <kubetee/rpc.h>

/* Sends Msgs with text "0", "1", ... "n-1"; the first failing send's status. */
kt_status echo_count_to(kt_rpc_stream *out, long n);

#endif
