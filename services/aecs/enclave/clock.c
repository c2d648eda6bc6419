/* The host's clock, as far as AECS takes it (docs/aecs.md "Time"). There is no trusted
 * time in an SGX enclave: every time comes from the host (the aecs.Time OCALL). AECS
 * refuses a time it cannot have: an OCALL that fails, a time outside 2024..9999, a time
 * set back more than AE_CLOCK_SLACK before the latest time it has taken as the floor
 * (kept while it runs, sealed in aecs/state at every checkpoint), and a time more than
 * AE_CLOCK_JUMP past the floor. So the host can run the clock forward and hold it, never
 * take it back. No single answer moves the floor far: one within AE_CLOCK_STEP of it is
 * the floor at once; one further on is served but only a candidate, the floor once the
 * host has answered AE_CLOCK_CONFIRM on from it without going back before it (a bad
 * answer that the next ones contradict never becomes the floor). */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t floor_sealed; /* from aecs/state (0: none, a store from before) */
static int64_t seen;         /* the floor as this enclave has moved it since it started */
static int64_t candidate;    /* a time further than AE_CLOCK_STEP past the floor, not yet confirmed (0: none) */

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
                                          "accepted: a clock set back is refused (docs/aecs.md \"Time\": a floor run "
                                          "ahead moves back with M recovery holders' consent, aecsadmin clock propose)",
                           (long long)t, (long long)(floor - t), (long long)floor));
}

static kt_status too_far(int64_t t, int64_t floor)
{
    return refused(kt_fail(KT_ERR_VERIFY, "the host's clock says %lld, %lld days past %lld, the latest time this AECS "
                                          "accepted: a jump of more than %d days is taken only when an admin accepts "
                                          "the clock (aecsadmin clock --accept; docs/aecs.md \"Time\")",
                           (long long)t, (long long)((t - floor) / 86400), (long long)floor, AE_CLOCK_JUMP / 86400));
}

/* Why t is no time AECS takes now (floor: the floor), or KT_OK. */
static kt_status judge(int64_t t, int64_t floor)
{
    if (t < floor - AE_CLOCK_SLACK) return set_back(t, floor);
    if (floor && t > floor + AE_CLOCK_JUMP) return too_far(t, floor);
    return KT_OK;
}

/* t for a request, unless judge refuses it; it moves the floor on at most AE_CLOCK_STEP,
 * or further to a candidate the host has held to for AE_CLOCK_CONFIRM (above). */
static kt_status take(int64_t t)
{
    pthread_mutex_lock(&clock_lock);
    int64_t floor = floor_sealed > seen ? floor_sealed : seen;
    kt_status st = judge(t, floor);
    if (!st && candidate && t < candidate - AE_CLOCK_SLACK) candidate = 0; /* the jump contradicted */
    /* confirmed; with no floor yet (a new store) a second answer that agrees is enough */
    if (!st && candidate && (t >= candidate + AE_CLOCK_CONFIRM || (!floor && t <= candidate + AE_CLOCK_STEP)))
        floor = seen = candidate, candidate = 0;
    if (!st && t <= floor + AE_CLOCK_STEP) {
        if (t > seen) seen = t;
        candidate = 0;
    } else if (!st && !candidate) {
        candidate = t; /* served, not yet the floor */
    }
    pthread_mutex_unlock(&clock_lock);
    return st;
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

/* The clock TAs' attestations and sessions are judged by (kt_attest_set_time_source), and
 * refused handshakes' audit lines (refusals.c): the host's time, refused when it is set
 * back as ae_now refuses it, but it never moves the floor on (only a request served
 * does), so no handshake, and no network peer's refused one, raises the floor. A time far
 * ahead is taken as it is: it can only make an attestation or a session expire early. */
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

/* A lowering of the floor from was to rq->floor: M holders of the recovery set in force
 * signed it (kt_floor_proposal), the floor is the one they saw, and the host's clock is
 * not behind the new floor too. A store with no recovery set has nobody to consent. */
static kt_status lowering(const Kubetee__Aecs__V1__AcceptClockRequest *rq, int64_t was, int64_t t)
{
    if (!ae.recovery.n)
        return kt_fail(KT_ERR_DENIED, "accept clock: lowering the floor needs the consent of the recovery set's "
                                      "holders, and this store has none (aecsadmin recovery set; docs/aecs.md \"Time\")");
    if (rq->floor_was != was)
        return kt_fail(KT_ERR_DENIED, "accept clock: the lowering is of the floor %lld, the floor is %lld now: propose "
                                      "it again (aecsadmin clock propose)", (long long)rq->floor_was, (long long)was);
    if (rq->floor < AE_CLOCK_MIN || rq->floor >= was)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "accept clock: the new floor %lld is not a time (2024 on) before the "
                                                "floor %lld", (long long)rq->floor, (long long)was);
    if (t < rq->floor - AE_CLOCK_SLACK)
        return kt_fail(KT_ERR_DENIED, "accept clock: the host's clock says %lld, before the new floor %lld too",
                       (long long)t, (long long)rq->floor);
    kt_floor_proposal p = {.floor_was = was, .floor = rq->floor};
    memcpy(p.instance, ae.instance_pub, 64);
    kt_buf m = {0};
    char what[128];
    snprintf(what, sizeof what, "this lowering (this instance, floor %lld, new floor %lld)", (long long)was,
             (long long)rq->floor);
    kt_status st = kt_floor_change_message(&p, &m);
    if (!st) st = ae_consents_check(&ae.recovery, &m, what, "lowering the clock floor", rq->consents, rq->n_consents);
    kt_buf_free(&m);
    return st;
}

/* aecs.AcceptClock (admin): with the admin's own clock agreeing with the host's, the
 * host's time becomes the floor when it raises or holds it (one admin: after a jump
 * further than AE_CLOCK_JUMP, or to take a jump at once), and a lowering M recovery
 * holders consented to becomes it (after a floor run ahead by mistake). The host alone
 * cannot; one admin and the host cannot move the floor back. */
static kt_status AcceptClock(const Kubetee__Aecs__V1__AcceptClockRequest *rq, Kubetee__Aecs__V1__AcceptClockResponse *rs)
{
    ae_caller c;
    kt_status st = ae_caller_untimed(&c); /* the time is this request's question */
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    int64_t t = 0, was = ae_clock_floor(), to = was, old_sealed, old_seen, old_candidate;
    bool lower = rq->floor_was || rq->floor || rq->n_consents;
    char target[64] = "";
    if (!(st = ae_admin_only(&c))) st = host_time(&t);
    if (!st && (rq->seconds > t + AE_CLOCK_SLACK || rq->seconds < t - AE_CLOCK_SLACK))
        st = kt_fail(KT_ERR_DENIED, "accept clock: the host's clock says %lld, the admin's %lld: more than %d s apart, "
                                    "so the floor stays at %lld", (long long)t, (long long)rq->seconds,
                     AE_CLOCK_SLACK, (long long)was);
    if (!st && lower && !(st = lowering(rq, was, t))) to = rq->floor;
    if (!st && !lower && t < was - AE_CLOCK_SLACK)
        st = kt_fail(KT_ERR_DENIED, "accept clock: the host's clock says %lld, %lld s before the floor %lld: lowering "
                                    "the floor needs the consent of M holders of the recovery set (aecsadmin clock "
                                    "propose; aecsadmin recovery sign; aecsadmin clock --accept --proposal; docs/aecs.md "
                                    "\"Time\")", (long long)t, (long long)(was - t), (long long)was);
    if (!st && !lower && t > was) to = t;
    if (!st) {
        pthread_mutex_lock(&clock_lock);
        old_sealed = floor_sealed, old_seen = seen, old_candidate = candidate;
        floor_sealed = seen = to;
        candidate = 0;
        pthread_mutex_unlock(&clock_lock);
        snprintf(target, sizeof target, "floor %lld->%lld%s", (long long)was, (long long)to, lower ? " lowered" : "");
        if ((st = ae_state_save())) { /* not sealed: not in force */
            pthread_mutex_lock(&clock_lock);
            floor_sealed = old_sealed, seen = old_seen, candidate = old_candidate;
            pthread_mutex_unlock(&clock_lock);
            to = was;
        }
    }
    c.now = st ? was : t; /* the line's time: one AECS accepted */
    ae_audit(&c, "AcceptClock", target, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    rs->floor_was = was;
    rs->floor = st ? was : to;
    return st;
}
KT_REMOTE_FUNCTION(AcceptClock, "aecs.AcceptClock", Kubetee__Aecs__V1__AcceptClockRequest,
                   kubetee__aecs__v1__accept_clock_request, Kubetee__Aecs__V1__AcceptClockResponse,
                   kubetee__aecs__v1__accept_clock_response)
