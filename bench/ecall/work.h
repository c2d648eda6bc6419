#ifndef BENCH_WORK_H
#define BENCH_WORK_H
#include <kubetee/base.h>
#include "bench.pb-c.h"
kt_status bench_work(const Bench__Msg *req, Bench__Msg *res, void *(*alloc)(size_t));
/* The plain gRPC echo the session and AECS benchmarks compare with (a kt_rpc unary
 * handler of bench.Msg): the id and the payload back. */
kt_status bench_plain_echo(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs);
#endif
