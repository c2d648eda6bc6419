/* kubetee session: attested sessions between enclaves and plain processes.
 *
 * A three-message handshake (Hello, Reply, Finish) over ephemeral P-256 ECDH, in which
 * each side proves itself with a quote bound to its ephemeral key, the peer's nonce and
 * the transcript (an enclave), or with a registered long-term P-256 or SM2 key (a plain
 * process); then AES-256-GCM records, strictly in order, with the session id,
 * direction, sequence number and function name authenticated. docs/protocol.md has the
 * protocol and its threat model, docs/formats.md the bytes.
 *
 * No I/O: every function consumes and produces bytes, which any transport carries. The
 * same sources build into enclaves (KT_TRUSTED) and plain processes. A session is not
 * thread-safe: one caller at a time. */
#ifndef KUBETEE_SESSION_H
#define KUBETEE_SESSION_H

#include <kubetee/attest.h>
#include <kubetee/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_SESSION_ID_LEN 16
#define KT_SESSION_NAME_MAX 255                 /* a function name's bytes */
#define KT_SESSION_PAYLOAD_DEFAULT (1u << 20)   /* max_payload when 0 */
#define KT_SESSION_PAYLOAD_MAX (64u << 20)      /* max_payload at most */
#define KT_SESSION_REKEY_MESSAGES_DEFAULT (1ull << 20)
#define KT_SESSION_REKEY_BYTES_DEFAULT (1ull << 30)

typedef struct kt_session kt_session;

typedef enum { KT_SESSION_INITIATOR = 1, KT_SESSION_RESPONDER = 2 } kt_session_role;

typedef enum {
    KT_SESSION_PROOF_QUOTE = 1, /* a DCAP quote: an enclave */
    KT_SESSION_PROOF_P256 = 2,  /* an ECDSA P-256 signature by a registered key */
    KT_SESSION_PROOF_SM2 = 3,   /* an SM2 signature by a registered key */
} kt_session_proof;

/* Makes a quote of the calling enclave carrying report_data, appended to quote. In an
 * enclave: kt_quote_create (ctx unused). */
typedef kt_status (*kt_session_quote_fn)(void *ctx, const uint8_t report_data[64], kt_buf *quote);

/* What the peer must be. A quote peer must pass kt_quote_verify against collateral and
 * then kt_policy_check against policy (NULL policy: no quote peer is accepted); the
 * collateral's trust anchor is judged by the policy first (kt_policy_check_root). Inside
 * an enclave collateral may be NULL: the host is asked for it for each quote
 * (kt_collateral_for_quote; a host program serves it with kt_attest_serve_collateral),
 * and the policy must come from the enclave's own measured data (compiled in). A key
 * peer's public key must be one of keys (none: no key peer is accepted). What the rule
 * points to must stay valid until the handshake ends (kt_session_new's rule) or until
 * the call returns (kt_session_recheck's). */
typedef struct {
    const kt_policy *policy;
    const kt_collateral *collateral;
    const kt_key *const *keys;
    size_t key_count;
    /* Any key peer that proves it holds its key (a P-256 or SM2 signature over the
     * transcript) is accepted, listed or not: the caller then decides what that key may
     * do (AECS admits any key and authorizes each operation by it). */
    bool any_key;
} kt_session_peer_rule;

typedef struct {
    kt_session_role role;
    /* this side's proof: exactly one of quote (an enclave) and key (P-256 or SM2, with
     * its private half); the session keeps the key pointer, so it outlives the session */
    kt_session_quote_fn quote;
    void *quote_ctx;
    const kt_key *key;
    kt_session_peer_rule peer;
    time_t now;               /* the time the peer's quote is verified at; inside an enclave
                                 0 means the host's clock when it is verified
                                 (kt_attest_host_time) */
    uint64_t rekey_messages;  /* records sent under one key before the next (0: default) */
    uint64_t rekey_bytes;     /* payload bytes sent under one key before the next (0: default) */
    size_t max_payload;       /* larger records are refused unopened (0: default) */
} kt_session_config;

/* Why a record or handshake message was refused (also in kt_last_error, in words). */
typedef enum {
    KT_SESSION_OK = 0,
    KT_SESSION_MALFORMED,     /* the bytes are not a message of the expected layout */
    KT_SESSION_TOO_LARGE,     /* payload over max_payload */
    KT_SESSION_OTHER_SESSION, /* the session id is another session's */
    KT_SESSION_REFLECTED,     /* our own direction: one of our records sent back */
    KT_SESSION_REPLAYED,      /* sequence below the next expected */
    KT_SESSION_REORDERED,     /* sequence above the next expected */
    KT_SESSION_FORGED,        /* authentication failed: a tag, MAC, signature or binding */
    KT_SESSION_CLOSED,        /* the session was closed */
    KT_SESSION_EXPIRED,       /* the peer's attestation expired or no longer passes */
    KT_SESSION_EXHAUSTED,     /* sequence numbers or epochs used up */
    KT_SESSION_TRUNCATED,     /* the transport ended without an authenticated close */
    KT_SESSION_PEER_REFUSED,  /* the peer's proof does not satisfy the peer rule */
    KT_SESSION_STATE,         /* the call does not fit the session's state */
} kt_session_refusal;
const char *kt_session_refusal_name(kt_session_refusal r); /* "replayed", ... */

/* What the handshake proved about the peer. */
typedef struct {
    kt_session_proof proof;
    uint8_t public_key[KT_P256_PUBLIC_LEN]; /* key peers: x||y */
    kt_tee_type tee;                        /* quote peers */
    kt_report_body enclave;                 /* SGX quote peers: measurements, prodid, svn */
    bool simulated;                         /* quote chained to a simulation root */
    kt_tcb_status tcb_status;
    time_t valid_until;                     /* quote peers: re-attest by then; key peers 0 */
} kt_session_peer_info;

/* Checks the config (one proof, a usable key, a peer rule that admits someone, limits)
 * and makes ephemeral keys. Nothing is sent yet. */
kt_status kt_session_new(const kt_session_config *cfg, kt_session **out);
void kt_session_free(kt_session *s); /* wipes every key */

/* One handshake step: in is the message received (NULL, 0 for the initiator's first
 * step); out gets what to send, appended (nothing for the responder's last step).
 *   initiator: (NULL) -> Hello;  Reply -> Finish, established
 *   responder: Hello -> Reply;   Finish -> (nothing), established
 * A refused message ends the handshake: the session can only be freed. */
kt_status kt_session_handshake(kt_session *s, const uint8_t *in, size_t n, kt_buf *out);
bool kt_session_established(const kt_session *s);

/* Seals payload for function (1..255 printable ASCII bytes) into one record, appended
 * to record. KT_ERR_STATE before the handshake or after a close or expiry. */
kt_status kt_session_seal(kt_session *s, const char *function, const void *payload, size_t n,
                          kt_buf *record);
/* The length of the record kt_session_seal makes of n payload bytes for function (0 for
 * a name or size it refuses), and the same seal written at out (exactly that many bytes
 * there: a transport's own message, so nothing is copied) with the payload given as
 * parts, one after another. */
size_t kt_session_record_len(const char *function, size_t n);
kt_status kt_session_seal_into(kt_session *s, const char *function, const kt_bytes *parts, size_t k,
                               uint8_t *out, size_t out_len);
/* Opens the peer's next record: the function name into function (NUL-terminated) and
 * the payload appended to payload. A refused record changes nothing and the reason is
 * kt_session_last_refusal. The peer's close record returns KT_ERR_CANCELLED. */
kt_status kt_session_open(kt_session *s, const uint8_t *record, size_t n,
                          char function[KT_SESSION_NAME_MAX + 1], kt_buf *payload);
/* Seals the close record; nothing can be sealed after it. */
kt_status kt_session_close(kt_session *s, kt_buf *record);
/* The transport ended: KT_OK when the peer's close was received, else the truncated
 * refusal (KT_ERR_VERIFY). */
kt_status kt_session_end(kt_session *s);
bool kt_session_peer_closed(const kt_session *s);

/* Ends the session (expired) when now is past the peer's valid_until. */
kt_status kt_session_check_time(kt_session *s, time_t now);
/* Verifies the peer's quote again (newer collateral, another policy) at now; ends the
 * session (expired) when it no longer passes. Key peers: the key must still be listed. */
kt_status kt_session_recheck(kt_session *s, const kt_session_peer_rule *rule, time_t now);

kt_session_refusal kt_session_last_refusal(const kt_session *s);
/* The session id (after the responder's Reply: both sides know it). */
kt_status kt_session_id(const kt_session *s, uint8_t id[KT_SESSION_ID_LEN]);
kt_status kt_session_peer(const kt_session *s, kt_session_peer_info *info);
/* What a refused peer's proof proved (to record it): its key when its signature over the
 * transcript verified (a key this side does not accept), or its quote's verdict when the
 * quote verified and the policy refused it (TCB, debug, identity). KT_ERR_STATE when the
 * peer proved nothing: no proof read, a malformed one, a signature or quote that does not
 * verify, a quote refused before it was verified (its collateral's root): what such a
 * proof names is anyone's to type. */
kt_status kt_session_peer_claim(const kt_session *s, kt_session_peer_info *info);
/* The session id a Finish or record names, read without a session (routing). */
kt_status kt_session_message_id(const uint8_t *msg, size_t n, uint8_t id[KT_SESSION_ID_LEN]);

#ifdef __cplusplus
}
#endif
#endif
