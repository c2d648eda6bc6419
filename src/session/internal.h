/* The session library's insides: wire layouts (wire.c), the handshake (handshake.c),
 * records (record.c), peer checks (peer.c, with the quote verifier in verify_host.c or
 * verify_trusted.c). docs/protocol.md and docs/formats.md describe the bytes. */
#ifndef KT_SESSION_INTERNAL_H
#define KT_SESSION_INTERNAL_H

#include <kubetee/session.h>

#define KS_SUITE_V1 0x0101
#define KS_OFFERS_MAX 16
#define KS_NONCE_LEN 32
#define KS_PUB_LEN 64
#define KS_MAC_LEN 32
#define KS_SIG_MAX 80

enum { KS_HELLO = 1, KS_REPLY = 2, KS_FINISH = 3, KS_DATA = 4, KS_CLOSE = 5 };
enum { KS_DIR_I2R = 1, KS_DIR_R2I = 2 };

/* Fixed offsets (docs/formats.md) */
#define KS_REPLY_PROOF_AT 118
#define KS_FINISH_PROOF_AT 20
#define KS_RECORD_NAME_AT 33
#define KS_RECORD_MIN (KS_RECORD_NAME_AT + 4 + KT_GCM_TAG_LEN)

/* ---- decoded messages: views into the bytes they were decoded from ---- */
typedef struct {
    uint8_t kind;
    const uint8_t *evidence;
    size_t evidence_len;
    const uint8_t *sig;
    size_t sig_len;
    size_t len; /* bytes the proof takes */
} ks_proof;

typedef struct {
    unsigned offer_count;
    uint16_t offers[KS_OFFERS_MAX];
    const uint8_t *nonce, *pub;
} ks_hello;

typedef struct {
    uint16_t suite;
    const uint8_t *id, *nonce, *pub;
    ks_proof proof;
    const uint8_t *mac;
    size_t mac_at; /* offset of the MAC: the bytes before it are TH2's */
} ks_reply;

typedef struct {
    const uint8_t *id;
    ks_proof proof;
    const uint8_t *mac;
    size_t mac_at;
} ks_finish;

typedef struct {
    uint8_t type, direction;
    const uint8_t *id;
    uint32_t epoch;
    uint64_t seq;
    const char *name;
    size_t name_len;
    const uint8_t *cipher;
    size_t cipher_len;
    const uint8_t *tag;
    size_t aad_len; /* the header's bytes, authenticated */
} ks_record;

/* Decoders: KT_ERR_MALFORMED naming what is wrong; nothing past n is read. */
kt_status ks_hello_decode(const uint8_t *m, size_t n, ks_hello *out);
kt_status ks_reply_decode(const uint8_t *m, size_t n, ks_reply *out);
kt_status ks_finish_decode(const uint8_t *m, size_t n, ks_finish *out);
kt_status ks_record_decode(const uint8_t *m, size_t n, ks_record *out);
/* A function name: 1..255 bytes of printable ASCII without space. */
bool ks_name_ok(const char *name, size_t n);

/* Encoders: the proof appended to out. */
kt_status ks_proof_append(kt_buf *out, uint8_t kind, const uint8_t *evidence, size_t evidence_len,
                          const uint8_t *sig, size_t sig_len);
/* A record's header (the AAD) at out, KS_RECORD_NAME_AT + name_len + 4 bytes; returns
 * how many. */
size_t ks_record_header_put(uint8_t *out, uint8_t type, uint8_t direction, const uint8_t id[16],
                            uint32_t epoch, uint64_t seq, const char *name, size_t name_len,
                            uint32_t payload_len);

/* ---- the session ---- */
typedef enum { KS_START, KS_SENT_HELLO, KS_SENT_REPLY, KS_OPEN, KS_DEAD } ks_state;

typedef struct {
    uint8_t key[KT_AES256_KEY_LEN];
    kt_aead *aead;                /* key's schedule, made at first use, freed at rekey */
    uint32_t epoch;
    uint64_t seq;                 /* next sequence number */
    uint64_t epoch_records, epoch_bytes; /* sent or received under this key */
} ks_direction;

/* Frees the direction's key schedule (a rekey, the session's end). */
void ks_direction_free(ks_direction *d);

struct kt_session {
    kt_session_role role;
    ks_state state;
    kt_session_refusal refusal;
    kt_session_quote_fn quote;
    void *quote_ctx;
    const kt_key *key;
    kt_session_peer_rule peer; /* the caller keeps what it points to until the handshake ends */
    time_t now;
    uint64_t rekey_messages, rekey_bytes;
    size_t max_payload;

    kt_key *eph;
    uint8_t eph_pub[KS_PUB_LEN], peer_pub[KS_PUB_LEN];
    uint8_t nonce[KS_NONCE_LEN], peer_nonce[KS_NONCE_LEN];
    kt_buf transcript; /* Hello, Reply, Finish as sent and received */
    uint8_t th1[32];
    uint8_t secret[32]; /* Z, until the traffic keys exist */
    uint8_t id[KT_SESSION_ID_LEN];
    bool have_id;

    ks_direction send, recv;
    bool closed, peer_closed, expired;
    kt_session_peer_info peer_info;
    kt_session_peer_info claim; /* what the peer's proof said, before it was judged */
    bool has_claim;
    kt_buf peer_quote; /* kept for kt_session_recheck */
};

/* Records a refusal on the session and fails with st and the reason. */
kt_status ks_refuse(kt_session *s, kt_session_refusal r, kt_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records a refusal whose reason is already in kt_last_error(). */
kt_status ks_mark(kt_session *s, kt_session_refusal r, kt_status st);

/* Judges the peer's proof: bound to (pub, my nonce, th), admitted by the rule. Fills
 * s->peer_info (and keeps a quote in s->peer_quote). label is what the proof signs. */
kt_status ks_peer_check(kt_session *s, const kt_session_peer_rule *rule, const ks_proof *p,
                        const char *label, const uint8_t pub[KS_PUB_LEN], const uint8_t th[32]);
/* The rule's registered key of that proof kind with that public key, or NULL. */
const kt_key *ks_registered(const kt_session_peer_rule *rule, uint8_t kind,
                            const uint8_t pub[KS_PUB_LEN]);
/* This side's proof over th, appended to out. */
kt_status ks_proof_make(kt_session *s, const char *label, const uint8_t th[32], kt_buf *out);
/* report_data for a quote proof: SHA-256(pub || nonce || th) || 32 zero bytes. */
kt_status ks_report_data(const uint8_t pub[KS_PUB_LEN], const uint8_t nonce[KS_NONCE_LEN],
                         const uint8_t th[32], uint8_t rd[64]);
/* What a key proof signs: label || th || kind || public key. */
kt_status ks_signed_message(const char *label, const uint8_t th[32], uint8_t kind,
                            const uint8_t pub[KS_PUB_LEN], kt_buf *out);

/* The quote verifier: verify_host.c (the rule's collateral) or verify_trusted.c (the
 * rule's, else the host's for this quote), both through ks_quote_judge (verify_quote.c:
 * the anchor against the policy, kt_quote_verify, kt_policy_check). info is filled once
 * the quote verified, also when the policy then refuses it (what a refused peer proved);
 * it is left as it was when the quote did not verify. */
kt_status ks_quote_check(const kt_session_peer_rule *rule, const uint8_t *quote, size_t n,
                         time_t now, kt_session_peer_info *info);
kt_status ks_quote_judge(const kt_session_peer_rule *rule, const kt_collateral *c,
                         const uint8_t *quote, size_t n, time_t now, kt_session_peer_info *info);
bool ks_quote_verifier_available(void);

/* Traffic: the handshake's end. */
kt_status ks_traffic_keys(kt_session *s, const uint8_t th4[32]);

/* Test hook (tests/unit only, not in the public header): sets the next sequence number
 * of both directions so counter exhaustion can be reached. */
void kt_session__test_set_seq(kt_session *s, uint64_t send, uint64_t recv);

#endif
