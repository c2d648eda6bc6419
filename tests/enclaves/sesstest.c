/* The session test enclave: the responder side of an attested session, built with the
 * trusted session library. It proves itself with its own quote (kt_quote_create, the
 * host only relays the QE's bytes) and accepts one registered client key; its session
 * keys never leave it. The host relays Hello, Reply, Finish and records. */
#include <kubetee/session.h>
#include <kubetee/trusted.h>
#include "tfftest.pb-c.h"

#include <stdlib.h>
#include <string.h>

static kt_session *session;
static kt_key *client;

static kt_status quote(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    return kt_quote_create(rd, out);
}

static kt_status reply_bytes(Tfftest__Bytes *res, const kt_buf *b)
{
    return b->len ? kt_call_bytes(&res->data, b->data, b->len) : KT_OK;
}

/* client key (x||y, 64 bytes) || Hello -> Reply */
static kt_status accept(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    if (req->data.len < 64) return kt_fail(KT_ERR_MALFORMED, "accept: no client key");
    kt_session_free(session);
    session = NULL;
    kt_key_free(client);
    client = NULL;
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, req->data.data, 64, &client);
    if (st) return st;
    static const kt_key *keys[1];
    keys[0] = client;
    kt_session_config c = {.role = KT_SESSION_RESPONDER, .quote = quote};
    c.peer.keys = keys;
    c.peer.key_count = 1;
    kt_buf out = {0};
    if (!(st = kt_session_new(&c, &session)) &&
        !(st = kt_session_handshake(session, req->data.data + 64, req->data.len - 64, &out)))
        st = reply_bytes(res, &out);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(accept, "SessionAccept", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

static kt_status finish(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    (void)res;
    if (!session) return kt_fail(KT_ERR_STATE, "finish: no session");
    kt_buf out = {0};
    kt_status st = kt_session_handshake(session, req->data.data, req->data.len, &out);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(finish, "SessionFinish", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

/* A record for "Echo" -> a record answering it with "enclave:" and the payload; the
 * refusal's name is the failure's reason otherwise. */
static kt_status call(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    if (!session) return kt_fail(KT_ERR_STATE, "call: no session");
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf in = {0}, msg = {0}, out = {0};
    kt_status st = kt_session_open(session, req->data.data, req->data.len, name, &in);
    if (st == KT_ERR_CANCELLED) {
        /* the client closed: close our side too */
        st = kt_session_close(session, &out);
        if (!st) st = reply_bytes(res, &out);
    } else if (st) {
        st = kt_fail(st, "refused: %s", kt_session_refusal_name(kt_session_last_refusal(session)));
    } else if (strcmp(name, "Echo")) {
        st = kt_fail(KT_ERR_NOT_FOUND, "no function %s", name);
    } else if (!(st = kt_buf_append(&msg, "enclave:", 8)) &&
               !(st = kt_buf_append(&msg, in.data, in.len)) &&
               !(st = kt_session_seal(session, "Echo", msg.data, msg.len, &out))) {
        st = reply_bytes(res, &out);
    }
    kt_buf_free(&in), kt_buf_free(&msg), kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(call, "SessionCall", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

/* ---- mutual attestation: this enclave verifies its peer's quote itself ----
 * Its policies are compiled in (measured): the host picks one by name, never writes one.
 * The simulation root and the signer they pin come from the build (sesstest_pins.h). */
#include "sesstest_pins.h"

#define PEER_RULE "\"rules\":[{\"mrsigner\":\"" SIGNER_MRSIGNER "\",\"isvprodid\":3}]"
#define SIM "\"allow_simulation\":true,\"simulation_root\":\"" SIM_ROOT_SHA256 "\","
static const struct {
    const char *name, *json;
} policies[] = {
    {"peer", "{" SIM PEER_RULE "}"},
    {"service", "{" SIM "\"rules\":[{\"mrsigner\":\"" SIGNER_MRSIGNER "\",\"isvprodid\":1}]}"},
    {"peer-debug", "{" SIM "\"rules\":[{\"mrsigner\":\"" SIGNER_MRSIGNER
                   "\",\"isvprodid\":3,\"allow_debug\":true}]}"},
    {"wrong-mrsigner",
     "{" SIM "\"rules\":[{\"mrsigner\":\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\"}]}"},
    {"other-mrenclave",
     "{" SIM "\"rules\":[{\"mrenclave\":\"0000000000000000000000000000000000000000000000000000000000000001\"}]}"},
    {"no-simulation", "{" PEER_RULE "}"},
    {"any-simulation-root", "{\"allow_simulation\":true," PEER_RULE "}"},
};

static kt_status policy_named(const char *name, kt_policy **out)
{
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
        if (!strcmp(policies[i].name, name))
            return kt_policy_parse(policies[i].json, strlen(policies[i].json), out);
    return kt_fail(KT_ERR_NOT_FOUND, "no compiled-in policy named %s", name);
}

static kt_session *mutual;
static kt_policy *mutual_policy;

/* A responder gone wrong, for the test of the binding: its quote carries other report
 * data than the handshake's (another key, another transcript). */
static kt_status quote_other(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    uint8_t other[64];
    memcpy(other, rd, 64);
    other[0] ^= 1;
    return kt_quote_create(other, out);
}

static void mutual_drop(void)
{
    kt_session_free(mutual);
    mutual = NULL;
    kt_policy_free(mutual_policy);
    mutual_policy = NULL;
}

/* A session proving itself by quote and verifying the peer's under a compiled-in policy,
 * with collateral the host hands over for the peer's quote (none in the rule). */
static kt_status mutual_new(kt_session_role role, const char *policy)
{
    mutual_drop();
    bool bind_other = !strncmp(policy, "bind-other:", 11);
    kt_status st = policy_named(bind_other ? policy + 11 : policy, &mutual_policy);
    if (st) return st;
    /* now 0: the host's time */
    kt_session_config c = {.role = role, .quote = bind_other ? quote_other : quote};
    c.peer.policy = mutual_policy;
    return kt_session_new(&c, &mutual);
}

/* PeerRequest{policy} -> Hello */
static kt_status mutual_hello(const Tfftest__PeerRequest *req, Tfftest__Bytes *res)
{
    kt_buf out = {0};
    kt_status st = mutual_new(KT_SESSION_INITIATOR, req->policy);
    if (!st) st = kt_session_handshake(mutual, NULL, 0, &out);
    if (!st) st = reply_bytes(res, &out);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(mutual_hello, "MutualHello", Tfftest__PeerRequest, tfftest__peer_request,
                    Tfftest__Bytes, tfftest__bytes)

/* PeerRequest{policy, Hello} -> Reply */
static kt_status mutual_accept(const Tfftest__PeerRequest *req, Tfftest__Bytes *res)
{
    kt_buf out = {0};
    kt_status st = mutual_new(KT_SESSION_RESPONDER, req->policy);
    if (!st) st = kt_session_handshake(mutual, req->data.data, req->data.len, &out);
    if (!st) st = reply_bytes(res, &out);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(mutual_accept, "MutualAccept", Tfftest__PeerRequest, tfftest__peer_request,
                    Tfftest__Bytes, tfftest__bytes)

/* the next handshake message: Reply -> Finish (initiator), Finish -> nothing (responder) */
static kt_status mutual_step(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    if (!mutual) return kt_fail(KT_ERR_STATE, "mutual: no session");
    kt_buf out = {0};
    kt_status st = kt_session_handshake(mutual, req->data.data, req->data.len, &out);
    if (!st) st = reply_bytes(res, &out);
    kt_buf_free(&out);
    if (st && kt_session_last_refusal(mutual))
        st = kt_fail_context(st, "refused (%s)",
                             kt_session_refusal_name(kt_session_last_refusal(mutual)));
    return st;
}
KT_TRUSTED_FUNCTION(mutual_step, "MutualStep", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

/* payload -> a record for "Echo" */
static kt_status mutual_seal(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    if (!mutual) return kt_fail(KT_ERR_STATE, "mutual: no session");
    kt_buf out = {0};
    kt_status st = kt_session_seal(mutual, "Echo", req->data.data, req->data.len, &out);
    if (!st) st = reply_bytes(res, &out);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(mutual_seal, "MutualSeal", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

/* a record -> its payload, in the clear for the test to see (a test enclave's choice) */
static kt_status mutual_open(const Tfftest__Bytes *req, Tfftest__Bytes *res)
{
    if (!mutual) return kt_fail(KT_ERR_STATE, "mutual: no session");
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf in = {0};
    kt_status st = kt_session_open(mutual, req->data.data, req->data.len, name, &in);
    if (!st) st = reply_bytes(res, &in);
    kt_buf_free(&in);
    return st;
}
KT_TRUSTED_FUNCTION(mutual_open, "MutualOpen", Tfftest__Bytes, tfftest__bytes, Tfftest__Bytes,
                    tfftest__bytes)

/* what the handshake proved of the peer */
static kt_status mutual_peer(const Tfftest__Empty *req, Tfftest__ReportInfo *res)
{
    (void)req;
    kt_session_peer_info pi;
    if (!mutual) return kt_fail(KT_ERR_STATE, "mutual: no session");
    kt_status st = kt_session_peer(mutual, &pi);
    if (st) return st;
    if ((st = kt_call_bytes(&res->mrenclave, pi.enclave.mrenclave, 32)) ||
        (st = kt_call_bytes(&res->mrsigner, pi.enclave.mrsigner, 32)))
        return st;
    res->prodid = pi.enclave.prodid;
    res->svn = pi.enclave.svn;
    res->debug = pi.simulated; /* reused: whether the peer's quote is simulated */
    return KT_OK;
}
KT_TRUSTED_FUNCTION(mutual_peer, "MutualPeer", Tfftest__Empty, tfftest__empty, Tfftest__ReportInfo,
                    tfftest__report_info)

/* The verifier on its own: a quote against a bundle the host hands over at a time it
 * gives, optionally then a compiled-in policy. */
static kt_status verify_bundle(const Tfftest__VerifyRequest *req, Tfftest__VerifyReply *res)
{
    kt_collateral *c = NULL;
    kt_policy *p = NULL;
    kt_verdict *v = calloc(1, sizeof *v);
    if (!v) return kt_fail(KT_ERR_NO_MEMORY, "verdict");
    kt_status st = kt_collateral_from_bundle(req->bundle.data, req->bundle.len, &c);
    if (!st && req->policy[0]) st = policy_named(req->policy, &p);
    if (!st && p) st = kt_policy_check_root(p, c);
    if (!st) st = kt_quote_verify(req->quote.data, req->quote.len, c, (time_t)req->at, v);
    if (!st && v->ok && p) st = kt_policy_check(p, v);
    if (!st) {
        res->ok = v->ok;
        res->simulated = v->simulated;
        res->tcb_status = kt_call_strdup(kt_tcb_status_name(v->tcb_status));
        res->reason = kt_call_strdup(v->reason);
    } else {
        res->ok = false;
        res->reason = kt_call_strdup(kt_last_error());
        res->tcb_status = kt_call_strdup("");
        st = KT_OK;
    }
    kt_policy_free(p);
    kt_collateral_free(c);
    free(v);
    return st;
}
KT_TRUSTED_FUNCTION(verify_bundle, "VerifyBundle", Tfftest__VerifyRequest, tfftest__verify_request,
                    Tfftest__VerifyReply, tfftest__verify_reply)

/* Frees the session and the client key (the test's teardown). */
static kt_status drop(const Tfftest__Empty *req, Tfftest__Empty *res)
{
    (void)req, (void)res;
    kt_session_free(session);
    session = NULL;
    kt_key_free(client);
    client = NULL;
    mutual_drop();
    return KT_OK;
}
KT_TRUSTED_FUNCTION(drop, "SessionDrop", Tfftest__Empty, tfftest__empty, Tfftest__Empty,
                    tfftest__empty)
