#include <kubetee/trusted.h>
#include "work.h"

static kt_status work(const Bench__Msg *req, Bench__Msg *res)
{
    return bench_work(req, res, kt_call_alloc);
}
KT_TRUSTED_FUNCTION(work, "Work", Bench__Msg, bench__msg, Bench__Msg, bench__msg)
