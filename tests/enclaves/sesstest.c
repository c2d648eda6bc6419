/* The session test enclave: the responder side of an attested session, built with the
 * trusted session library. It proves itself with its own quote (kt_quote_create, the
 * host only relays the QE's bytes) and accepts one registered client key; its session
 * keys never leave it. The host relays Hello, Reply, Finish and records. */
#include <kubetee/session.h>
#include <kubetee/trusted.h>
#include "tfftest.pb-c.h"

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

/* The session can be built here only with key peers: a policy is refused, saying why. */
static kt_status quote_peer(const Tfftest__Empty *req, Tfftest__Text *res)
{
    (void)req;
    static const kt_key *none[1];
    kt_session_config c = {.role = KT_SESSION_INITIATOR, .quote = quote};
    c.peer.policy = (const kt_policy *)none; /* any non-NULL policy */
    c.peer.collateral = (const kt_collateral *)none;
    kt_session *s = NULL;
    kt_status st = kt_session_new(&c, &s);
    kt_session_free(s);
    res->text = kt_call_strdup(st ? kt_last_error() : "accepted");
    return KT_OK;
}
KT_TRUSTED_FUNCTION(quote_peer, "QuotePeer", Tfftest__Empty, tfftest__empty, Tfftest__Text,
                    tfftest__text)

/* Frees the session and the client key (the test's teardown). */
static kt_status drop(const Tfftest__Empty *req, Tfftest__Empty *res)
{
    (void)req, (void)res;
    kt_session_free(session);
    session = NULL;
    kt_key_free(client);
    client = NULL;
    return KT_OK;
}
KT_TRUSTED_FUNCTION(drop, "SessionDrop", Tfftest__Empty, tfftest__empty, Tfftest__Empty,
                    tfftest__empty)
