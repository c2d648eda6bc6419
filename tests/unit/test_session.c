/* Attested sessions (docs/protocol.md): handshakes between key-signed sides and
 * quote-proving sides (quotes from the sim platform's quoting enclave, verified by the
 * attestation verifier against the simulation root's collateral), records both ways,
 * and every attack of the threat model failing with its own reason. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/session/internal.h"
#include <kubetee/session.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_dir[64];
static kt_sim_qe *qe;
static kt_collateral *coll;
static kt_key *key_a, *key_b, *key_m, *key_sm2;
static kt_policy *allow_sim; /* any enclave, simulation allowed */

static const uint8_t MRSIGNER[32] = {0x22, 0x22, 0x22};
static const uint8_t MRENCLAVE[32] = {0x11, 0x11, 0x11};
/* the test enclave's signer, simulation allowed */
#define ANY_SIM                                                                                    \
    "allow_simulation: true\nrules:\n- mrsigner: "                                                 \
    "2222220000000000000000000000000000000000000000000000000000000000\n"

/* An enclave's quote, made in-process: the report body an enclave with these
 * measurements would make, quoted by the sim QE. */
typedef struct {
    bool debug;
    bool bind_other; /* report_data for someone else's key: the attack */
    bool flip;       /* a byte of the quote's signature flipped */
} quoter;

static kt_status make_quote(void *ctx, const uint8_t rd[64], kt_buf *quote)
{
    quoter *q = ctx;
    kt_report_body b = {0};
    b.attr_flags = q && q->debug ? 0x7 : 0x5;
    b.attr_xfrm = 0x3;
    memcpy(b.mrenclave, MRENCLAVE, 32);
    memcpy(b.mrsigner, MRSIGNER, 32);
    b.prodid = 1;
    b.svn = 2;
    memcpy(b.report_data, rd, 64);
    if (q && q->bind_other) b.report_data[0] ^= 1;
    uint8_t body[KT_REPORT_BODY_LEN];
    kt_report_body_encode(&b, body);
    kt_status st = kt_sim_qe_quote_body(qe, body, quote);
    if (!st && q && q->flip) quote->data[48 + 384 + 4 + 10] ^= 1; /* in the quote signature */
    return st;
}

static int setup(void **state)
{
    (void)state;
    strcpy(sim_dir, "/tmp/kt-session-XXXXXX");
    if (!mkdtemp(sim_dir)) return -1;
    if (kt_sim_qe_open(sim_dir, &qe) ||
        kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
        kt_key_generate(KT_KEY_P256, &key_a) || kt_key_generate(KT_KEY_P256, &key_b) ||
        kt_key_generate(KT_KEY_P256, &key_m) || kt_key_generate(KT_KEY_SM2, &key_sm2) ||
        kt_policy_default(true, &allow_sim)) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_policy_free(allow_sim);
    kt_key_free(key_a), kt_key_free(key_b), kt_key_free(key_m), kt_key_free(key_sm2);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    return rm_tree(sim_dir);
}

static kt_policy *policy(const char *yaml)
{
    kt_policy *p = NULL;
    if (kt_policy_parse(yaml, strlen(yaml), &p)) fail_msg("policy: %s", kt_last_error());
    return p;
}

static const kt_key *const *keys(const kt_key *k)
{
    static const kt_key *one[4];
    static int next;
    const kt_key **slot = &one[next++ % 4];
    *slot = k;
    return slot;
}

/* A side proving itself with key, accepting peer key. */
static kt_session_config key_side(kt_session_role role, const kt_key *mine, const kt_key *peer)
{
    kt_session_config c = {.role = role, .key = mine, .now = time(NULL)};
    c.peer.keys = keys(peer);
    c.peer.key_count = 1;
    return c;
}

/* An enclave side (quotes), accepting peer key. */
static kt_session_config quote_side(kt_session_role role, quoter *q, const kt_key *peer)
{
    kt_session_config c = {.role = role, .quote = make_quote, .quote_ctx = q, .now = time(NULL)};
    c.peer.keys = keys(peer);
    c.peer.key_count = 1;
    return c;
}

/* Accepting enclaves under p. */
static void want_enclave(kt_session_config *c, const kt_policy *p)
{
    c->peer.policy = p;
    c->peer.collateral = coll;
}

/* Runs the handshake, relaying every message through wire (NULL: not kept). Returns
 * the first failing step's status. */
static kt_status handshake(const kt_session_config *ci, const kt_session_config *cr,
                           kt_session **i, kt_session **r, kt_buf *wire)
{
    assert_int_equal(kt_session_new(ci, i), KT_OK);
    assert_int_equal(kt_session_new(cr, r), KT_OK);
    kt_buf hello = {0}, reply = {0}, finish = {0}, none = {0};
    kt_status st = kt_session_handshake(*i, NULL, 0, &hello);
    if (!st) st = kt_session_handshake(*r, hello.data, hello.len, &reply);
    if (!st) st = kt_session_handshake(*i, reply.data, reply.len, &finish);
    if (!st) st = kt_session_handshake(*r, finish.data, finish.len, &none);
    if (!st) assert_int_equal(none.len, 0);
    if (wire) {
        kt_buf_append(wire, hello.data, hello.len);
        kt_buf_append(wire, reply.data, reply.len);
        kt_buf_append(wire, finish.data, finish.len);
    }
    kt_buf_free(&hello), kt_buf_free(&reply), kt_buf_free(&finish);
    return st;
}

/* A (initiator) and B (responder) with each other's keys registered. */
static void key_configs(kt_session_config *ci, kt_session_config *cr)
{
    *ci = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    *cr = key_side(KT_SESSION_RESPONDER, key_b, key_a);
}

static void established(const kt_session_config *ci, const kt_session_config *cr, kt_session **i,
                        kt_session **r)
{
    if (handshake(ci, cr, i, r, NULL)) fail_msg("handshake: %s", kt_last_error());
    assert_true(kt_session_established(*i));
    assert_true(kt_session_established(*r));
}

static void pair_keys(kt_session **i, kt_session **r)
{
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    established(&ci, &cr, i, r);
}

static void seal(kt_session *s, const char *fn, const char *msg, kt_buf *rec)
{
    rec->len = 0;
    if (kt_session_seal(s, fn, msg, strlen(msg), rec)) fail_msg("seal: %s", kt_last_error());
}

/* Opens rec and expects payload msg for fn. */
static void open_ok(kt_session *s, const kt_buf *rec, const char *fn, const char *msg)
{
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf p = {0};
    if (kt_session_open(s, rec->data, rec->len, name, &p)) fail_msg("open: %s", kt_last_error());
    assert_string_equal(name, fn);
    assert_int_equal(p.len, strlen(msg));
    assert_memory_equal(p.data, msg, p.len);
    kt_buf_free(&p);
}

/* Opening rec is refused for reason r, and the reason's words contain needle. */
static void open_refused(kt_session *s, const uint8_t *rec, size_t n, kt_session_refusal r,
                         const char *needle)
{
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf p = {0};
    kt_status st = kt_session_open(s, rec, n, name, &p);
    if (st == KT_OK) fail_msg("record accepted; expected %s", kt_session_refusal_name(r));
    if (kt_session_last_refusal(s) != r || !strstr(kt_last_error(), needle))
        fail_msg("expected %s ('%s'), got %s: %s", kt_session_refusal_name(r), needle,
                 kt_session_refusal_name(kt_session_last_refusal(s)), kt_last_error());
    assert_int_equal(p.len, 0);
    kt_buf_free(&p);
}

/* ---- handshakes and round trips ---- */

static void test_key_sides_round_trip(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    uint8_t id_i[16], id_r[16];
    assert_int_equal(kt_session_id(i, id_i), KT_OK);
    assert_int_equal(kt_session_id(r, id_r), KT_OK);
    assert_memory_equal(id_i, id_r, 16);
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(r, &pi), KT_OK);
    assert_int_equal(pi.proof, KT_SESSION_PROOF_P256);
    uint8_t raw[64];
    size_t len;
    assert_int_equal(kt_key_public_raw(key_a, raw, sizeof raw, &len), KT_OK);
    assert_memory_equal(pi.public_key, raw, 64);
    assert_int_equal(pi.valid_until, 0);

    kt_buf rec = {0};
    for (int k = 0; k < 3; k++) {
        seal(i, "Echo", "hello enclave", &rec);
        open_ok(r, &rec, "Echo", "hello enclave");
        seal(r, "Echo", "hello client", &rec);
        open_ok(i, &rec, "Echo", "hello client");
    }
    /* an empty payload is a message too */
    rec.len = 0;
    assert_int_equal(kt_session_seal(i, "Ping", NULL, 0, &rec), KT_OK);
    open_ok(r, &rec, "Ping", "");
    /* sealed in place, the payload in parts: a record like any other, in sequence */
    kt_bytes parts[2] = {{(const uint8_t *)"in ", 3}, {(const uint8_t *)"place", 5}};
    size_t rlen = kt_session_record_len("Echo", 8);
    assert_int_equal(rlen, 33 + 4 + 4 + 8 + 16);
    rec.len = 0;
    assert_int_equal(kt_buf_reserve(&rec, rlen), KT_OK);
    assert_fails_with(kt_session_seal_into(i, "Echo", parts, 2, rec.data, rlen - 1), KT_ERR_INVALID_ARGUMENT, "room");
    assert_int_equal(kt_session_seal_into(i, "Echo", parts, 2, rec.data, rlen), KT_OK);
    rec.len = rlen;
    open_ok(r, &rec, "Echo", "in place");
    assert_int_equal(kt_session_record_len("two words", 1), 0);
    assert_int_equal(kt_session_seal_into(i, "two words", parts, 2, rec.data, rlen), KT_ERR_INVALID_ARGUMENT);
    seal(i, "Echo", "after", &rec);
    open_ok(r, &rec, "Echo", "after");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_sm2_side(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_sm2, key_b);
    kt_session_config cr = key_side(KT_SESSION_RESPONDER, key_b, key_sm2);
    established(&ci, &cr, &i, &r);
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(r, &pi), KT_OK);
    assert_int_equal(pi.proof, KT_SESSION_PROOF_SM2);
    kt_buf rec = {0};
    seal(i, "Get", "sm2 client", &rec);
    open_ok(r, &rec, "Get", "sm2 client");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_enclave_responder(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, allow_sim);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, NULL, key_a);
    established(&ci, &cr, &i, &r);
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(i, &pi), KT_OK);
    assert_int_equal(pi.proof, KT_SESSION_PROOF_QUOTE);
    assert_true(pi.simulated);
    assert_memory_equal(pi.enclave.mrenclave, MRENCLAVE, 32);
    assert_memory_equal(pi.enclave.mrsigner, MRSIGNER, 32);
    assert_int_equal(pi.tcb_status, KT_TCB_UP_TO_DATE);
    assert_true(pi.valid_until > time(NULL));
    kt_buf rec = {0};
    seal(i, "Secret", "to the enclave", &rec);
    open_ok(r, &rec, "Secret", "to the enclave");
    seal(r, "Secret", "from the enclave", &rec);
    open_ok(i, &rec, "Secret", "from the enclave");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_mutual_attestation(void **state)
{
    (void)state;
    kt_session *i, *r;
    char yaml[256], mr[65];
    kt_hex_encode(MRSIGNER, 32, mr, sizeof mr);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrsigner: %s, isvprodid: 1}\n", mr);
    kt_policy *p = policy(yaml);
    kt_session_config ci = quote_side(KT_SESSION_INITIATOR, NULL, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, p);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, NULL, NULL);
    cr.peer.key_count = 0;
    want_enclave(&cr, p);
    established(&ci, &cr, &i, &r);
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(r, &pi), KT_OK);
    assert_int_equal(pi.proof, KT_SESSION_PROOF_QUOTE);
    kt_buf rec = {0};
    seal(i, "A", "enclave to enclave", &rec);
    open_ok(r, &rec, "A", "enclave to enclave");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
    kt_policy_free(p);
}

static void test_relayed_bytes_hold_no_secret(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, allow_sim);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, NULL, key_a);
    kt_buf wire = {0}, rec = {0};
    if (handshake(&ci, &cr, &i, &r, &wire)) fail_msg("%s", kt_last_error());
    const char *secret = "the secret payload: 0123456789abcdef";
    for (int k = 0; k < 4; k++) {
        seal(i, "Put", secret, &rec);
        kt_buf_append(&wire, rec.data, rec.len);
        open_ok(r, &rec, "Put", secret);
        seal(r, "Put", secret, &rec);
        kt_buf_append(&wire, rec.data, rec.len);
        open_ok(i, &rec, "Put", secret);
    }
    kt_session_close(i, &rec);
    kt_buf_append(&wire, rec.data, rec.len);
    /* neither the plaintext (nor a long part of it) nor any key is in what was relayed */
    assert_null(memmem(wire.data, wire.len, secret, strlen(secret)));
    assert_null(memmem(wire.data, wire.len, "0123456789", 10));
    assert_null(memmem(wire.data, wire.len, i->send.key, 32));
    assert_null(memmem(wire.data, wire.len, i->recv.key, 32));
    assert_memory_equal(i->send.key, r->recv.key, 32);
    /* and the handshake's secrets are gone from the sessions */
    static const uint8_t zero[32];
    assert_memory_equal(i->secret, zero, 32);
    assert_memory_equal(r->secret, zero, 32);
    assert_null(i->eph);
    assert_null(r->eph);
    kt_buf_free(&wire), kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_handshake_keys_are_ephemeral(void **state)
{
    (void)state;
    kt_session *i1, *r1, *i2, *r2;
    pair_keys(&i1, &r1);
    pair_keys(&i2, &r2);
    assert_memory_not_equal(i1->send.key, i2->send.key, 32);
    assert_memory_not_equal(i1->id, i2->id, 16);
    kt_session_free(i1), kt_session_free(r1), kt_session_free(i2), kt_session_free(r2);
}

/* ---- the peer refused ---- */

static void refused_handshake(const kt_session_config *ci, const kt_session_config *cr,
                              kt_session_refusal want, const char *needle, bool initiator_refuses)
{
    kt_session *i, *r;
    kt_status st = handshake(ci, cr, &i, &r, NULL);
    if (st == KT_OK) fail_msg("handshake passed; expected %s", kt_session_refusal_name(want));
    kt_session *judge = initiator_refuses ? i : r;
    if (kt_session_last_refusal(judge) != want || !strstr(kt_last_error(), needle))
        fail_msg("expected %s ('%s'), got %s: %s", kt_session_refusal_name(want), needle,
                 kt_session_refusal_name(kt_session_last_refusal(judge)), kt_last_error());
    /* the judge is not established (an initiator refused by the responder's check of its
     * Finish holds keys nobody answers: the responder's transport reports the refusal) */
    assert_false(kt_session_established(judge));
    assert_false(kt_session_established(r));
    /* a failed handshake cannot go on */
    kt_buf out = {0};
    assert_int_equal(kt_session_handshake(judge, (const uint8_t *)"KS", 2, &out), KT_ERR_STATE);
    kt_session_free(i), kt_session_free(r);
}

static void enclave_under(const char *yaml, quoter *q, kt_session_refusal want, const char *needle)
{
    kt_policy *p = policy(yaml);
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, p);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, q, key_a);
    refused_handshake(&ci, &cr, want, needle, true);
    kt_policy_free(p);
}

static void test_wrong_mrsigner_refused(void **state)
{
    (void)state;
    enclave_under("allow_simulation: true\nrules:\n- mrsigner: "
                  "3333333333333333333333333333333333333333333333333333333333333333\n",
                  NULL, KT_SESSION_PEER_REFUSED, "policy");
}

static void test_simulation_not_allowed(void **state)
{
    (void)state;
    char yaml[256], mr[65];
    kt_hex_encode(MRSIGNER, 32, mr, sizeof mr);
    snprintf(yaml, sizeof yaml, "rules:\n- mrsigner: %s\n", mr);
    enclave_under(yaml, NULL, KT_SESSION_PEER_REFUSED, "simulat");
}

static void test_debug_refused(void **state)
{
    (void)state;
    quoter q = {.debug = true};
    char yaml[256], mr[65];
    kt_hex_encode(MRSIGNER, 32, mr, sizeof mr);
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrsigner: %s}\n", mr);
    enclave_under(yaml, &q, KT_SESSION_PEER_REFUSED, "debug");
    /* and passes where the policy allows debug enclaves */
    snprintf(yaml, sizeof yaml, "allow_simulation: true\nrules:\n- {mrsigner: %s, allow_debug: true}\n",
             mr);
    kt_policy *p = policy(yaml);
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, p);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, &q, key_a);
    kt_session *i, *r;
    established(&ci, &cr, &i, &r);
    kt_session_free(i), kt_session_free(r);
    kt_policy_free(p);
}

static void test_quote_binding_another_key_refused(void **state)
{
    (void)state;
    quoter q = {.bind_other = true};
    enclave_under(ANY_SIM, &q, KT_SESSION_FORGED, "does not bind");
}

static void test_forged_quote_refused(void **state)
{
    (void)state;
    quoter q = {.flip = true};
    enclave_under(ANY_SIM, &q, KT_SESSION_PEER_REFUSED, "does not verify");
}

static void test_unregistered_key_refused(void **state)
{
    (void)state;
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_m, key_b);
    kt_session_config cr = key_side(KT_SESSION_RESPONDER, key_b, key_a);
    refused_handshake(&ci, &cr, KT_SESSION_PEER_REFUSED, "not a registered key", false);
    /* a key peer where only enclaves are accepted */
    kt_session_config cr2 = key_side(KT_SESSION_RESPONDER, key_b, NULL);
    cr2.peer.key_count = 0;
    want_enclave(&cr2, allow_sim);
    kt_session_config ci2 = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    refused_handshake(&ci2, &cr2, KT_SESSION_PEER_REFUSED, "attested enclaves only", false);
    /* and an enclave where only keys are accepted */
    kt_session_config cr3 = quote_side(KT_SESSION_RESPONDER, NULL, key_a);
    kt_session_config ci3 = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    refused_handshake(&ci3, &cr3, KT_SESSION_PEER_REFUSED, "registered keys only", true);
}

/* any_key: every key that signs the transcript is accepted, and the session names it
 * (the caller authorizes by it); quotes are still refused without a policy. */
static void test_any_key(void **state)
{
    (void)state;
    const kt_key *peers[] = {key_m, key_sm2};
    for (size_t k = 0; k < 2; k++) {
        kt_session_config ci = key_side(KT_SESSION_INITIATOR, peers[k], key_b);
        kt_session_config cr = key_side(KT_SESSION_RESPONDER, key_b, NULL);
        cr.peer.key_count = 0;
        cr.peer.keys = NULL;
        cr.peer.any_key = true;
        kt_session *i, *r;
        established(&ci, &cr, &i, &r);
        kt_session_peer_info pi;
        uint8_t raw[64];
        size_t n;
        assert_int_equal(kt_session_peer(r, &pi), KT_OK);
        assert_int_equal(kt_key_public_raw(peers[k], raw, sizeof raw, &n), KT_OK);
        assert_memory_equal(pi.public_key, raw, 64);
        assert_int_equal(pi.proof, k ? KT_SESSION_PROOF_SM2 : KT_SESSION_PROOF_P256);
        assert_int_equal(kt_session_recheck(r, &cr.peer, time(NULL)), KT_OK);
        kt_session_free(i), kt_session_free(r);
    }
    kt_session_config ci = quote_side(KT_SESSION_INITIATOR, NULL, key_b);
    kt_session_config cr = key_side(KT_SESSION_RESPONDER, key_b, NULL);
    cr.peer.key_count = 0;
    cr.peer.keys = NULL;
    cr.peer.any_key = true;
    refused_handshake(&ci, &cr, KT_SESSION_PEER_REFUSED, "registered keys only", false);
    /* without any_key, no keys and no policy admits nobody */
    cr.peer.any_key = false;
    kt_session *s = NULL;
    assert_int_equal(kt_session_new(&cr, &s), KT_ERR_INVALID_ARGUMENT);
}

/* Messages of one handshake fed into another: fresh nonces and keys each time. */
static void test_replayed_reply_refused(void **state)
{
    (void)state;
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    kt_session *i1, *r1, *i2, *r2;
    assert_int_equal(kt_session_new(&ci, &i1), KT_OK);
    assert_int_equal(kt_session_new(&cr, &r1), KT_OK);
    assert_int_equal(kt_session_new(&ci, &i2), KT_OK);
    assert_int_equal(kt_session_new(&cr, &r2), KT_OK);
    kt_buf h1 = {0}, rep1 = {0}, h2 = {0}, f = {0}, rep2 = {0}, none = {0};
    assert_int_equal(kt_session_handshake(i1, NULL, 0, &h1), KT_OK);
    assert_int_equal(kt_session_handshake(r1, h1.data, h1.len, &rep1), KT_OK);
    assert_int_equal(kt_session_handshake(i2, NULL, 0, &h2), KT_OK);
    /* the recorded reply to i1 replayed to i2 */
    assert_int_not_equal(kt_session_handshake(i2, rep1.data, rep1.len, &f), KT_OK);
    assert_int_equal(kt_session_last_refusal(i2), KT_SESSION_FORGED);
    /* a recorded Hello replayed to a new responder gets a fresh reply; the Finish of the
     * first run does not complete it */
    assert_int_equal(kt_session_handshake(r2, h1.data, h1.len, &rep2), KT_OK);
    assert_int_equal(kt_session_handshake(i1, rep1.data, rep1.len, &f), KT_OK);
    assert_int_not_equal(kt_session_handshake(r2, f.data, f.len, &none), KT_OK);
    assert_int_equal(kt_session_last_refusal(r2), KT_SESSION_OTHER_SESSION);
    kt_buf_free(&h1), kt_buf_free(&rep1), kt_buf_free(&h2), kt_buf_free(&f), kt_buf_free(&rep2);
    kt_session_free(i1), kt_session_free(r1), kt_session_free(i2), kt_session_free(r2);
}

static void test_downgrade_refused(void **state)
{
    (void)state;
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    kt_session *i, *r;
    assert_int_equal(kt_session_new(&ci, &i), KT_OK);
    assert_int_equal(kt_session_new(&cr, &r), KT_OK);
    kt_buf h = {0}, h2 = {0}, rep = {0}, f = {0};
    assert_int_equal(kt_session_handshake(i, NULL, 0, &h), KT_OK);
    /* in flight the offer becomes {0x0001 (an older suite), 0x0101} */
    uint8_t pre[6] = {'K', 'S', 1, 2, 0x01, 0x00};
    kt_buf_append(&h2, pre, sizeof pre);
    kt_buf_append(&h2, h.data + 4, h.len - 4);
    assert_int_equal(kt_session_handshake(r, h2.data, h2.len, &rep), KT_OK);
    assert_int_not_equal(kt_session_handshake(i, rep.data, rep.len, &f), KT_OK);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_FORGED);
    kt_buf_free(&h), kt_buf_free(&h2), kt_buf_free(&rep), kt_buf_free(&f);
    kt_session_free(i), kt_session_free(r);

    /* an offer with no suite this side speaks */
    assert_int_equal(kt_session_new(&cr, &r), KT_OK);
    uint8_t old[4 + 2 + 96] = {'K', 'S', 1, 1, 0x01, 0x00};
    kt_buf out = {0};
    assert_fails_with(kt_session_handshake(r, old, sizeof old, &out), KT_ERR_UNSUPPORTED,
                      "no common suite");
    kt_session_free(r);
}

/* Unknown key share: a registered third party puts its own proof over the same
 * transcript into the reply; the responder's MAC covers its proof, so it fails. */
static void test_identity_swap_refused(void **state)
{
    (void)state;
    const kt_key *both[2] = {key_b, key_m};
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.keys = both;
    ci.peer.key_count = 2;
    kt_session_config cr = key_side(KT_SESSION_RESPONDER, key_b, key_a);
    kt_session *i, *r;
    assert_int_equal(kt_session_new(&ci, &i), KT_OK);
    assert_int_equal(kt_session_new(&cr, &r), KT_OK);
    kt_buf h = {0}, rep = {0}, f = {0};
    assert_int_equal(kt_session_handshake(i, NULL, 0, &h), KT_OK);
    assert_int_equal(kt_session_handshake(r, h.data, h.len, &rep), KT_OK);
    /* M signs TH1 of this very handshake with its own registered key */
    ks_reply d;
    assert_int_equal(ks_reply_decode(rep.data, rep.len, &d), KT_OK);
    kt_buf t = {0}, msg = {0}, sig = {0}, swapped = {0};
    kt_buf_append(&t, "kubetee session v1 reply", 24);
    kt_buf_append(&t, h.data, h.len);
    kt_buf_append(&t, rep.data, KS_REPLY_PROOF_AT);
    uint8_t th1[32], pub[64];
    size_t len;
    kt_sha256(t.data, t.len, th1);
    kt_key_public_raw(key_m, pub, sizeof pub, &len);
    ks_signed_message("kubetee session v1 responder", th1, KT_SESSION_PROOF_P256, pub, &msg);
    kt_sign(key_m, msg.data, msg.len, &sig);
    kt_buf_append(&swapped, rep.data, KS_REPLY_PROOF_AT);
    ks_proof_append(&swapped, KT_SESSION_PROOF_P256, pub, 64, sig.data, sig.len);
    kt_buf_append(&swapped, d.mac, KS_MAC_LEN);
    assert_int_not_equal(kt_session_handshake(i, swapped.data, swapped.len, &f), KT_OK);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_FORGED);
    assert_non_null(strstr(kt_last_error(), "MAC"));
    kt_buf_free(&h), kt_buf_free(&rep), kt_buf_free(&f), kt_buf_free(&t), kt_buf_free(&msg);
    kt_buf_free(&sig), kt_buf_free(&swapped);
    kt_session_free(i), kt_session_free(r);
}

/* ---- records ---- */

static void test_replayed_record_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Pay", "100", &rec);
    open_ok(r, &rec, "Pay", "100");
    open_refused(r, rec.data, rec.len, KT_SESSION_REPLAYED, "replayed");
    /* the session goes on */
    seal(i, "Pay", "5", &rec);
    open_ok(r, &rec, "Pay", "5");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_reordered_record_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf a = {0}, b = {0};
    seal(i, "Step", "one", &a);
    seal(i, "Step", "two", &b);
    open_refused(r, b.data, b.len, KT_SESSION_REORDERED, "out of order");
    open_ok(r, &a, "Step", "one");
    open_ok(r, &b, "Step", "two");
    kt_buf_free(&a), kt_buf_free(&b);
    kt_session_free(i), kt_session_free(r);
}

static void test_reflected_record_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Echo", "mine", &rec);
    open_refused(i, rec.data, rec.len, KT_SESSION_REFLECTED, "reflected");
    /* with the direction byte rewritten the tag fails */
    rec.data[3] = KS_DIR_R2I;
    open_refused(i, rec.data, rec.len, KT_SESSION_FORGED, "authentication failed");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_cross_session_refused(void **state)
{
    (void)state;
    kt_session *i1, *r1, *i2, *r2;
    pair_keys(&i1, &r1);
    pair_keys(&i2, &r2);
    kt_buf rec = {0};
    seal(i1, "Echo", "for session one", &rec);
    open_refused(r2, rec.data, rec.len, KT_SESSION_OTHER_SESSION, "another session");
    /* with the id rewritten to session two's, the keys differ */
    memcpy(rec.data + 4, r2->id, 16);
    open_refused(r2, rec.data, rec.len, KT_SESSION_FORGED, "authentication failed");
    kt_buf_free(&rec);
    kt_session_free(i1), kt_session_free(r1), kt_session_free(i2), kt_session_free(r2);
}

static void test_bit_flip_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Transfer", "amount=100", &rec);
    /* every bit of the record: each flip is refused, and none changes the session */
    for (size_t k = 0; k < rec.len; k++)
        for (int bit = 0; bit < 8; bit++) {
            rec.data[k] ^= (uint8_t)(1u << bit);
            char name[KT_SESSION_NAME_MAX + 1];
            kt_buf p = {0};
            kt_status st = kt_session_open(r, rec.data, rec.len, name, &p);
            if (st == KT_OK) fail_msg("flip of bit %d in byte %zu accepted", bit, k);
            assert_int_not_equal(kt_session_last_refusal(r), KT_SESSION_OK);
            kt_buf_free(&p);
            rec.data[k] ^= (uint8_t)(1u << bit);
        }
    rec.data[rec.len - 20] ^= 0x10; /* the ciphertext */
    open_refused(r, rec.data, rec.len, KT_SESSION_FORGED, "authentication failed");
    rec.data[rec.len - 20] ^= 0x10;
    rec.data[KS_RECORD_NAME_AT] ^= 0x01; /* the function name: "Uransfer" */
    open_refused(r, rec.data, rec.len, KT_SESSION_FORGED, "authentication failed");
    rec.data[KS_RECORD_NAME_AT] ^= 0x01;
    open_ok(r, &rec, "Transfer", "amount=100");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_truncation_detected(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Log", "line 1", &rec);
    open_ok(r, &rec, "Log", "line 1");
    /* the transport ends here, with no close */
    assert_fails_with(kt_session_end(r), KT_ERR_VERIFY, "truncated");
    assert_int_equal(kt_session_last_refusal(r), KT_SESSION_TRUNCATED);
    kt_session_free(i), kt_session_free(r);

    /* the same with a close: whole, and half-closed on the way */
    pair_keys(&i, &r);
    seal(i, "Log", "line 1", &rec);
    open_ok(r, &rec, "Log", "line 1");
    rec.len = 0;
    assert_int_equal(kt_session_close(i, &rec), KT_OK);
    kt_buf closing = {0};
    kt_buf_append(&closing, rec.data, rec.len);
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf p = {0};
    assert_fails_with(kt_session_open(r, closing.data, closing.len, name, &p), KT_ERR_CANCELLED,
                      "closed");
    assert_true(kt_session_peer_closed(r));
    /* nothing after the close, and the closed side seals nothing more */
    open_refused(r, closing.data, closing.len, KT_SESSION_CLOSED, "peer closed");
    rec.len = 0;
    assert_int_equal(kt_session_seal(i, "Log", "x", 1, &rec), KT_ERR_STATE);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_CLOSED);
    /* the other side's last reply and close still reach the side that closed */
    seal(r, "Log", "bye", &rec);
    open_ok(i, &rec, "Log", "bye");
    rec.len = 0;
    assert_int_equal(kt_session_close(r, &rec), KT_OK);
    assert_int_equal(kt_session_open(i, rec.data, rec.len, name, &p), KT_ERR_CANCELLED);
    assert_int_equal(kt_session_end(i), KT_OK);
    assert_int_equal(kt_session_end(r), KT_OK);
    kt_buf_free(&rec), kt_buf_free(&closing), kt_buf_free(&p);
    kt_session_free(i), kt_session_free(r);
}

static void test_malformed_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Echo", "x", &rec);
    open_refused(r, rec.data, 10, KT_SESSION_MALFORMED, "shorter");
    open_refused(r, rec.data, rec.len - 1, KT_SESSION_MALFORMED, "payload length");
    rec.data[2] = 9;
    open_refused(r, rec.data, rec.len, KT_SESSION_MALFORMED, "type 9");
    rec.data[2] = KS_DATA;
    rec.data[KS_RECORD_NAME_AT] = ' ';
    open_refused(r, rec.data, rec.len, KT_SESSION_MALFORMED, "function name");
    rec.data[KS_RECORD_NAME_AT] = 'E';
    rec.data[20] = 5; /* epoch 5 */
    open_refused(r, rec.data, rec.len, KT_SESSION_MALFORMED, "epoch 5");
    rec.data[20] = 0;
    open_ok(r, &rec, "Echo", "x");
    /* bad names are refused at sealing */
    rec.len = 0;
    assert_int_equal(kt_session_seal(i, "", "x", 1, &rec), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_session_seal(i, "two words", "x", 1, &rec), KT_ERR_INVALID_ARGUMENT);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(kt_session_seal(i, longname, "x", 1, &rec), KT_ERR_INVALID_ARGUMENT);
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);

    /* configs that cannot work are refused up front */
    kt_session *s = NULL;
    kt_session_config c = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    c.quote = make_quote;
    assert_fails_with(kt_session_new(&c, &s), KT_ERR_INVALID_ARGUMENT, "exactly one proof");
    c = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    c.peer.key_count = 0;
    assert_fails_with(kt_session_new(&c, &s), KT_ERR_INVALID_ARGUMENT, "admits nobody");
    c = key_side(KT_SESSION_INITIATOR, key_a, key_b);
    c.peer.policy = allow_sim;
    assert_fails_with(kt_session_new(&c, &s), KT_ERR_INVALID_ARGUMENT, "needs collateral");
    c = key_side((kt_session_role)3, key_a, key_b);
    assert_fails_with(kt_session_new(&c, &s), KT_ERR_INVALID_ARGUMENT, "role");
    assert_null(s);
}

static void test_too_large_refused(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    cr.max_payload = 16;
    established(&ci, &cr, &i, &r);
    kt_buf rec = {0};
    seal(i, "Big", "seventeen bytes!!", &rec);
    open_refused(r, rec.data, rec.len, KT_SESSION_TOO_LARGE, "over this side's 16");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

/* ---- keys over time ---- */

static void test_rekey_by_messages(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    ci.rekey_messages = 3;
    established(&ci, &cr, &i, &r);
    uint8_t first[32];
    memcpy(first, i->send.key, 32);
    kt_buf rec = {0}, old = {0};
    for (int k = 0; k < 10; k++) {
        seal(i, "N", "payload", &rec);
        assert_int_equal(kt_le32(rec.data + 20), (uint32_t)(k / 3));
        if (k == 2) kt_buf_append(&old, rec.data, rec.len);
        open_ok(r, &rec, "N", "payload");
    }
    assert_int_equal(i->send.epoch, 3);
    assert_int_equal(r->recv.epoch, 3);
    assert_memory_not_equal(first, i->send.key, 32);
    assert_memory_equal(i->send.key, r->recv.key, 32);
    /* the other direction keeps its own epoch */
    assert_int_equal(r->send.epoch, 0);
    /* a record of an old epoch is not accepted again */
    open_refused(r, old.data, old.len, KT_SESSION_REPLAYED, "replayed");
    kt_buf_free(&rec), kt_buf_free(&old);
    kt_session_free(i), kt_session_free(r);
}

static void test_rekey_by_bytes(void **state)
{
    (void)state;
    kt_session *i, *r;
    kt_session_config ci, cr;
    key_configs(&ci, &cr);
    cr.rekey_bytes = 100;
    established(&ci, &cr, &i, &r);
    char msg[61];
    memset(msg, 'z', 60);
    msg[60] = '\0';
    kt_buf rec = {0};
    for (int k = 0; k < 6; k++) {
        seal(r, "Chunk", msg, &rec);
        open_ok(i, &rec, "Chunk", msg);
    }
    /* 60 bytes a record: a new key after every second record */
    assert_int_equal(r->send.epoch, 2);
    assert_int_equal(i->recv.epoch, 2);
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_counter_exhaustion(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_session__test_set_seq(i, UINT64_MAX - 3, 0);
    kt_session__test_set_seq(r, 0, UINT64_MAX - 3);
    kt_buf rec = {0};
    seal(i, "Last", "1", &rec);
    open_ok(r, &rec, "Last", "1");
    seal(i, "Last", "2", &rec);
    open_ok(r, &rec, "Last", "2");
    rec.len = 0;
    assert_int_equal(kt_session_seal(i, "Last", "3", 1, &rec), KT_ERR_STATE);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_EXHAUSTED);
    assert_int_equal(rec.len, 0);
    /* the close still goes, on the last number, and ends the session whole */
    assert_int_equal(kt_session_close(i, &rec), KT_OK);
    assert_int_equal(kt_le64(rec.data + 24), UINT64_MAX - 1);
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf p = {0};
    assert_int_equal(kt_session_open(r, rec.data, rec.len, name, &p), KT_ERR_CANCELLED);
    assert_int_equal(kt_session_end(r), KT_OK);
    kt_buf_free(&rec), kt_buf_free(&p);
    kt_session_free(i), kt_session_free(r);
}

static void enclave_pair(const kt_policy *p, kt_session **i, kt_session **r)
{
    kt_session_config ci = key_side(KT_SESSION_INITIATOR, key_a, NULL);
    ci.peer.key_count = 0;
    want_enclave(&ci, p);
    kt_session_config cr = quote_side(KT_SESSION_RESPONDER, NULL, key_a);
    established(&ci, &cr, i, r);
}

static void test_expiry_ends_session(void **state)
{
    (void)state;
    kt_session *i, *r;
    enclave_pair(allow_sim, &i, &r);
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(i, &pi), KT_OK);
    assert_int_equal(kt_session_check_time(i, pi.valid_until), KT_OK);
    assert_true(kt_session_established(i));
    assert_fails_with(kt_session_check_time(i, pi.valid_until + 1), KT_ERR_DENIED, "re-attest");
    assert_false(kt_session_established(i));
    kt_buf rec = {0};
    assert_int_equal(kt_session_seal(i, "Echo", "x", 1, &rec), KT_ERR_DENIED);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_EXPIRED);
    seal(r, "Echo", "late", &rec);
    open_refused(i, rec.data, rec.len, KT_SESSION_EXPIRED, "re-attest");
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

static void test_recheck_with_stricter_policy_ends_session(void **state)
{
    (void)state;
    kt_session *i, *r;
    enclave_pair(allow_sim, &i, &r);
    kt_session_peer_rule same = {.policy = allow_sim, .collateral = coll};
    assert_int_equal(kt_session_recheck(i, &same, time(NULL)), KT_OK);
    /* collateral past its validity: the verdict no longer holds */
    kt_session_peer_info pi;
    assert_int_equal(kt_session_peer(i, &pi), KT_OK);
    assert_int_not_equal(kt_session_recheck(i, &same, pi.valid_until + 86400 * 400), KT_OK);
    assert_false(kt_session_established(i));
    kt_session_free(i), kt_session_free(r);

    enclave_pair(allow_sim, &i, &r);
    kt_policy *strict = policy("rules:\n- mrenclave: "
                               "4444444444444444444444444444444444444444444444444444444444444444\n");
    kt_session_peer_rule stricter = {.policy = strict, .collateral = coll};
    assert_int_not_equal(kt_session_recheck(i, &stricter, time(NULL)), KT_OK);
    assert_int_equal(kt_session_last_refusal(i), KT_SESSION_EXPIRED);
    kt_buf rec = {0};
    assert_int_equal(kt_session_seal(i, "Echo", "x", 1, &rec), KT_ERR_DENIED);
    kt_policy_free(strict);
    kt_session_free(i), kt_session_free(r);

    /* a key peer whose key was removed */
    pair_keys(&i, &r);
    kt_session_peer_rule other = {.keys = keys(key_m), .key_count = 1};
    assert_fails_with(kt_session_recheck(r, &other, time(NULL)), KT_ERR_DENIED, "no longer registered");
    kt_session_free(i), kt_session_free(r);
}

static void test_message_id(void **state)
{
    (void)state;
    kt_session *i, *r;
    pair_keys(&i, &r);
    kt_buf rec = {0};
    seal(i, "Echo", "x", &rec);
    uint8_t id[16];
    assert_int_equal(kt_session_message_id(rec.data, rec.len, id), KT_OK);
    assert_memory_equal(id, i->id, 16);
    assert_int_equal(kt_session_message_id(rec.data, 5, id), KT_ERR_MALFORMED);
    kt_buf_free(&rec);
    kt_session_free(i), kt_session_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_sides_round_trip),
        cmocka_unit_test(test_sm2_side),
        cmocka_unit_test(test_enclave_responder),
        cmocka_unit_test(test_mutual_attestation),
        cmocka_unit_test(test_relayed_bytes_hold_no_secret),
        cmocka_unit_test(test_handshake_keys_are_ephemeral),
        cmocka_unit_test(test_wrong_mrsigner_refused),
        cmocka_unit_test(test_simulation_not_allowed),
        cmocka_unit_test(test_debug_refused),
        cmocka_unit_test(test_quote_binding_another_key_refused),
        cmocka_unit_test(test_forged_quote_refused),
        cmocka_unit_test(test_unregistered_key_refused),
        cmocka_unit_test(test_any_key),
        cmocka_unit_test(test_replayed_reply_refused),
        cmocka_unit_test(test_downgrade_refused),
        cmocka_unit_test(test_identity_swap_refused),
        cmocka_unit_test(test_replayed_record_refused),
        cmocka_unit_test(test_reordered_record_refused),
        cmocka_unit_test(test_reflected_record_refused),
        cmocka_unit_test(test_cross_session_refused),
        cmocka_unit_test(test_bit_flip_refused),
        cmocka_unit_test(test_truncation_detected),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_too_large_refused),
        cmocka_unit_test(test_rekey_by_messages),
        cmocka_unit_test(test_rekey_by_bytes),
        cmocka_unit_test(test_counter_exhaustion),
        cmocka_unit_test(test_expiry_ends_session),
        cmocka_unit_test(test_recheck_with_stricter_policy_ends_session),
        cmocka_unit_test(test_message_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
