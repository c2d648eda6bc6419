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

typedef struct kt_aecs_client kt_aecs_client;

typedef struct {
    const char *address;              /* the AECS enclave service, host:port */
    const kt_key *key;                /* who the caller is: a P-256 or SM2 private key */
    const kt_policy *policy;          /* which AECS enclave the caller accepts */
    const kt_collateral *collateral;  /* to verify its quote against */
    unsigned timeout_ms;              /* each RPC (0: 30 s) */
} kt_aecs_client_config;

/* Connects and runs the handshake: KT_ERR_DENIED (the enclave fails the policy) or the
 * transport's error; nothing is sent to an enclave that does not pass. The config's key,
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

/* Verifies AECS audit lines (docs/aecs.md "Audit log"), each ending in '\n': every line in
 * order, chained to the one before, its hash right and signed by identity (the AECS
 * enclave's key, x||y). The chain starts after from_seq, whose hash is from_hash (0 and
 * NULL: the file's beginning); lines up to from_seq before the first one checked are
 * skipped. *lines is how many passed and last_seq, last_hash where they end; the first
 * line that does not pass is named in the reason. Built into the AECS enclave too. */
kt_status kt_aecs_audit_verify(const uint8_t *text, size_t n, const uint8_t identity[64], uint64_t from_seq,
                               const uint8_t from_hash[32], size_t *lines, uint64_t *last_seq,
                               uint8_t last_hash[32]);

#ifdef __cplusplus
}
#endif
#endif
