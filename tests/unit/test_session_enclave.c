/* An attested session with a real enclave: tests/enclaves/sesstest.signed.so runs the
 * responder with the trusted session library, proving itself with its own quote (the
 * host relays the sim QE's bytes); this process is the client, proving itself with a
 * registered key and verifying the enclave against a policy. Everything the host
 * relays is captured and searched for keys and plaintext. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/session/internal.h"
#include <kubetee/session.h>
#include <kubetee/tff.h>
#include "tfftest.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_dir[64];
static kt_sim_qe *qe;
static kt_collateral *coll;
static kt_key *client;
static kt_enclave *enclave;
static kt_buf relayed; /* every byte that crossed the host */

static int setup(void **state)
{
    (void)state;
    strcpy(sim_dir, "/tmp/kt-sess-encl-XXXXXX");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/sesstest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    if (!mkdtemp(sim_dir) || kt_sim_qe_open(sim_dir, &qe) ||
        kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
        kt_key_generate(KT_KEY_P256, &client) || kt_attest_serve_quotes(sim_dir) ||
        kt_enclave_create(path, &o, &enclave)) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    Tfftest__Empty req = TFFTEST__EMPTY__INIT, res = TFFTEST__EMPTY__INIT;
    if (kt_enclave_call(enclave, "SessionDrop", &req, &res)) return -1;
    kt_enclave_destroy(enclave);
    kt_key_free(client);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_buf_free(&relayed);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sim_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The host's part: bytes in, bytes out, both kept. */
static kt_status relay(const char *fn, const uint8_t *in, size_t n, kt_buf *out)
{
    kt_buf_append(&relayed, in, n);
    Tfftest__Bytes req = TFFTEST__BYTES__INIT, res = TFFTEST__BYTES__INIT;
    req.data.data = (uint8_t *)in;
    req.data.len = n;
    kt_status st = kt_enclave_call(enclave, fn, &req, &res);
    if (!st) {
        kt_buf_append(&relayed, res.data.data, res.data.len);
        out->len = 0;
        kt_buf_append(out, res.data.data, res.data.len);
    }
    kt_message_clear(&res);
    return st;
}

static kt_policy *enclave_policy(bool sim, const uint8_t *mrsigner)
{
    const kt_enclave_identity *id = kt_enclave_identity_of(enclave);
    char mre[65], mrs[65], yaml[400];
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(mrsigner ? mrsigner : id->mrsigner, 32, mrs, sizeof mrs);
    snprintf(yaml, sizeof yaml, "allow_simulation: %s\nrules:\n- {mrenclave: %s, mrsigner: %s, isvprodid: 3}\n",
             sim ? "true" : "false", mre, mrs);
    kt_policy *p = NULL;
    if (kt_policy_parse(yaml, strlen(yaml), &p)) fail_msg("%s", kt_last_error());
    return p;
}

/* The client's handshake with the enclave; returns the client's session or NULL. */
static kt_session *connect_as(const kt_key *key, const kt_policy *p, kt_status *st_out)
{
    kt_session_config c = {.role = KT_SESSION_INITIATOR, .key = key, .now = time(NULL)};
    c.peer.policy = p;
    c.peer.collateral = coll;
    kt_session *s;
    assert_int_equal(kt_session_new(&c, &s), KT_OK);
    kt_buf hello = {0}, msg = {0}, reply = {0}, finish = {0}, none = {0};
    uint8_t pub[64];
    size_t len;
    assert_int_equal(kt_key_public_raw(client, pub, sizeof pub, &len), KT_OK);
    kt_status st = kt_session_handshake(s, NULL, 0, &hello);
    kt_buf_append(&msg, pub, 64); /* the enclave registers `client` */
    kt_buf_append(&msg, hello.data, hello.len);
    if (!st) st = relay("SessionAccept", msg.data, msg.len, &reply);
    if (!st) st = kt_session_handshake(s, reply.data, reply.len, &finish);
    if (!st) st = relay("SessionFinish", finish.data, finish.len, &none);
    kt_buf_free(&hello), kt_buf_free(&msg), kt_buf_free(&reply), kt_buf_free(&finish);
    kt_buf_free(&none);
    *st_out = st;
    if (st) {
        kt_session_free(s);
        return NULL;
    }
    return s;
}

static kt_session *connect(const kt_policy *p, kt_status *st_out)
{
    return connect_as(client, p, st_out);
}

static void call_echo(kt_session *s, const char *text, const char *want)
{
    kt_buf rec = {0}, back = {0}, plain = {0};
    assert_int_equal(kt_session_seal(s, "Echo", text, strlen(text), &rec), KT_OK);
    if (relay("SessionCall", rec.data, rec.len, &back)) fail_msg("call: %s", kt_last_error());
    char name[KT_SESSION_NAME_MAX + 1];
    if (kt_session_open(s, back.data, back.len, name, &plain)) fail_msg("%s", kt_last_error());
    assert_string_equal(name, "Echo");
    assert_int_equal(plain.len, strlen(want));
    assert_memory_equal(plain.data, want, plain.len);
    kt_buf_free(&rec), kt_buf_free(&back), kt_buf_free(&plain);
}

static void test_enclave_session_round_trip(void **state)
{
    (void)state;
    relayed.len = 0;
    kt_policy *p = enclave_policy(true, NULL);
    kt_status st;
    kt_session *s = connect(p, &st);
    if (!s) fail_msg("handshake with the enclave: %s", kt_last_error());
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(s, &pi), KT_OK);
    assert_int_equal(pi.proof, KT_SESSION_PROOF_QUOTE);
    assert_memory_equal(pi.enclave.mrenclave, kt_enclave_identity_of(enclave)->mrenclave, 32);
    assert_true(pi.simulated);
    const char *secret = "the client's secret: 5f3c9a2e";
    call_echo(s, secret, "enclave:the client's secret: 5f3c9a2e");
    call_echo(s, "second call", "enclave:second call");

    /* the host replays the first call: the enclave refuses it, naming why */
    kt_buf rec = {0}, back = {0}, plain = {0};
    assert_int_equal(kt_session_seal(s, "Echo", "pay 100", 7, &rec), KT_OK);
    assert_int_equal(relay("SessionCall", rec.data, rec.len, &back), KT_OK);
    assert_int_not_equal(relay("SessionCall", rec.data, rec.len, &back), KT_OK);
    assert_non_null(strstr(kt_last_error(), "replayed"));
    /* and a flipped bit */
    kt_buf_free(&rec);
    assert_int_equal(kt_session_seal(s, "Echo", "pay 200", 7, &rec), KT_OK);
    rec.data[rec.len - 1] ^= 1;
    assert_int_not_equal(relay("SessionCall", rec.data, rec.len, &back), KT_OK);
    assert_non_null(strstr(kt_last_error(), "forged"));

    /* the host saw no plaintext and no key */
    assert_null(memmem(relayed.data, relayed.len, secret, strlen(secret)));
    assert_null(memmem(relayed.data, relayed.len, "5f3c9a2e", 8));
    assert_null(memmem(relayed.data, relayed.len, s->send.key, 32));
    assert_null(memmem(relayed.data, relayed.len, s->recv.key, 32));
    kt_buf_free(&rec), kt_buf_free(&back), kt_buf_free(&plain);
    kt_session_free(s);
    kt_policy_free(p);
}

static void test_enclave_close_is_authenticated(void **state)
{
    (void)state;
    kt_policy *p = enclave_policy(true, NULL);
    kt_status st;
    kt_session *s = connect(p, &st);
    if (!s) fail_msg("%s", kt_last_error());
    call_echo(s, "x", "enclave:x");
    kt_buf rec = {0}, back = {0}, plain = {0};
    assert_int_equal(kt_session_close(s, &rec), KT_OK);
    assert_int_equal(relay("SessionCall", rec.data, rec.len, &back), KT_OK);
    char name[KT_SESSION_NAME_MAX + 1];
    assert_int_equal(kt_session_open(s, back.data, back.len, name, &plain), KT_ERR_CANCELLED);
    assert_int_equal(kt_session_end(s), KT_OK);
    kt_buf_free(&rec), kt_buf_free(&back), kt_buf_free(&plain);
    kt_session_free(s);
    kt_policy_free(p);
}

static void test_enclave_refused_by_policy(void **state)
{
    (void)state;
    kt_status st;
    /* another signer */
    uint8_t other[32];
    memset(other, 0x5a, sizeof other);
    kt_policy *p = enclave_policy(true, other);
    assert_null(connect(p, &st));
    assert_int_equal(st, KT_ERR_DENIED);
    if (!strstr(kt_last_error(), "MRSIGNER") && !strstr(kt_last_error(), "mrsigner"))
        fail_msg("%s", kt_last_error());
    kt_policy_free(p);
    /* simulation not allowed */
    p = enclave_policy(false, NULL);
    assert_null(connect(p, &st));
    assert_int_equal(st, KT_ERR_DENIED);
    assert_non_null(strstr(kt_last_error(), "simulat"));
    kt_policy_free(p);
}

static void test_enclave_refuses_unregistered_client(void **state)
{
    (void)state;
    kt_policy *p = enclave_policy(true, NULL);
    kt_key *stranger;
    assert_int_equal(kt_key_generate(KT_KEY_P256, &stranger), KT_OK);
    kt_status st;
    assert_null(connect_as(stranger, p, &st));
    assert_int_equal(st, KT_ERR_DENIED);
    assert_non_null(strstr(kt_last_error(), "not a registered key"));
    kt_key_free(stranger);
    kt_policy_free(p);
}

static void test_enclave_cannot_verify_quotes_yet(void **state)
{
    (void)state;
    Tfftest__Empty req = TFFTEST__EMPTY__INIT;
    Tfftest__Text res = TFFTEST__TEXT__INIT;
    assert_int_equal(kt_enclave_call(enclave, "QuotePeer", &req, &res), KT_OK);
    if (!strstr(res.text, "cannot verify quotes")) fail_msg("%s", res.text);
    kt_message_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enclave_session_round_trip),
        cmocka_unit_test(test_enclave_close_is_authenticated),
        cmocka_unit_test(test_enclave_refused_by_policy),
        cmocka_unit_test(test_enclave_refuses_unregistered_client),
        cmocka_unit_test(test_enclave_cannot_verify_quotes_yet),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
