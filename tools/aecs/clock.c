/* aecsadmin clock (recovery.h): --accept takes the host's time as AECS's clock floor when
 * it raises or holds it and this machine's clock agrees (one admin); `clock propose` and
 * --accept --proposal --consent lower it, with the consent of M recovery holders, the
 * same files and signing as a change of the recovery set (`recovery sign`; docs/aecs.md
 * "Time"). */
#include "recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T "aecsadmin"
#define D(x) &kubetee__aecs__v1__##x##__descriptor

/* The proposal: the instance and floor AECS tells over a session, the new floor --floor
 * (Unix seconds) or this machine's time. */
static int propose(const tool_args *a)
{
    const char *out = tool_flag(a, "out"), *given = tool_flag(a, "floor");
    if (!out) return fprintf(stderr, T ": --out is required\n"), 2;
    char *end = NULL;
    long long to = given ? strtoll(given, &end, 10) : 0;
    if (given && (!*given || *end || to < 1704067200LL))
        return fprintf(stderr, T ": --floor is a time in Unix seconds (2024 on)\n"), 2;
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    kt_status st = kt_aecs_call(c, "Status", &rq.base, D(status_response), &res);
    kt_aecs_client_free(c);
    if (st) return tool_fail(T, "Status");
    const Kubetee__Aecs__V1__StatusResponse *s = (const void *)res;
    /* now is read after the floor: a floor AECS moved on while we connected is not "before now" */
    if (!given) to = (long long)time(NULL);
    kt_floor_proposal p = {.floor_was = s->time_floor, .floor = to};
    if (s->instance_public.len != 64) st = kt_fail(KT_ERR_STATE, "AECS is not ready (state %s)", s->state);
    else memcpy(p.instance, s->instance_public.data, 64);
    protobuf_c_message_free_unpacked(res, NULL);
    if (!st && to >= p.floor_was)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "the floor is %lld, and %lld is not before it: nothing to lower "
                                              "(aecsadmin clock --accept raises or holds it)",
                     (long long)p.floor_was, to);
    kt_buf b = {0};
    if (!st) st = kt_floor_proposal_encode(&p, &b);
    if (!st) st = kt_file_write_atomic(out, b.data, b.len, 0644);
    kt_buf_free(&b);
    if (st) return tool_fail(T, "clock propose");
    printf(a->json ? "{\"proposal\":\"%s\",\"floor_was\":%lld,\"floor\":%lld}\n"
                   : "proposal: %s (the clock floor %lld moved back to %lld; M holders of the recovery set sign it: "
                     "aecsadmin recovery sign)\n",
           out, (long long)p.floor_was, to);
    return 0;
}

static int accept(const tool_args *a)
{
    const char *in = tool_flag(a, "proposal");
    Kubetee__Aecs__V1__AcceptClockRequest rq = KUBETEE__AECS__V1__ACCEPT_CLOCK_REQUEST__INIT;
    rq.seconds = (int64_t)time(NULL); /* this machine's clock is the admin's word for the time */
    if (!in && tool_flag(a, "consent"))
        return fprintf(stderr, T ": --consent goes with --proposal (the lowering they consent to)\n"), 2;
    static tool_proposal p;
    static tool_consents cs;
    if (in) {
        kt_buf m = {0};
        kt_status st = recovery_proposal_load(in, &p, &m);
        if (!st && !p.is_floor)
            st = kt_fail(KT_ERR_INVALID_ARGUMENT, "%s changes the recovery set: aecsadmin recovery set", in);
        int rc = st ? tool_fail(T, "clock --accept") : recovery_consents(a, in, &m, &cs);
        kt_buf_free(&m);
        if (rc) return rc;
        rq.floor_was = p.floor.floor_was;
        rq.floor = p.floor.floor;
        rq.consents = cs.ptrs;
        rq.n_consents = cs.n;
    }
    return tool_run(a, T, "AcceptClock", &rq.base, D(accept_clock_response));
}

int recovery_clock(const tool_args *a)
{
    if (a->n_args == 1 && !strcmp(a->args[0], "propose")) return propose(a);
    if (!a->n_args && tool_flag(a, "accept")) return accept(a);
    return fprintf(stderr, T ": clock takes --accept (the host's time raises or holds AECS's clock floor when this "
                           "machine's clock agrees; with --proposal and --consent, the floor moved back) or propose "
                           "--out FILE [--floor SECONDS]\n"), 2;
}
