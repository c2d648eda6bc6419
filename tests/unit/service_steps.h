/* A client's side of an enclave service loaded in the test's own process: each step an
 * ECALL of the service's step functions with the bytes a host would relay, and a session
 * opened through its handshake (kt.service.Hello, kt.service.Finish) and called through
 * (kt.service.Call). Include after
 * cmocka.h. */
#ifndef KT_TEST_SERVICE_STEPS_H
#define KT_TEST_SERVICE_STEPS_H

#include "enclave_service.pb-c.h"
#include <kubetee/session.h>
#include <kubetee/tff.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef Kubetee__Enclave__V1__EnclaveStepResult step_result;

/* The host's part: fn's ECALL with the bytes; the result's fields are the caller's. Every
 * byte that crosses the host both ways is appended to seen, when it is not NULL. */
static inline void step_relay(kt_enclave *e, const char *fn, const uint8_t *in, size_t n,
                              step_result *res, kt_buf *seen)
{
    if (seen) kt_buf_append(seen, in, n);
    Kubetee__Enclave__V1__EnclaveStep req = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP__INIT;
    req.message.data = (uint8_t *)in;
    req.message.len = n;
    if (kt_enclave_call(e, fn, &req, res)) fail_msg("%s: %s", fn, kt_last_error());
    if (seen) kt_buf_append(seen, res->message.data, res->message.len);
}

/* A handshake with e as key, e verified under policy and coll: the session, or NULL with
 * e's refusal of it in refusal. The Hello's session id is the session's own. */
static inline kt_session *step_connect(kt_enclave *e, const kt_key *key, const kt_policy *policy,
                                       const kt_collateral *coll, kt_buf *seen, char *refusal,
                                       size_t cap)
{
    kt_session_config c = {.role = KT_SESSION_INITIATOR, .key = key, .now = time(NULL)};
    c.peer.policy = policy;
    c.peer.collateral = coll;
    kt_session *s = NULL;
    assert_int_equal(kt_session_new(&c, &s), KT_OK);
    kt_buf hello = {0}, finish = {0};
    step_result r1 = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT,
                r2 = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    assert_int_equal(kt_session_handshake(s, NULL, 0, &hello), KT_OK);
    step_relay(e, "kt.service.Hello", hello.data, hello.len, &r1, seen);
    assert_string_equal(r1.refusal, "");
    assert_int_equal(r1.session_id.len, KT_SESSION_ID_LEN);
    if (kt_session_handshake(s, r1.message.data, r1.message.len, &finish))
        fail_msg("Reply: %s", kt_last_error());
    uint8_t id[KT_SESSION_ID_LEN];
    assert_int_equal(kt_session_id(s, id), KT_OK);
    assert_memory_equal(id, r1.session_id.data, KT_SESSION_ID_LEN);
    step_relay(e, "kt.service.Finish", finish.data, finish.len, &r2, seen);
    snprintf(refusal, cap, "%s", r2.refusal);
    bool ok = !*r2.refusal;
    if (ok) assert_int_equal(r2.peer.len, 32);
    kt_message_clear(&r1);
    kt_message_clear(&r2);
    kt_buf_free(&hello);
    kt_buf_free(&finish);
    if (!ok) {
        kt_session_free(s);
        return NULL;
    }
    return s;
}

/* One call of function through s (an Invocation of req, n bytes of req_type, answered by
 * res_type): the CallResult (the caller frees it), or NULL with e's refusal of the record
 * in refusal. The sealed record is appended to record_out when it is not NULL. */
static inline Kubetee__Enclave__V1__CallResult *step_call(kt_enclave *e, kt_session *s, const char *function,
                                                          const char *req_type, const char *res_type,
                                                          const uint8_t *req, size_t n, kt_buf *seen,
                                                          char *refusal, size_t cap, kt_buf *record_out)
{
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    inv.request_type = (char *)req_type;
    inv.response_type = (char *)res_type;
    inv.request.data = (uint8_t *)req;
    inv.request.len = n;
    uint8_t *payload = malloc(kubetee__enclave__v1__invocation__get_packed_size(&inv));
    assert_non_null(payload);
    size_t plen = kubetee__enclave__v1__invocation__pack(&inv, payload);
    kt_buf rec = {0}, plain = {0};
    assert_int_equal(kt_session_seal(s, function, payload, plen, &rec), KT_OK);
    free(payload);
    if (record_out) kt_buf_append(record_out, rec.data, rec.len);
    step_result r = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    step_relay(e, "kt.service.Call", rec.data, rec.len, &r, seen);
    snprintf(refusal, cap, "%s", r.refusal);
    Kubetee__Enclave__V1__CallResult *out = NULL;
    if (!*r.refusal) {
        char name[KT_SESSION_NAME_MAX + 1];
        if (kt_session_open(s, r.message.data, r.message.len, name, &plain))
            fail_msg("reply: %s", kt_last_error());
        assert_string_equal(name, function);
        out = kubetee__enclave__v1__call_result__unpack(NULL, plain.len, plain.data);
        assert_non_null(out);
    }
    kt_message_clear(&r);
    kt_buf_free(&rec);
    kt_buf_free(&plain);
    return out;
}

#endif
