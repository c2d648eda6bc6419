/* The enclave service's enclave end, driven as its host will drive it: a client (this
 * process, proving itself with a key the enclave compiled in, verifying the enclave's
 * quote against a policy) calls remote functions through kt.service.* ECALLs that only
 * relay bytes. What the host relays is kept and searched. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "enclave_service.pb-c.h"
#include "remotetest.pb-c.h"
#include "service_steps.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>
#include <kubetee/session.h>
#include <kubetee/tff.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char sim_dir[64];
static kt_sim_qe *qe;
static kt_collateral *coll;
static kt_key *client, *stranger;
static kt_enclave *enclave;
static kt_policy *policy;
static kt_buf relayed;

/* The host's part: one ECALL with the bytes, every byte of it kept in relayed. */
static void relay(const char *fn, const uint8_t *in, size_t n, step_result *res)
{
    step_relay(enclave, fn, in, n, res, &relayed);
}

static kt_key *load_key(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/%s", KT_TEST_SOURCE_DIR, name);
    kt_buf pem = {0};
    kt_key *k = NULL;
    if (kt_file_read(path, 4096, &pem) || kt_key_from_pem((const char *)pem.data, pem.len, &k))
        fail_msg("%s: %s", name, kt_last_error());
    kt_buf_free(&pem);
    return k;
}

/* A handshake as key; NULL with the enclave's refusal in *refusal when it is refused. */
static kt_session *connect_as(const kt_key *key, char *refusal, size_t cap)
{
    return step_connect(enclave, key, policy, coll, &relayed, refusal, cap);
}

/* One call through the session; the CallResult (the caller frees it), or NULL with the
 * enclave's refusal name in refusal. */
static Kubetee__Enclave__V1__CallResult *call(kt_session *s, const char *function, const char *req_type,
                                               const char *res_type, const uint8_t *req, size_t n, char *refusal,
                                               size_t cap, kt_buf *record_out)
{
    return step_call(enclave, s, function, req_type, res_type, req, n, &relayed, refusal, cap, record_out);
}

/* The client's close, relayed; the enclave's close back ends the session there too. */
static void close_session(kt_session *s)
{
    kt_buf close = {0}, plain = {0};
    assert_int_equal(kt_session_close(s, &close), KT_OK);
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    relay("kt.service.Call", close.data, close.len, &res);
    assert_string_equal(res.refusal, "");
    assert_true(res.ended);
    char name[KT_SESSION_NAME_MAX + 1];
    assert_int_equal(kt_session_open(s, res.message.data, res.message.len, name, &plain), KT_ERR_CANCELLED);
    kt_message_clear(&res);
    kt_buf_free(&close);
    kt_buf_free(&plain);
    kt_session_free(s);
}

static void test_remote_calls_through_a_session(void **state)
{
    (void)state;
    relayed.len = 0;
    char why[64];
    kt_session *s = connect_as(client, why, sizeof why);
    if (!s) fail_msg("handshake refused: %s", why);
    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    int64_t v[] = {40, 2, 517021};
    nums.values = v;
    nums.n_values = 3;
    uint8_t body[128];
    size_t n = remotetest__numbers__pack(&nums, body);
    Kubetee__Enclave__V1__CallResult *r =
        call(s, "remotetest.Sum", "remotetest.Numbers", "remotetest.Number", body, n, why, sizeof why, NULL);
    assert_non_null(r);
    assert_int_equal(r->status, KT_OK);
    Remotetest__Number *sum = remotetest__number__unpack(NULL, r->response.len, r->response.data);
    assert_non_null(sum);
    assert_int_equal(sum->value, 517063);
    remotetest__number__free_unpacked(sum, NULL);
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    /* an internal function's name gets a refusal in the session, and it never ran */
    r = call(s, "Internal", "remotetest.Text", "remotetest.Text", NULL, 0, why, sizeof why, NULL);
    assert_non_null(r);
    assert_int_equal(r->status, KT_ERR_GATE_NO_FUNCTION);
    assert_non_null(strstr(r->reason, "no remote function named 'Internal'"));
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    /* the host saw neither the request nor the sum */
    assert_null(memmem(relayed.data, relayed.len, body, n));
    Remotetest__Number want = REMOTETEST__NUMBER__INIT;
    want.value = 517063;
    uint8_t wb[16];
    size_t wn = remotetest__number__pack(&want, wb);
    assert_null(memmem(relayed.data, relayed.len, wb, wn));
    close_session(s);
}

/* kubetee call's path: kt.Describe through the session, JSON by what it says, the call,
 * the reply as JSON. */
static void test_describe_and_json_through_a_session(void **state)
{
    (void)state;
    char why[64];
    kt_session *s = connect_as(client, why, sizeof why);
    if (!s) fail_msg("handshake refused: %s", why);
    Kubetee__Enclave__V1__CallResult *r = call(s, "kt.Describe", "kubetee.enclave.v1.DescribeRequest",
                                                "kubetee.enclave.v1.DescribeResponse", NULL, 0, why, sizeof why, NULL);
    assert_non_null(r);
    assert_int_equal(r->status, KT_OK);
    Kubetee__Enclave__V1__DescribeResponse *d =
        kubetee__enclave__v1__describe_response__unpack(NULL, r->response.len, r->response.data);
    assert_non_null(d);
    kt_buf files[8];
    assert_true(d->n_files <= 8);
    for (size_t i = 0; i < d->n_files; i++) files[i] = (kt_buf){d->files[i].data, d->files[i].len, d->files[i].len};
    kt_pbschema *schema = NULL;
    assert_int_equal(kt_pbschema_load(files, d->n_files, &schema), KT_OK);
    const ProtobufCMessageDescriptor *rq = kt_pbschema_message(schema, "remotetest.Text");
    assert_non_null(rq);
    const char *json = "{\"text\":\"h\\u00e9llo\"}";
    kt_buf wire = {0}, out = {0};
    assert_int_equal(kt_pbjson_to_wire(rq, json, strlen(json), NULL, &wire), KT_OK);
    Kubetee__Enclave__V1__CallResult *e =
        call(s, "Echo", "remotetest.Text", "remotetest.Text", wire.data, wire.len, why, sizeof why, NULL);
    assert_non_null(e);
    assert_int_equal(e->status, KT_OK);
    assert_int_equal(kt_pbjson_print_wire(rq, e->response.data, e->response.len, NULL, &out), KT_OK);
    assert_string_equal((const char *)out.data, "{\"text\":\"h\xc3\xa9llo\"}");
    kubetee__enclave__v1__call_result__free_unpacked(e, NULL);
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    kubetee__enclave__v1__describe_response__free_unpacked(d, NULL);
    kt_pbschema_free(schema);
    kt_buf_free(&wire);
    kt_buf_free(&out);
    close_session(s);
}

static void test_refusals_come_back_by_name(void **state)
{
    (void)state;
    char why[64];
    /* a key the enclave did not compile in */
    assert_null(connect_as(stranger, why, sizeof why));
    assert_string_equal(why, "peer_refused");
    kt_session *s = connect_as(client, why, sizeof why);
    if (!s) fail_msg("handshake refused: %s", why);
    Remotetest__Text t = REMOTETEST__TEXT__INIT;
    t.text = "once";
    uint8_t body[64];
    size_t n = remotetest__text__pack(&t, body);
    kt_buf rec = {0};
    Kubetee__Enclave__V1__CallResult *r =
        call(s, "Echo", "remotetest.Text", "remotetest.Text", body, n, why, sizeof why, &rec);
    assert_non_null(r);
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    /* the host replays the record: refused, the reason named for its counts */
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    relay("kt.service.Call", rec.data, rec.len, &res);
    assert_string_equal(res.refusal, "replayed");
    assert_int_equal(res.message.len, 0);
    kt_message_clear(&res);
    /* bytes that name no session */
    uint8_t junk[40] = {0};
    relay("kt.service.Call", junk, sizeof junk, &res);
    assert_string_equal(res.refusal, "unknown_session");
    kt_message_clear(&res);
    /* the client's close: the enclave's close back, then the session is gone */
    kt_buf close = {0}, plain = {0};
    uint8_t id[KT_SESSION_ID_LEN];
    assert_int_equal(kt_session_id(s, id), KT_OK);
    assert_int_equal(kt_session_close(s, &close), KT_OK);
    relay("kt.service.Call", close.data, close.len, &res);
    assert_string_equal(res.refusal, "");
    char name[KT_SESSION_NAME_MAX + 1];
    assert_int_equal(kt_session_open(s, res.message.data, res.message.len, name, &plain), KT_ERR_CANCELLED);
    kt_message_clear(&res);
    relay("kt.service.Drop", id, sizeof id, &res);
    assert_string_equal(res.refusal, "unknown_session");
    kt_message_clear(&res);
    kt_buf_free(&rec);
    kt_buf_free(&close);
    kt_buf_free(&plain);
    kt_session_free(s);
}

static int setup(void **state)
{
    (void)state;
    strcpy(sim_dir, "/tmp/kt-svc-encl-XXXXXX");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/servicetest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    if (!mkdtemp(sim_dir) || kt_sim_qe_open(sim_dir, &qe) ||
        kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) || kt_attest_serve_quotes(sim_dir) ||
        kt_enclave_create(path, &o, &enclave)) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    client = load_key("service_client.pem");
    stranger = load_key("service_stranger.pem");
    const kt_enclave_identity *id = kt_enclave_identity_of(enclave);
    char mre[65], mrs[65], yaml[400];
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(id->mrsigner, 32, mrs, sizeof mrs);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrenclave: %s, mrsigner: %s, isvprodid: 1}\n",
             mre, mrs);
    return kt_policy_parse(yaml, strlen(yaml), &policy) == KT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kt_enclave_destroy(enclave);
    kt_key_free(client);
    kt_key_free(stranger);
    kt_policy_free(policy);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_buf_free(&relayed);
    return rm_tree(sim_dir);
}

/* Sessions past the enclave's first 16 places (its index grows and is rebuilt): each
 * call finds its own session by id, in any order, and a closed one is gone while the
 * others go on. */
#define MANY 40
static void test_many_sessions_each_found_by_id(void **state)
{
    (void)state;
    kt_session *s[MANY];
    char why[64];
    for (int i = 0; i < MANY; i++)
        if (!(s[i] = connect_as(client, why, sizeof why))) fail_msg("session %d refused: %s", i, why);
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < MANY; k++) {
            int i = (k * 7 + round) % MANY; /* 7 is prime to MANY: every one, shuffled */
            Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
            int64_t v[] = {i, 1000 * round};
            nums.values = v;
            nums.n_values = 2;
            uint8_t body[64];
            size_t n = remotetest__numbers__pack(&nums, body);
            Kubetee__Enclave__V1__CallResult *r =
                call(s[i], "remotetest.Sum", "remotetest.Numbers", "remotetest.Number", body, n, why, sizeof why, NULL);
            if (!r) fail_msg("session %d: %s", i, why);
            Remotetest__Number *sum = remotetest__number__unpack(NULL, r->response.len, r->response.data);
            assert_non_null(sum);
            assert_int_equal(sum->value, i + 1000 * round);
            remotetest__number__free_unpacked(sum, NULL);
            kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
            if (round == 1 && i % 3 == 0) {
                kt_buf rec = {0};
                r = call(s[i], "remotetest.Sum", "remotetest.Numbers", "remotetest.Number", body, n, why, sizeof why, &rec);
                assert_non_null(r);
                kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
                close_session(s[i]);
                s[i] = NULL;
                /* its next record finds no session */
                step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
                relay("kt.service.Call", rec.data, rec.len, &res);
                assert_string_equal(res.refusal, "unknown_session");
                kt_message_clear(&res);
                kt_buf_free(&rec);
            }
        }
    for (int i = 0; i < MANY; i++)
        if (s[i]) close_session(s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_sessions_each_found_by_id),
        cmocka_unit_test(test_remote_calls_through_a_session),
        cmocka_unit_test(test_describe_and_json_through_a_session),
        cmocka_unit_test(test_refusals_come_back_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
