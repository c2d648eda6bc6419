/* bench/rpc: the servers it compares and the load it drives them with. Both servers
 * serve tests/rpc/echo.proto's Say (unary echo) and Count (a stream of n messages). */
#ifndef KT_BENCH_RPC_H
#define KT_BENCH_RPC_H

#define BENCH_SAY "/kubetee.echo.Echo/Say"
#define BENCH_COUNT "/kubetee.echo.Echo/Count"

/* Serve on address until killed, printing "READY <port>" once serving; exit status. */
int core_serve(const char *address); /* gRPC core's C API driven directly */
int kt_serve(const char *address);   /* kubetee's rpc server */

/* Unary Say calls from `clients` clients (a connection each, one call outstanding each)
 * for `seconds` after a warm-up: calls/s, or -1 when a call failed. *total: every call
 * made, warm-up included. */
double load_unary(const char *target, int clients, double seconds, long *total);
/* One Count stream read for `seconds` after a warm-up, then cancelled: messages/s, or -1
 * on failure. *total: every message read. */
double load_stream(const char *target, double seconds, long *total);

#endif
