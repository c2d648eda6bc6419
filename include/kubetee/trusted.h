/* TFF, enclave side: what trusted code uses.
 *
 *   static kt_status say_hello(const Hello__Request *req, Hello__Reply *res) { ... }
 *   KT_TRUSTED_FUNCTION(say_hello, "SayHello", Hello__Request, hello__request,
 *                       Hello__Reply, hello__reply)
 *
 * A remote function is reached only through an attested session (the enclave service),
 * never by ECALL; the host cannot call it:
 *   KT_REMOTE_FUNCTION(say_hello, "SayHello", Hello__Request, hello__request,
 *                      Hello__Reply, hello__reply)
 *
 * Trusted code has no OS: no files, sockets, clock or environment. It reaches the host
 * only through kt_ocall, and `kubetee sign` refuses an enclave that imports an OS call.
 */
#ifndef KUBETEE_TRUSTED_H
#define KUBETEE_TRUSTED_H

#include <kubetee/image.h>
#include <kubetee/tff_common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers a trusted function (an ECALL target). Thread-safe. KT_ERR_EXISTS when the
 * name is taken. Names starting with "kt." are the runtime's. */
kt_status kt_trusted_register(const kt_function *f);

/* Defines and registers a trusted function when the enclave loads. The function's type
 * is checked at compile time against Req and Res. */
#define KT_TRUSTED_FUNCTION(fn, name, Req, req_prefix, Res, res_prefix)                            \
    KT__FUNCTION(kt_trusted_register, fn, name, Req, req_prefix, Res, res_prefix)

/* ---- remote functions ----
 * Registers a remote function: one the enclave service may call for a session's peer,
 * kept in a table of its own, apart from the ECALL table, so a lookup by name there can
 * only ever return a function marked remote. Its name travels in session records: 1 to
 * 255 printable ASCII bytes, no space. A name is trusted or remote, never both; names
 * starting with "kt." are the runtime's. Thread-safe. */
kt_status kt_remote_register(const kt_function *f);

#define KT_REMOTE_FUNCTION(fn, name, Req, req_prefix, Res, res_prefix)                             \
    KT__FUNCTION(kt_remote_register, fn, name, Req, req_prefix, Res, res_prefix)

/* The remote function of that name, with its request and response descriptors (what a
 * JSON client maps by); NULL for every other name, trusted functions' included. */
const kt_function *kt_remote_find(const char *name);
/* The remote functions, in registration order: kt_remote_at(i) for i < kt_remote_count(). */
size_t kt_remote_count(void);
const kt_function *kt_remote_at(size_t i);
/* Runs the remote function name on a packed request in enclave memory, as an ECALL is
 * run (size limit, types, unpack, the function, pack), and gives its packed response in
 * res (empty on entry; the caller frees it with kt_buf_free). req_type and res_type are
 * the message types the caller packed and expects; NULL for one the caller took from
 * this enclave's own descriptors. KT_ERR_GATE_NO_FUNCTION for a name not marked remote,
 * other KT_ERR_GATE_* as for an ECALL, else the function's status and reason. */
kt_status kt_remote_dispatch(const char *name, const char *req_type, const char *res_type,
                             const uint8_t *req, size_t n, kt_buf *res);

/* One remote call as the enclave service runs it inside a session: function is the
 * record's (authenticated) function name, payload a kubetee.enclave.v1.Invocation (the
 * request and response type names, both required, and the packed request); result gets
 * the kubetee.enclave.v1.CallResult to seal into the reply: the response, or the status
 * and reason of the gate (a payload that is no Invocation, a name not marked remote, a
 * type mismatch, ...) or of the function. Fails only when memory runs out. */
kt_status kt_remote_invoke(const char *function, const uint8_t *payload, size_t n, kt_buf *result);

/* Calls an untrusted function on the host by name. res must be an initialised message of
 * the function's response type; on KT_OK its fields are call memory. Gate failures come
 * back as KT_ERR_GATE_*; any other status is what the host function returned. */
kt_status kt_ocall(const char *name, const void *req, void *res);

/* ---- sealing ----
 * MRENCLAVE: only this exact enclave, signed by the same key, unseals. MRSIGNER: any
 * enclave of the same signer and product ID with an SVN at least the sealer's. The
 * caller's aad is authenticated, not encrypted, and comes back from unseal. */
typedef enum { KT_SEAL_MRENCLAVE = 1, KT_SEAL_MRSIGNER = 2 } kt_seal_policy;
kt_status kt_seal(kt_seal_policy policy, const uint8_t *aad, size_t aad_len, const uint8_t *plain,
                  size_t n, kt_buf *blob);
/* KT_ERR_VERIFY when the blob was sealed for another enclave, signer or product, or was
 * altered; KT_ERR_MALFORMED when it is not a sealed blob. aad may be NULL. */
kt_status kt_unseal(const uint8_t *blob, size_t n, kt_buf *plain, kt_buf *aad);

/* ---- reports and local attestation ---- */
#define KT_REPORT_LEN 432
#define KT_TARGET_INFO_LEN 512
#define KT_REPORT_DATA_LEN 64

/* This enclave's TARGETINFO, for another enclave to make a report this one can verify. */
kt_status kt_target_info(uint8_t ti[KT_TARGET_INFO_LEN]);
/* An SGX REPORT (body, key id, MAC) for the enclave described by ti, or for this enclave
 * when ti is NULL, carrying report_data. */
kt_status kt_report_create(const uint8_t *ti, const uint8_t report_data[KT_REPORT_DATA_LEN],
                           uint8_t report[KT_REPORT_LEN]);
/* Verifies a report made for this enclave on this platform and returns what it says.
 * KT_ERR_VERIFY when the MAC does not match (forged, altered, or made for another). */
kt_status kt_report_verify(const uint8_t report[KT_REPORT_LEN], kt_report_body *info);

/* ---- quotes (remote attestation) ----
 * A DCAP quote of this enclave carrying report_data: a REPORT for the platform's quoting
 * enclave, quoted by it. On sim the host program serves the simulated QE
 * (kt_attest_serve_quotes); the quote then chains to the simulation root. */
kt_status kt_quote_create(const uint8_t report_data[KT_REPORT_DATA_LEN], kt_buf *quote);

/* ---- identity ----
 * A P-256 key pair made on the enclave's first start, sealed to its MRENCLAVE, kept by
 * the host, and reloaded on later starts. The private key never leaves the enclave. */
kt_status kt_identity_public(uint8_t pub[KT_P256_PUBLIC_LEN]);
kt_status kt_identity_sign(const void *msg, size_t n, uint8_t sig[KT_P256_SIG_LEN]);
/* True when this start created the key (first start or the sealed blob was lost). */
bool kt_identity_is_new(void);

/* This enclave's own report body fields (measurements, prodid, svn, attributes). */
kt_status kt_self(kt_report_body *info);

#ifdef __cplusplus
}
#endif
#endif
