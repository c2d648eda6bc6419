#ifndef BENCH_WORK_H
#define BENCH_WORK_H
#include <kubetee/base.h>
#include "bench.pb-c.h"
kt_status bench_work(const Bench__Msg *req, Bench__Msg *res, void *(*alloc)(size_t));
#endif
