/* The host's clock, as far as AECS takes it (docs/aecs.md "Time"). There is no trusted
 * time in an SGX enclave: every time comes from the host (the aecs.Time OCALL). AECS
 * refuses a time it cannot have: an OCALL that fails, a time outside 2024..9999, and a
 * time set back more than AE_CLOCK_SLACK before the latest time it has accepted, which
 * it keeps while it runs and seals in aecs/state at every checkpoint (the floor). So
 * the host can run the clock forward and hold it, never take it back. */
#include "aecs.h"

#include <stdio.h>

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t floor_sealed; /* from aecs/state (0: none, a store from before) */
static int64_t seen;         /* the latest time accepted since the enclave started */

static kt_status refused(kt_status st)
{
    kt_log(KT_LOG_WARN, "aecs.clock_refused", "reason", kt_last_error(), NULL);
    return st;
}

/* The host's time, if it can be one. */
static kt_status host_time(int64_t *t)
{
    Kubetee__Aecs__V1__TimeRequest rq = KUBETEE__AECS__V1__TIME_REQUEST__INIT;
    Kubetee__Aecs__V1__TimeResponse rs = KUBETEE__AECS__V1__TIME_RESPONSE__INIT;
    *t = 0;
    kt_status st = kt_ocall("aecs.Time", &rq, &rs);
    if (st) return refused(kt_fail_context(st, "the host's clock (aecs.Time) did not answer"));
    if (rs.seconds < AE_CLOCK_MIN || rs.seconds > AE_CLOCK_MAX)
        return refused(kt_fail(KT_ERR_VERIFY, "the host's clock says %lld, which is no time AECS accepts (2024 to 9999)",
                               (long long)rs.seconds));
    *t = rs.seconds;
    return KT_OK;
}

static kt_status set_back(int64_t t, int64_t floor)
{
    return refused(kt_fail(KT_ERR_VERIFY, "the host's clock says %lld, %lld s before %lld, the latest time this AECS "
                                          "accepted: a clock set back is refused (docs/aecs.md \"Time\"; aecsadmin "
                                          "clock --accept)",
                           (long long)t, (long long)(floor - t), (long long)floor));
}

/* t, unless it is more than AE_CLOCK_SLACK before the floor; accepted, it moves the floor on. */
static kt_status take(int64_t t)
{
    pthread_mutex_lock(&clock_lock);
    int64_t floor = floor_sealed > seen ? floor_sealed : seen;
    if (t < floor - AE_CLOCK_SLACK) {
        pthread_mutex_unlock(&clock_lock);
        return set_back(t, floor);
    }
    if (t > seen) seen = t;
    pthread_mutex_unlock(&clock_lock);
    return KT_OK;
}

kt_status ae_now(int64_t *now)
{
    int64_t t;
    *now = 0;
    kt_status st = host_time(&t);
    if (!st) st = take(t);
    if (!st) *now = t;
    return st;
}

/* The clock TAs' attestations and sessions are judged by (kt_attest_set_time_source):
 * the host's time, refused as ae_now refuses it, but it does not move the floor on (only
 * a request served does), so a handshake cannot raise the floor. */
kt_status ae_clock_check(int64_t *now)
{
    int64_t t;
    *now = 0;
    kt_status st = host_time(&t);
    if (st) return st;
    int64_t floor = ae_clock_floor();
    if (t < floor - AE_CLOCK_SLACK) return set_back(t, floor);
    *now = t;
    return KT_OK;
}

kt_status ae_clock_start(int64_t *t)
{
    kt_status st = host_time(t);
    if (st || !take(*t)) return st;
    *t = ae_clock_floor(); /* set back: logged by take; every request is refused until it is back or accepted */
    return KT_OK;
}

int64_t ae_clock_floor(void)
{
    pthread_mutex_lock(&clock_lock);
    int64_t f = floor_sealed > seen ? floor_sealed : seen;
    pthread_mutex_unlock(&clock_lock);
    return f;
}

void ae_clock_set_floor(int64_t sealed)
{
    pthread_mutex_lock(&clock_lock);
    floor_sealed = sealed;
    pthread_mutex_unlock(&clock_lock);
}

/* aecs.AcceptClock (admin): the host's time becomes the floor, in memory and sealed, when
 * the admin's own clock agrees with it; the way back after a clock run forward by mistake
 * (the host alone cannot take it: it needs an admin's session and the admin's time). */
static kt_status AcceptClock(const Kubetee__Aecs__V1__AcceptClockRequest *rq, Kubetee__Aecs__V1__AcceptClockResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_untimed(&c); /* the time is this request's question */
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    int64_t t = 0, was = ae_clock_floor(), old_sealed;
    char target[64] = "";
    if (!(st = ae_admin_only(&c))) st = host_time(&t);
    if (!st && (rq->seconds > t + AE_CLOCK_SLACK || rq->seconds < t - AE_CLOCK_SLACK))
        st = kt_fail(KT_ERR_DENIED, "accept clock: the host's clock says %lld, the admin's %lld: more than %d s apart, "
                                    "so the floor stays at %lld", (long long)t, (long long)rq->seconds,
                     AE_CLOCK_SLACK, (long long)was);
    if (!st) {
        pthread_mutex_lock(&clock_lock);
        old_sealed = floor_sealed;
        floor_sealed = seen = t;
        pthread_mutex_unlock(&clock_lock);
        snprintf(target, sizeof target, "floor %lld->%lld", (long long)was, (long long)t);
        if ((st = ae_state_save())) { /* not sealed: not in force */
            pthread_mutex_lock(&clock_lock);
            floor_sealed = old_sealed, seen = was;
            pthread_mutex_unlock(&clock_lock);
        }
    }
    c.now = st ? was : t; /* the line's time: one AECS accepted */
    ae_audit(&c, "AcceptClock", target, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    rs->floor_was = was;
    rs->floor = st ? was : t;
    return st;
}
KT_REMOTE_FUNCTION(AcceptClock, "aecs.AcceptClock", Kubetee__Aecs__V1__AcceptClockRequest,
                   kubetee__aecs__v1__accept_clock_request, Kubetee__Aecs__V1__AcceptClockResponse,
                   kubetee__aecs__v1__accept_clock_response)
