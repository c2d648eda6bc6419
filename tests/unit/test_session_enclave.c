/* An attested session with a real enclave: tests/enclaves/sesstest.signed.so runs the
 * responder with the trusted session library, proving itself with its own quote (the
 * host relays the sim QE's bytes); this process is the client, proving itself with a
 * registered key and verifying the enclave against a policy. Everything the host
 * relays is captured and searched for keys and plaintext.
 *
 * Then mutual attestation: two enclaves, each verifying the other's quote inside itself
 * under a compiled-in policy, with collateral this host hands over (and tries to swap);
 * and the trusted verifier on its own against Intel's real quotes, verdict for verdict
 * the host's. The sim root the enclaves' policies pin is made at build time
 * (tests/enclaves/pins.c) and imported here. */
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
#include "enclave_service.pb-c.h"
#include "remotetest.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_dir[64];
static kt_sim_qe *qe;
static kt_collateral *coll;
static kt_key *client;
static kt_enclave *enclave, *peer, *debug_peer;
static kt_buf relayed; /* every byte that crossed the host */
static char other_dir[64]; /* another sim platform, its own root */
static kt_sim_qe *other_qe;

#define SETS KT_TEST_SOURCE_DIR "/../shared/testdata/attestation"

static int setup(void **state)
{
    (void)state;
    strcpy(sim_dir, "/tmp/kt-sess-encl-XXXXXX");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/sesstest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    char debug_path[512];
    snprintf(debug_path, sizeof debug_path, "%s/tests/enclaves/sesstest_debug.signed.so",
             KT_TEST_BINARY_DIR);
    strcpy(other_dir, "/tmp/kt-sess-other-XXXXXX");
    /* the simulation root the enclaves' policies name, made when they were built */
    if (!mkdtemp(sim_dir) || kt_sim_root_import(sim_dir, KT_TEST_BINARY_DIR "/tests/enclaves/simroot") ||
        kt_sim_qe_open(sim_dir, &qe) ||
        kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
        kt_key_generate(KT_KEY_P256, &client) || kt_attest_serve_quotes(sim_dir) ||
        kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL) ||
        kt_enclave_create(path, &o, &enclave) || kt_enclave_create(path, &o, &peer) ||
        kt_enclave_create(debug_path, &o, &debug_peer) || !mkdtemp(other_dir) ||
        kt_sim_qe_open(other_dir, &other_qe)) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    Tfftest__Empty req = TFFTEST__EMPTY__INIT, res = TFFTEST__EMPTY__INIT;
    if (kt_enclave_call(enclave, "SessionDrop", &req, &res) ||
        kt_enclave_call(peer, "SessionDrop", &req, &res) ||
        kt_enclave_call(debug_peer, "SessionDrop", &req, &res))
        return -1;
    kt_enclave_destroy(enclave);
    kt_enclave_destroy(peer);
    kt_enclave_destroy(debug_peer);
    kt_sim_qe_free(other_qe);
    kt_key_free(client);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_buf_free(&relayed);
    return rm_tree(sim_dir) || rm_tree(other_dir) ? -1 : 0;
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

/* ---- mutual attestation, each enclave verifying the other inside itself ---- */

/* One ECALL of e, its bytes relayed (and kept); KT_OK or the enclave's refusal. */
static kt_status ecall(kt_enclave *e, const char *fn, const void *req, kt_buf *out)
{
    Tfftest__Bytes res = TFFTEST__BYTES__INIT;
    kt_status st = kt_enclave_call(e, fn, req, &res);
    if (!st && out) {
        out->len = 0;
        kt_buf_append(out, res.data.data, res.data.len);
        kt_buf_append(&relayed, res.data.data, res.data.len);
    }
    kt_message_clear(&res);
    return st;
}

static kt_status step(kt_enclave *e, const char *fn, const kt_buf *in, kt_buf *out)
{
    Tfftest__Bytes req = TFFTEST__BYTES__INIT;
    req.data.data = in->data;
    req.data.len = in->len;
    kt_buf_append(&relayed, in->data, in->len);
    return ecall(e, fn, &req, out);
}

/* An ECALL whose bytes the test handles itself (plaintext in or out): not relayed. */
static kt_status clear_call(kt_enclave *e, const char *fn, const kt_buf *in, kt_buf *out)
{
    Tfftest__Bytes req = TFFTEST__BYTES__INIT, res = TFFTEST__BYTES__INIT;
    req.data.data = in->data;
    req.data.len = in->len;
    kt_status st = kt_enclave_call(e, fn, &req, &res);
    if (!st) {
        out->len = 0;
        kt_buf_append(out, res.data.data, res.data.len);
    }
    kt_message_clear(&res);
    return st;
}

static kt_status hello(kt_enclave *e, const char *policy, kt_buf *out)
{
    Tfftest__PeerRequest req = TFFTEST__PEER_REQUEST__INIT;
    req.policy = (char *)policy;
    return ecall(e, "MutualHello", &req, out);
}

static kt_status accept_hello(kt_enclave *e, const char *policy, const kt_buf *h, kt_buf *out)
{
    Tfftest__PeerRequest req = TFFTEST__PEER_REQUEST__INIT;
    req.policy = (char *)policy;
    req.data.data = h->data;
    req.data.len = h->len;
    return ecall(e, "MutualAccept", &req, out);
}

/* The whole handshake, client c under policy cp, server s under sp. On failure the
 * reason is in kt_last_error(); *reply_out (if given) keeps the server's Reply. */
static kt_status mutual(kt_enclave *c, const char *cp, kt_enclave *s, const char *sp,
                        kt_buf *reply_out)
{
    kt_buf h = {0}, r = {0}, f = {0}, none = {0};
    kt_status st = hello(c, cp, &h);
    if (!st) st = accept_hello(s, sp, &h, &r);
    if (!st && reply_out) {
        reply_out->len = 0;
        kt_buf_append(reply_out, r.data, r.len);
    }
    if (!st) st = step(c, "MutualStep", &r, &f);
    if (!st) st = step(s, "MutualStep", &f, &none);
    kt_buf_free(&h), kt_buf_free(&r), kt_buf_free(&f), kt_buf_free(&none);
    return st;
}

static void refused_with(kt_status st, const char *reason)
{
    if (st == KT_OK) fail_msg("accepted; expected a refusal naming '%s'", reason);
    if (!strstr(kt_last_error(), reason))
        fail_msg("refused, but not for '%s': %s", reason, kt_last_error());
}

static void peer_of(kt_enclave *e, Tfftest__ReportInfo *ri)
{
    Tfftest__Empty req = TFFTEST__EMPTY__INIT;
    if (kt_enclave_call(e, "MutualPeer", &req, ri)) fail_msg("%s", kt_last_error());
}

static void test_mutual_round_trip(void **state)
{
    (void)state;
    relayed.len = 0;
    if (mutual(enclave, "peer", peer, "peer", NULL)) fail_msg("mutual handshake: %s", kt_last_error());
    /* each side proved to the other what it is */
    for (int i = 0; i < 2; i++) {
        Tfftest__ReportInfo ri = TFFTEST__REPORT_INFO__INIT;
        kt_enclave *e = i ? peer : enclave, *other = i ? enclave : peer;
        peer_of(e, &ri);
        assert_int_equal(ri.mrenclave.len, 32);
        assert_memory_equal(ri.mrenclave.data, kt_enclave_identity_of(other)->mrenclave, 32);
        assert_memory_equal(ri.mrsigner.data, kt_enclave_identity_of(other)->mrsigner, 32);
        assert_int_equal(ri.prodid, 3);
        assert_true(ri.debug); /* reused field: the peer's quote is simulated */
        kt_message_clear(&ri);
    }
    /* both ways; the test hands plaintext in and reads it back (a test enclave's
     * choice): only the records are what the host relays */
    const char *secret = "between enclaves: 7d1e0c44";
    kt_buf plain = {0}, rec = {0}, back = {0};
    kt_buf_append(&plain, secret, strlen(secret));
    assert_int_equal(clear_call(enclave, "MutualSeal", &plain, &rec), KT_OK);
    kt_buf_append(&relayed, rec.data, rec.len);
    if (clear_call(peer, "MutualOpen", &rec, &back)) fail_msg("%s", kt_last_error());
    assert_int_equal(back.len, strlen(secret));
    assert_memory_equal(back.data, secret, back.len);
    assert_int_equal(clear_call(peer, "MutualSeal", &back, &rec), KT_OK);
    kt_buf_append(&relayed, rec.data, rec.len);
    if (clear_call(enclave, "MutualOpen", &rec, &plain)) fail_msg("%s", kt_last_error());
    assert_memory_equal(plain.data, secret, strlen(secret));
    /* a record sent back to its sender is refused */
    refused_with(clear_call(peer, "MutualOpen", &rec, &back), "reflected");
    /* nothing the host relayed holds the plaintext */
    assert_null(memmem(relayed.data, relayed.len, "7d1e0c44", 8));
    kt_buf_free(&plain), kt_buf_free(&rec), kt_buf_free(&back);
}

static void test_mutual_server_refuses_client_mrenclave(void **state)
{
    (void)state;
    /* the server's policy names another MRENCLAVE: it refuses the client at Finish */
    refused_with(mutual(enclave, "peer", peer, "other-mrenclave", NULL), "MRENCLAVE differs");
}

static void test_mutual_client_refuses_server(void **state)
{
    (void)state;
    refused_with(mutual(enclave, "wrong-mrsigner", peer, "peer", NULL), "MRSIGNER differs");
    refused_with(mutual(enclave, "no-simulation", peer, "peer", NULL),
                 "does not allow simulation");
    /* a debug enclave is refused unless the policy allows debug */
    refused_with(mutual(enclave, "peer", debug_peer, "peer", NULL), "debug enclave");
    if (mutual(enclave, "peer-debug", debug_peer, "peer", NULL)) fail_msg("%s", kt_last_error());
}

static void test_mutual_quote_binding_another_key_refused(void **state)
{
    (void)state;
    /* a server whose quote binds other report data than this handshake's: the client
     * enclave refuses it, though the quote itself is genuine */
    refused_with(mutual(enclave, "peer", peer, "bind-other:peer", NULL), "does not bind");
    /* the host splices the server's quote of an earlier handshake into a new Reply: a
     * real quote of the right enclave, bound to another key; refused as forged */
    kt_buf old = {0}, h = {0}, r = {0}, f = {0};
    assert_int_equal(mutual(enclave, "peer", peer, "peer", &old), KT_OK);
    assert_int_equal(hello(enclave, "peer", &h), KT_OK);
    assert_int_equal(accept_hello(peer, "peer", &h, &r), KT_OK);
    ks_reply a, b;
    assert_int_equal(ks_reply_decode(old.data, old.len, &a), KT_OK);
    assert_int_equal(ks_reply_decode(r.data, r.len, &b), KT_OK);
    assert_int_equal(a.proof.evidence_len, b.proof.evidence_len);
    assert_memory_not_equal(a.proof.evidence, b.proof.evidence, a.proof.evidence_len);
    memcpy((uint8_t *)b.proof.evidence, a.proof.evidence, a.proof.evidence_len);
    refused_with(step(enclave, "MutualStep", &r, &f), "refused (forged)");
    kt_buf_free(&old), kt_buf_free(&h), kt_buf_free(&r), kt_buf_free(&f);
}

/* The host serves other collateral: under another simulation root (refused by the
 * enclave's own policy, whatever the host says), or Intel's real collateral for a sim
 * quote (the anchor is Intel's, and the quote does not verify under it). */
static void test_mutual_host_swapped_collateral_refused(void **state)
{
    (void)state;
    assert_int_equal(kt_attest_serve_collateral(kt_sim_qe_collateral_dir(other_qe), NULL, NULL), KT_OK);
    refused_with(mutual(enclave, "peer", peer, "peer", NULL), "which is not the policy's simulation_root");
    /* a policy that allows simulation but names no root: inside an enclave that is no
     * root at all, since the host picked it */
    refused_with(mutual(enclave, "any-simulation-root", peer, "peer", NULL), "which the host chose");
    assert_int_equal(kt_attest_serve_collateral(SETS "/sgx-v3-dcapqvl-cfg-swhardening", NULL, NULL), KT_OK);
    refused_with(mutual(enclave, "peer", peer, "peer", NULL), "does not verify");
    /* served right again, it passes */
    assert_int_equal(kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL), KT_OK);
    if (mutual(enclave, "peer", peer, "peer", NULL)) fail_msg("%s", kt_last_error());
}

/* ---- the enclave service serving client enclaves by quote ---- */

typedef Kubetee__Enclave__V1__EnclaveStepResult step_result;

/* One kt.service.* step of the service enclave; the refusal name ("" when none) kept. */
static kt_buf service_ids; /* ids of the sessions the service opened, dropped at the end */

static void service_step(kt_enclave *svc, const char *fn, const kt_buf *in, kt_buf *out,
                         char *refusal, size_t cap)
{
    Kubetee__Enclave__V1__EnclaveStep req = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP__INIT;
    step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
    req.message.data = in->data;
    req.message.len = in->len;
    kt_buf_append(&relayed, in->data, in->len);
    if (kt_enclave_call(svc, fn, &req, &res)) fail_msg("%s: %s", fn, kt_last_error());
    out->len = 0;
    kt_buf_append(out, res.message.data, res.message.len);
    kt_buf_append(&relayed, res.message.data, res.message.len);
    snprintf(refusal, cap, "%s", res.refusal ? res.refusal : "");
    if (!strcmp(fn, "kt.service.Hello") && res.session_id.len == KT_SESSION_ID_LEN)
        kt_buf_append(&service_ids, res.session_id.data, KT_SESSION_ID_LEN);
    kt_message_clear(&res);
}

/* The service frees what it still holds (as its host does before unloading it). */
static void service_drop_all(kt_enclave *svc)
{
    for (size_t at = 0; at + KT_SESSION_ID_LEN <= service_ids.len; at += KT_SESSION_ID_LEN) {
        Kubetee__Enclave__V1__EnclaveStep req = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP__INIT;
        step_result res = KUBETEE__ENCLAVE__V1__ENCLAVE_STEP_RESULT__INIT;
        req.message.data = service_ids.data + at;
        req.message.len = KT_SESSION_ID_LEN;
        assert_int_equal(kt_enclave_call(svc, "kt.service.Drop", &req, &res), KT_OK);
        kt_message_clear(&res);
    }
    kt_buf_free(&service_ids);
}

/* client (a sesstest enclave) under its policy cp, to the service; the service's
 * refusal at Finish in refusal (or "" when it served the client). */
static void service_handshake(kt_enclave *svc, kt_enclave *client_e, const char *cp,
                              char *refusal, size_t cap)
{
    kt_buf h = {0}, r = {0}, f = {0}, none = {0};
    assert_int_equal(hello(client_e, cp, &h), KT_OK);
    service_step(svc, "kt.service.Hello", &h, &r, refusal, cap);
    assert_string_equal(refusal, "");
    if (step(client_e, "MutualStep", &r, &f)) fail_msg("client: %s", kt_last_error());
    service_step(svc, "kt.service.Finish", &f, &none, refusal, cap);
    kt_buf_free(&h), kt_buf_free(&r), kt_buf_free(&f), kt_buf_free(&none);
}

static kt_status gate(kt_enclave *svc, const char *what)
{
    Remotetest__Text req = REMOTETEST__TEXT__INIT, res = REMOTETEST__TEXT__INIT;
    req.text = (char *)what;
    kt_status st = kt_enclave_call(svc, "test.PlatformGate", &req, &res);
    if (!st) kt_message_clear(&res);
    return st;
}

static void test_service_serves_client_enclaves_by_quote(void **state)
{
    (void)state;
    char path[512], refusal[64];
    snprintf(path, sizeof path, "%s/tests/enclaves/servicequote.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *svc = NULL;
    assert_int_equal(kt_enclave_create(path, &o, &svc), KT_OK);
    relayed.len = 0;
    /* sesstest (MRSIGNER keyA, prodid 3) is the client the service's policy names; each
     * verifies the other inside itself */
    service_handshake(svc, enclave, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "");
    Remotetest__Text t = REMOTETEST__TEXT__INIT;
    t.text = "from one enclave to another: 3a9f";
    uint8_t packed[128];
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    inv.request_type = "remotetest.Text";
    inv.response_type = "remotetest.Text";
    inv.request.data = packed;
    inv.request.len = remotetest__text__pack(&t, packed);
    kt_buf payload = {0}, rec = {0}, back = {0}, plain = {0};
    assert_int_equal(kt_buf_reserve(&payload, kubetee__enclave__v1__invocation__get_packed_size(&inv)), KT_OK);
    payload.len = kubetee__enclave__v1__invocation__pack(&inv, payload.data);
    assert_int_equal(clear_call(enclave, "MutualSeal", &payload, &rec), KT_OK);
    service_step(svc, "kt.service.Call", &rec, &back, refusal, sizeof refusal);
    assert_string_equal(refusal, "");
    if (clear_call(enclave, "MutualOpen", &back, &plain)) fail_msg("%s", kt_last_error());
    Kubetee__Enclave__V1__CallResult *cr =
        kubetee__enclave__v1__call_result__unpack(NULL, plain.len, plain.data);
    assert_non_null(cr);
    if (cr->status) fail_msg("Echo: %d %s", cr->status, cr->reason);
    Remotetest__Text *echo = remotetest__text__unpack(NULL, cr->response.len, cr->response.data);
    assert_non_null(echo);
    assert_string_equal(echo->text, t.text);
    remotetest__text__free_unpacked(echo, NULL);
    kubetee__enclave__v1__call_result__free_unpacked(cr, NULL);
    assert_null(memmem(relayed.data, relayed.len, "3a9f", 4));
    /* a debug build of the same client: the service's policy refuses it at Finish */
    service_handshake(svc, debug_peer, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "peer_refused");
    /* and the client refuses a service its own policy does not name */
    kt_buf h = {0}, r = {0}, f = {0};
    assert_int_equal(hello(enclave, "peer", &h), KT_OK); /* "peer" pins prodid 3: the service is 1 */
    service_step(svc, "kt.service.Hello", &h, &r, refusal, sizeof refusal);
    refused_with(step(enclave, "MutualStep", &r, &f), "ISVPRODID differs");
    kt_buf_free(&payload), kt_buf_free(&rec), kt_buf_free(&back), kt_buf_free(&plain);
    kt_buf_free(&h), kt_buf_free(&r), kt_buf_free(&f);
    /* a compiled-in client policy and a run-time platform gate would be two gates */
    refused_with(gate(svc, "none"), "compiled in a client policy");
    service_drop_all(svc);
    kt_enclave_destroy(svc);
}

/* A service that compiles in no client policy (servicetest: one key client) serves
 * client enclaves by quote only once it sets a platform gate at run time: then any
 * enclave on that platform (its simulation root pinned), its identity left to the
 * service's functions; the gate taken back, none again. */
static void test_service_platform_gate_set_at_run_time(void **state)
{
    (void)state;
    char path[512], refusal[64], root_hex[70] = "sim:";
    uint8_t root[32];
    snprintf(path, sizeof path, "%s/tests/enclaves/servicetest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *svc = NULL;
    assert_int_equal(kt_enclave_create(path, &o, &svc), KT_OK);
    service_handshake(svc, enclave, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "peer_refused"); /* no gate yet */
    refused_with(gate(svc, "sim"), "names no simulation_root");
    assert_int_equal(kt_collateral_root_sha256(coll, root), KT_OK);
    kt_hex_encode(root, 32, root_hex + 4, sizeof root_hex - 4);
    assert_int_equal(gate(svc, root_hex), KT_OK);
    service_handshake(svc, enclave, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "");
    service_handshake(svc, debug_peer, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "peer_refused"); /* the gate allows no debug enclave */
    assert_int_equal(gate(svc, "sim:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"), KT_OK);
    service_handshake(svc, enclave, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "peer_refused"); /* another root pinned */
    assert_int_equal(gate(svc, "none"), KT_OK);
    service_handshake(svc, enclave, "service", refusal, sizeof refusal);
    assert_string_equal(refusal, "peer_refused");
    service_drop_all(svc);
    kt_enclave_destroy(svc);
}

/* ---- the trusted verifier on its own ---- */

static void verify_in(kt_enclave *e, const kt_buf *bundle, const kt_buf *quote, time_t at,
                      const char *policy, Tfftest__VerifyReply *out)
{
    Tfftest__VerifyRequest req = TFFTEST__VERIFY_REQUEST__INIT;
    req.bundle.data = bundle->data;
    req.bundle.len = bundle->len;
    req.quote.data = quote->data;
    req.quote.len = quote->len;
    req.at = at;
    req.policy = (char *)(policy ? policy : "");
    if (kt_enclave_call(e, "VerifyBundle", &req, out)) fail_msg("%s", kt_last_error());
}

static time_t verify_at(const char *set)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/expected.json", SETS, set);
    json_t *e = json_load_file(path, 0, NULL);
    assert_non_null(e);
    time_t t = (time_t)json_integer_value(json_object_get(e, "verify_at"));
    json_decref(e);
    return t;
}

static int by_time(const void *a, const void *b)
{
    time_t x = verify_at(*(const char *const *)a), y = verify_at(*(const char *const *)b);
    return (x > y) - (x < y);
}

/* Intel's real quotes and collateral: the enclave's verdict is the host's, for each set,
 * at each set's time (in time order: the enclave's clock never goes back); then an
 * earlier time than collateral the enclave has seen is refused. */
static void test_trusted_verifier_matches_host_on_intel_quotes(void **state)
{
    (void)state;
    const char *sets[] = {"sgx-v3-dcapqvl-cfg-swhardening", "sgx-v3-mobilecoin-debug-qe-outofdate",
                          "sgx-v3-mobilecoin-quote-outofdate", "sgx-v3-zkdcap-swhardening",
                          "tdx-v4-dcapqvl-uptodate", "tdx-v4-zkdcap-outofdate",
                          "tdx-v4-zkdcap-uptodate-tdattr-zero", "tdx-v5-td15-automata-uptodate",
                          "tdx-v5-td15-dcapqvl-tcb-not-supported"};
    size_t n = sizeof sets / sizeof sets[0];
    qsort(sets, n, sizeof sets[0], by_time);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/sesstest.signed.so", KT_TEST_BINARY_DIR);
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *fresh = NULL; /* its clock floor starts at nothing */
    assert_int_equal(kt_enclave_create(path, &o, &fresh), KT_OK);
    kt_buf first_bundle = {0}, first_quote = {0};
    unsigned ok = 0;
    for (size_t i = 0; i < n; i++) {
        char dir[600], qpath[700];
        snprintf(dir, sizeof dir, "%s/%s", SETS, sets[i]);
        snprintf(qpath, sizeof qpath, "%s/quote.dat", dir);
        kt_buf bundle = {0}, quote = {0};
        assert_int_equal(kt_collateral_bundle_dir(dir, NULL, &bundle), KT_OK);
        assert_int_equal(kt_file_read(qpath, KT_QUOTE_MAX, &quote), KT_OK);
        time_t at = verify_at(sets[i]);
        kt_collateral *c = NULL;
        kt_verdict v;
        assert_int_equal(kt_collateral_load_dir(dir, NULL, &c), KT_OK);
        assert_int_equal(kt_quote_verify(quote.data, quote.len, c, at, &v), KT_OK);
        Tfftest__VerifyReply r = TFFTEST__VERIFY_REPLY__INIT;
        verify_in(fresh, &bundle, &quote, at, NULL, &r);
        if (r.ok != v.ok || strcmp(r.reason, v.reason) ||
            (v.ok && strcmp(r.tcb_status, kt_tcb_status_name(v.tcb_status))))
            fail_msg("%s: enclave says ok=%d %s '%s', the host ok=%d %s '%s'", sets[i], r.ok,
                     r.tcb_status, r.reason, v.ok, kt_tcb_status_name(v.tcb_status), v.reason);
        assert_false(r.simulated);
        ok += r.ok;
        kt_message_clear(&r);
        kt_collateral_free(c);
        if (i == 0) {
            kt_buf_append(&first_bundle, bundle.data, bundle.len);
            kt_buf_append(&first_quote, quote.data, quote.len);
        }
        kt_buf_free(&bundle), kt_buf_free(&quote);
    }
    assert_true(ok >= 5); /* most sets verify; the rest fail for the reason the host gives */
    /* the earliest set again, at its own time: the enclave has seen newer collateral */
    Tfftest__VerifyReply r = TFFTEST__VERIFY_REPLY__INIT;
    verify_in(fresh, &first_bundle, &first_quote, verify_at(sets[0]), NULL, &r);
    assert_false(r.ok);
    if (!strstr(r.reason, "the host's clock went back")) fail_msg("%s", r.reason);
    kt_message_clear(&r);
    kt_buf_free(&first_bundle), kt_buf_free(&first_quote);
    kt_enclave_destroy(fresh);
}

/* A bundle is untrusted bytes: each malformation named; and collateral under a root the
 * compiled-in policy does not name is refused before any signature is checked. */
static void test_trusted_verifier_refuses_bad_bundles_and_roots(void **state)
{
    (void)state;
    kt_buf good = {0}, other = {0}, quote = {0}, bad = {0};
    uint8_t rd[64] = {1};
    kt_report_body body = {.prodid = 3};
    uint8_t raw[384];
    memcpy(body.report_data, rd, 64);
    kt_report_body_encode(&body, raw);
    assert_int_equal(kt_sim_qe_quote_body(qe, raw, &quote), KT_OK);
    assert_int_equal(kt_collateral_bundle_dir(kt_sim_qe_collateral_dir(qe), NULL, &good), KT_OK);
    assert_int_equal(kt_collateral_bundle_dir(kt_sim_qe_collateral_dir(other_qe), NULL, &other), KT_OK);
    Tfftest__VerifyReply r = TFFTEST__VERIFY_REPLY__INIT;
    verify_in(enclave, &good, &quote, time(NULL), NULL, &r);
    if (!r.ok || !r.simulated) fail_msg("%s", r.reason);
    kt_message_clear(&r);
    /* another root: refused by the policy, naming the root the host handed over */
    verify_in(enclave, &other, &quote, time(NULL), "peer", &r);
    assert_false(r.ok);
    if (!strstr(r.reason, "which is not the policy's simulation_root")) fail_msg("%s", r.reason);
    kt_message_clear(&r);
    struct {
        size_t cut;
        const char *reason;
    } cuts[] = {{0, "does not start with KTCOLL1"}, {10, "ends before"},
                {good.len - 1, "is cut short"}};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        bad.len = 0;
        kt_buf_append(&bad, good.data, cuts[i].cut);
        verify_in(enclave, &bad, &quote, time(NULL), NULL, &r);
        assert_false(r.ok);
        if (!strstr(r.reason, cuts[i].reason)) fail_msg("%s", r.reason);
        kt_message_clear(&r);
    }
    bad.len = 0;
    kt_buf_append(&bad, good.data, good.len);
    kt_buf_append(&bad, "x", 1);
    verify_in(enclave, &bad, &quote, time(NULL), NULL, &r);
    if (!strstr(r.reason, "1 bytes after the last item")) fail_msg("%s", r.reason);
    kt_message_clear(&r);
    /* a length over the item's bound: refused before anything is read */
    bad.len = 0;
    kt_buf_append(&bad, good.data, good.len);
    bad.data[8 + 3] = 0x7f;
    verify_in(enclave, &bad, &quote, time(NULL), NULL, &r);
    if (!strstr(r.reason, "intel_root_ca.pem of")) fail_msg("%s", r.reason);
    kt_message_clear(&r);
    kt_buf_free(&good), kt_buf_free(&other), kt_buf_free(&quote), kt_buf_free(&bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enclave_session_round_trip),
        cmocka_unit_test(test_enclave_close_is_authenticated),
        cmocka_unit_test(test_enclave_refused_by_policy),
        cmocka_unit_test(test_enclave_refuses_unregistered_client),
        cmocka_unit_test(test_mutual_round_trip),
        cmocka_unit_test(test_mutual_server_refuses_client_mrenclave),
        cmocka_unit_test(test_mutual_client_refuses_server),
        cmocka_unit_test(test_mutual_quote_binding_another_key_refused),
        cmocka_unit_test(test_mutual_host_swapped_collateral_refused),
        cmocka_unit_test(test_service_serves_client_enclaves_by_quote),
        cmocka_unit_test(test_service_platform_gate_set_at_run_time),
        cmocka_unit_test(test_trusted_verifier_matches_host_on_intel_quotes),
        cmocka_unit_test(test_trusted_verifier_refuses_bad_bundles_and_roots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
