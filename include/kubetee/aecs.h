/* kubetee aecs: a client of AECS, the attestation-based secret service (docs/aecs.md).
 *
 * Host side (kt_aecs_client): a plain process (aecsadmin, serviceadmin) proves itself with
 * its P-256 or SM2 key in an attested session with the AECS enclave, whose quote it
 * verifies against a policy first; then it calls AECS's operations (proto/aecs.proto) by
 * name through that session. The AECS host relays bytes it can neither read nor change.
 *
 *   kt_aecs_client *c;
 *   kt_aecs_client_config cfg = {.address = "127.0.0.1:7443", .key = k, .policy = p, .collateral = coll};
 *   kt_aecs_client_new(&cfg, &c);
 *   Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
 *   ProtobufCMessage *rs;
 *   kt_aecs_call(c, "Status", &rq.base, &kubetee__aecs__v1__status_response__descriptor, &rs);
 *   ... protobuf_c_message_free_unpacked(rs, NULL);
 *   kt_aecs_client_free(c);
 */
#ifndef KUBETEE_AECS_H
#define KUBETEE_AECS_H

#include <kubetee/attest.h>
#include <kubetee/crypto.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KT_TRUSTED
typedef struct kt_aecs_client kt_aecs_client;

typedef struct {
    const char *address;              /* the AECS enclave service, host:port */
    const kt_key *key;                /* who the caller is: a P-256 or SM2 private key */
    const kt_policy *policy;          /* which AECS enclave the caller accepts */
    const kt_collateral *collateral;  /* to verify its quote against */
    unsigned timeout_ms;              /* each RPC after the session is made (0: 30 s) */
    unsigned connect_timeout_ms;      /* making the session: connecting, the attested handshake
                                         and the instance's proof, each call of them (0: 30 s) */
    const uint8_t *instance;          /* the AECS instance key (x||y, 64 bytes) to pin; NULL:
                                         any instance, i.e. whoever initialised this AECS */
} kt_aecs_client_config;

/* Connects and runs the handshake: KT_ERR_DENIED (the enclave fails the policy, or with
 * instance set, AECS does not prove that instance over the session: Status with a fresh
 * nonce, before anything else), KT_ERR_TIMEOUT (no answer within connect_timeout_ms,
 * named) or the transport's error; nothing is sent to an enclave that does not pass. The
 * config's key,
 * policy and collateral must outlive the client. */
kt_status kt_aecs_client_new(const kt_aecs_client_config *cfg, kt_aecs_client **out);

/* Calls aecs.<op> with req and unpacks its response (of type res_type) into *res, which
 * the caller frees with protobuf_c_message_free_unpacked(*res, NULL). AECS's refusal
 * comes back as its status with its reason in kt_last_error(). */
kt_status kt_aecs_call(kt_aecs_client *c, const char *op, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *res_type, ProtobufCMessage **res);

/* What the handshake proved about the AECS enclave (its measurements). */
kt_status kt_aecs_client_peer(const kt_aecs_client *c, kt_report_body *enclave);

/* Closes the session (the enclave's close is awaited) and frees. */
void kt_aecs_client_free(kt_aecs_client *c);
#endif

/* Verifies AECS audit lines (docs/aecs.md "Audit log"), each ending in '\n': every line in
 * order, chained to the one before (its prev and its hash right). A line carries a
 * signature by identity (the AECS enclave's key, x||y) over its hash at checkpoints only;
 * that signature covers it and every line before it. The chain starts after from_seq,
 * whose hash is from_hash (0 and NULL: the file's beginning); lines up to from_seq before
 * the first one checked are skipped. head (or NULL) is a chain head whose signature the
 * caller checked (aecs.AuditHead's answer): the line it names counts as signed. The first
 * line that does not pass is named in the reason; *r says what passed. Lines no signature
 * covers are NOT verified (a host can append such lines: the chain's hash is no secret):
 * r->unsigned_tail after the last checkpoint, r->abandoned where the chain went on from
 * before them (a restart after AECS stopped before its next checkpoint). A signed
 * "Restored" line takes the chain up from the checkpoint it names (r->restores). Built
 * into the AECS enclave too. */
typedef struct {
    uint64_t seq;
    uint8_t hash[32];
} kt_aecs_audit_head;
typedef struct {
    size_t lines;          /* lines that chain and a signature covers */
    uint64_t seq;          /* the last of them (from_seq when none) */
    uint8_t hash[32];
    size_t unsigned_tail;  /* lines after it that chain but no signature covers */
    uint64_t tail_seq;     /* where the chain ends, the unsigned tail included */
    uint8_t tail_hash[32];
    size_t abandoned;      /* unsigned lines the chain left behind at a restart */
    uint64_t abandoned_first, abandoned_last; /* the range of the first such run */
    bool head_seen;        /* a line matched head */
    /* restores: signed "Restored" lines, where a restored AECS (docs/aecs.md "Restore")
     * took the chain up again from its store's checkpoint (seq restored_from, hash
     * restored_hash: the last such); lines another machine wrote after that checkpoint
     * are another branch of the chain */
    size_t restores;
    uint64_t restored_from;
    uint8_t restored_hash[32];
} kt_aecs_audit_result;
kt_status kt_aecs_audit_verify(const uint8_t *text, size_t n, const uint8_t identity[64], uint64_t from_seq,
                               const uint8_t from_hash[32], const kt_aecs_audit_head *head,
                               kt_aecs_audit_result *r);

/* getpub's signed message (AECS's enclave identity key, P-256, signs it):
 *   "kubetee.aecs.getpub.v2" || u8 len || nonce || u8 len || service || u8 len || name
 *   || u32le SecretType || u64le version || u32le len || public PEM
 * A verifier builds it from the service and name it asked about, so an answer about
 * another service's or secret's key does not verify. Appended to out. */
#define KT_AECS_GETPUB_LABEL "kubetee.aecs.getpub.v2"
kt_status kt_aecs_getpub_message(const char *service, const char *name, uint32_t type, uint64_t version,
                                 const uint8_t *nonce, size_t nonce_len, const uint8_t *pem, size_t pem_len,
                                 kt_buf *out);

/* The AECS instance: a P-256 key AECS makes at init, sealed with its storage key (so it
 * lives through restarts and a restore onto another machine; a new init makes a new
 * one). Status with a nonce proves it over the session:
 *   "kubetee.aecs.instance.v1" || session id (16) || u8 len || nonce (16..64) || instance (x||y)
 * A client that pins the instance refuses an AECS that cannot prove it; one that does not
 * trusts whoever initialised the AECS it reaches. */
#define KT_AECS_INSTANCE_LABEL "kubetee.aecs.instance.v1"
kt_status kt_aecs_instance_message(const uint8_t session_id[16], const uint8_t *nonce, size_t nonce_len,
                                   const uint8_t instance[64], kt_buf *out);
/* A client's check of Status's answer to its fresh nonce: KT_ERR_DENIED unless the
 * instance AECS names (got, got_len) is the pinned one and sig is its signature of that
 * message over this client's session id. The reason names both keys (a prefix). */
kt_status kt_aecs_instance_check(const uint8_t pin[64], const uint8_t *got, size_t got_len,
                                 const uint8_t session_id[16], const uint8_t *nonce, size_t nonce_len,
                                 const uint8_t *sig, size_t sig_len);

/* aecs.SignBatch's bounds (docs/aecs.md "Never-export keys"): 1..64 messages in one
 * request, 64 KiB of them together; the TA library and AECS each check them before any
 * other work. */
#define KT_AECS_SIGN_BATCH_MAX 64
#define KT_AECS_SIGN_BATCH_BYTES (64 * 1024)

#ifdef KT_TRUSTED
/* ---- in an enclave: a trusted application (library kt_aecs_ta_trusted) ----
 * A TA proves itself to AECS by its quote in the session handshake (verified inside the
 * AECS enclave, its platform judged by the TA platform policy the AECS admin set) and
 * verifies the AECS enclave's quote against a policy compiled into the TA (measured: no
 * host chooses it). Then each secret's own rules judge the TA's verified report body.
 * The session runs over kt_service_client's enclave build: the TA's host program serves
 * the OCALLs kt.service.Relay (kt_service_relay_serve) and kt.attest.Collateral/Time
 * (kt_attest_serve_collateral) and sees only ciphertext.
 *
 *   static const char aecs_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"..\","
 *                                     "\"rules\":[{\"mrenclave\":\"..\"}]}";
 *   kt_policy *p;  kt_policy_parse(aecs_policy, strlen(aecs_policy), &p);
 *   kt_aecs_ta *ta;
 *   kt_aecs_ta_connect("127.0.0.1:7443", p, &ta);          (p may be freed after it)
 *   kt_aecs_secret *k;
 *   kt_aecs_ta_get(ta, "payments", "db-key", 0, &k);     ... k->data, k->len ...
 *   kt_aecs_secret_free(k);                               (wiped)
 *   kt_aecs_ta_close(ta);
 */
#include <kubetee/session.h>

typedef struct kt_aecs_ta kt_aecs_ta;

/* A secret as AECS handed it over, in enclave memory; kt_aecs_secret_free wipes it. */
typedef struct {
    uint8_t *data;
    size_t len;
    uint64_t version;  /* the version handed over */
    const char *type;  /* "SECRET_TYPE_AES256_KEY", ... (static text) */
} kt_aecs_secret;

/* Connects to AECS at target (what the host relays to, "host:port") and runs the
 * handshake: KT_ERR_DENIED when the AECS enclave fails aecs (nothing is sent to it then)
 * or when AECS refuses this TA (its platform, with AECS's reason); the transport's error
 * otherwise. aecs is needed only during the call. */
kt_status kt_aecs_ta_connect(const char *target, const kt_policy *aecs, kt_aecs_ta **out);
/* The same, and then AECS must prove the instance key instance (x||y) over this session
 * (Status with a fresh nonce) before anything else is sent: KT_ERR_DENIED otherwise, and
 * the session is closed. Without a pin a TA trusts whoever initialised the AECS it
 * reaches (the host can empty the store and init its own). The pin must be measured or
 * otherwise bound (compiled into the TA, or sealed by it), never what its host hands in. */
kt_status kt_aecs_ta_connect_pinned(const char *target, const kt_policy *aecs, const uint8_t instance[64],
                                    kt_aecs_ta **out);
/* AECS ends a TA's session when its attestation's validity runs out, and at AECS's maximum
 * session age or idle time (docs/aecs.md "TA sessions"), refusing the request before
 * running it and saying so in the session (sealed: KT_SERVICE_ENDED_EXPIRED). Each call
 * below told so reconnects once, by itself (a new handshake: AECS's quote verified against
 * a copy of the policy given at connect, the pin proved again) and sends the request again
 * in the new session; when that reconnect fails, the call fails saying both why the
 * session ended and why the reconnect failed. A call that fails any other way (the host's
 * doing) is never sent again; the next call starts a new session first. How many
 * reconnects this TA made: */
unsigned kt_aecs_ta_reconnects(const kt_aecs_ta *ta);

/* aecs.GetSecret: the secret service/name (version 0: the newest) when one of its rules
 * admits this TA's verified identity; AECS's refusal comes back as its status with its
 * reason in kt_last_error(). */
kt_status kt_aecs_ta_get(kt_aecs_ta *ta, const char *service, const char *name, uint64_t version,
                         kt_aecs_secret **out);

/* TA-bound secrets: owned by one of this TA's verified identities, chosen by bind (the
 * values come from the TA's quote, never from the request), invisible to every other TA.
 * Quotas apply (AECS's TA secrets quota, its data size limit). */
typedef enum {
    KT_AECS_BIND_MRENCLAVE = 1, /* only this exact enclave */
    KT_AECS_BIND_MRSIGNER = 2,  /* any enclave of this signer and product id (ISVPRODID) */
} kt_aecs_bind;

typedef struct {
    kt_aecs_bind bind;
    const char *name;          /* [A-Za-z0-9][A-Za-z0-9._-], at most 64 bytes */
    const char *type;          /* "SECRET_TYPE_AES256_KEY", "SECRET_TYPE_RSA_KEY_PAIR", ... */
    const char *const *params; /* key, value, key, value, ..., NULL (bit_length, pkcs_type,
                                  subject, days); NULL: none */
    const uint8_t *data;       /* IMPORT_DATA, CONFIGURATIONS, an imported CERTIFICATE */
    size_t len;
} kt_aecs_ta_spec;

/* aecs.TaCreateSecret: KT_ERR_EXISTS when this identity has a secret of that name. The
 * new secret is version 1; *out (NULL: not wanted) gets its data. */
kt_status kt_aecs_ta_create(kt_aecs_ta *ta, const kt_aecs_ta_spec *spec, kt_aecs_secret **out);
/* aecs.TaGetSecret: this identity's own secret (version 0: the newest). */
kt_status kt_aecs_ta_get_own(kt_aecs_ta *ta, kt_aecs_bind bind, const char *name, uint64_t version,
                             kt_aecs_secret **out);
/* aecs.TaDestroySecret: this identity's own secret, every version. */
kt_status kt_aecs_ta_destroy(kt_aecs_ta *ta, kt_aecs_bind bind, const char *name);

/* Any other AECS operation by name (aecs.<op>), as kt_aecs_call: *res is freed with
 * protobuf_c_message_free_unpacked(*res, NULL); wipe what it holds of a secret first. */
kt_status kt_aecs_ta_call(kt_aecs_ta *ta, const char *op, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *res_type, ProtobufCMessage **res);

/* A never-export key of service/name used in place (docs/aecs.md "Never-export keys"):
 * op is "Sign", "Encrypt", "Decrypt", "Wrap" or "Unwrap"; version 0 is the newest. The
 * output (a signature, ciphertext, plaintext, wrapped or unwrapped key) is appended to out,
 * the key version used goes to *used and the algorithm's name ("ecdsa-p256-sha256", ...)
 * to alg (each NULL: not wanted). */
#define KT_AECS_ALG_MAX 32
kt_status kt_aecs_ta_use(kt_aecs_ta *ta, const char *op, const char *service, const char *name, uint64_t version,
                         const uint8_t *in, size_t n, const uint8_t *aad, size_t aad_n, kt_buf *out, uint64_t *used,
                         char alg[KT_AECS_ALG_MAX]);

/* aecs.SignBatch: the n messages msgs[0..n) (each hashed inside, as Sign's input) signed
 * with the never-export key service/name (version 0: the newest) in one request, one
 * decision and one audit line. sigs is n empty buffers; sigs[i] gets msgs[i]'s signature
 * in the key's scheme (alg). n is 1..KT_AECS_SIGN_BATCH_MAX and the messages are at most
 * KT_AECS_SIGN_BATCH_BYTES together, checked before anything is sent. All or nothing: a
 * refusal (the TA may not use the key, a bound, a transport error) leaves every sigs[i]
 * empty. */
kt_status kt_aecs_ta_sign_batch(kt_aecs_ta *ta, const char *service, const char *name, uint64_t version,
                                const kt_bytes *msgs, size_t n, kt_buf *sigs, uint64_t *used,
                                char alg[KT_AECS_ALG_MAX]);

/* What the handshake proved about the AECS enclave. */
kt_status kt_aecs_ta_peer(const kt_aecs_ta *ta, kt_report_body *aecs);

/* The authenticated close (its outcome returned), then frees; NULL is nothing. */
kt_status kt_aecs_ta_close(kt_aecs_ta *ta);

/* Wipes the data and frees; NULL is nothing. */
void kt_aecs_secret_free(kt_aecs_secret *s);
#endif

/* ---- configurations (SECRET_TYPE_CONFIGURATIONS; docs/formats.md "AECS configurations") ----
 * Key-value pairs. AECS keeps them, and a TA gets them, in the original AECS's JSON form
 * {"items":[{"key":"k","value":"v"},...]} ({} when there are none); a service admin may
 * send that form or key=value lines (blank lines and lines starting with '#' skipped).
 * Keys are 1..KT_AECS_CONFIG_KEY_MAX bytes of [A-Za-z0-9._:/-], each given once; values
 * are UTF-8 with no control byte but tab and newline (in lines, no newline). Built into
 * the AECS enclave too. */
#define KT_AECS_CONFIG_KEY_MAX 128
#define KT_AECS_CONFIG_VALUE_MAX 4096
#define KT_AECS_CONFIG_ITEMS_MAX 256
typedef struct {
    char *key, *value; /* NUL-terminated */
} kt_aecs_config_item;
typedef struct {
    kt_aecs_config_item *items; /* in the order given */
    size_t count;
} kt_aecs_config;
/* Either form; on failure out is empty and the reason names the item or line. */
kt_status kt_aecs_config_parse(const uint8_t *data, size_t n, kt_aecs_config *out);
/* One more pair (checked; a key already there is refused). */
kt_status kt_aecs_config_add(kt_aecs_config *c, const char *key, size_t key_len, const char *value, size_t n);
kt_status kt_aecs_config_key_check(const char *key, size_t n);
/* The original's JSON, compact, appended to out. */
kt_status kt_aecs_config_to_json(const kt_aecs_config *c, kt_buf *out);
void kt_aecs_config_free(kt_aecs_config *c); /* wipes the values */

#ifdef __cplusplus
}
#endif
#endif
