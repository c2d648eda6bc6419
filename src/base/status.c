/* Status names and the per-thread failure reason. */
#include <kubetee/base.h>

#include <stdio.h>
#include <string.h>

static _Thread_local char last_reason[512];

const char *kt_status_name(kt_status st)
{
    switch (st) {
    case KT_OK:
        return "KT_OK";
    case KT_ERR_INVALID_ARGUMENT:
        return "KT_ERR_INVALID_ARGUMENT";
    case KT_ERR_NO_MEMORY:
        return "KT_ERR_NO_MEMORY";
    case KT_ERR_IO:
        return "KT_ERR_IO";
    case KT_ERR_NOT_FOUND:
        return "KT_ERR_NOT_FOUND";
    case KT_ERR_MALFORMED:
        return "KT_ERR_MALFORMED";
    case KT_ERR_TOO_LARGE:
        return "KT_ERR_TOO_LARGE";
    case KT_ERR_CRYPTO:
        return "KT_ERR_CRYPTO";
    case KT_ERR_VERIFY:
        return "KT_ERR_VERIFY";
    case KT_ERR_DENIED:
        return "KT_ERR_DENIED";
    case KT_ERR_EXISTS:
        return "KT_ERR_EXISTS";
    case KT_ERR_UNSUPPORTED:
        return "KT_ERR_UNSUPPORTED";
    case KT_ERR_STATE:
        return "KT_ERR_STATE";
    case KT_ERR_BUFFER_TOO_SMALL:
        return "KT_ERR_BUFFER_TOO_SMALL";
    case KT_ERR_TIMEOUT:
        return "KT_ERR_TIMEOUT";
    case KT_ERR_UNAVAILABLE:
        return "KT_ERR_UNAVAILABLE";
    case KT_ERR_CANCELLED:
        return "KT_ERR_CANCELLED";
    case KT_ERR_GATE_NO_FUNCTION:
        return "KT_ERR_GATE_NO_FUNCTION";
    case KT_ERR_GATE_BAD_MESSAGE:
        return "KT_ERR_GATE_BAD_MESSAGE";
    case KT_ERR_GATE_TYPE_MISMATCH:
        return "KT_ERR_GATE_TYPE_MISMATCH";
    case KT_ERR_GATE_TOO_LARGE:
        return "KT_ERR_GATE_TOO_LARGE";
    case KT_ERR_GATE_OUT_OF_TCS:
        return "KT_ERR_GATE_OUT_OF_TCS";
    case KT_ERR_GATE_DEPTH:
        return "KT_ERR_GATE_DEPTH";
    case KT_ERR_GATE_NOT_ALLOWED:
        return "KT_ERR_GATE_NOT_ALLOWED";
    case KT_ERR_GATE_ENCLAVE:
        return "KT_ERR_GATE_ENCLAVE";
    case KT_ERR_FUNCTION:
        return "KT_ERR_FUNCTION";
    default:
        return st >= KT_ERR_GATE_FIRST && st <= KT_ERR_GATE_LAST ? "KT_ERR_GATE" : "KT_ERR_APP";
    }
}

bool kt_status_is_gate(kt_status st)
{
    return st >= KT_ERR_GATE_FIRST && st <= KT_ERR_GATE_LAST;
}

kt_status kt_fail(kt_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_reason, sizeof last_reason, fmt, ap);
    va_end(ap);
    return st;
}

kt_status kt_fail_context(kt_status st, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof last_reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_reason, sizeof old);
    const char *tail = old[0] ? old : kt_status_name(st);
    size_t p = strlen(prefix), t = strlen(tail);
    if (p + 2 >= sizeof last_reason) p = sizeof last_reason - 3;
    memcpy(last_reason, prefix, p);
    memcpy(last_reason + p, ": ", 2);
    if (t > sizeof last_reason - p - 3) t = sizeof last_reason - p - 3;
    memcpy(last_reason + p + 2, tail, t);
    last_reason[p + 2 + t] = '\0';
    return st;
}

const char *kt_last_error(void)
{
    return last_reason;
}

void kt_clear_error(void)
{
    last_reason[0] = '\0';
}
