/* kubetee crypto: OpenSSL 3 EVP underneath, small functions on top.
 *
 * Hashes: SHA-256, SM3. MACs: HMAC-SHA256, AES-128-CMAC (SGX report MACs).
 * KDF: HKDF-SHA256. AEAD: AES-256-GCM with 12-byte IVs and 16-byte tags.
 * Keys: ECDSA P-256, RSA-3072 with e=3 (SIGSTRUCT), SM2. X.509 certificates.
 * Anything that held a secret is wiped before it is freed.
 */
#ifndef KUBETEE_CRYPTO_H
#define KUBETEE_CRYPTO_H

#include <kubetee/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_SHA256_LEN 32
#define KT_AES256_KEY_LEN 32
#define KT_GCM_IV_LEN 12
#define KT_GCM_TAG_LEN 16
#define KT_CMAC_LEN 16
#define KT_P256_PUBLIC_LEN 64 /* x || y, big-endian */
#define KT_P256_SIG_LEN 64    /* r || s, big-endian */
#define KT_RSA3072_LEN 384

/* ---- hashes and MACs ---- */
kt_status kt_sha256(const void *data, size_t n, uint8_t out[KT_SHA256_LEN]);
kt_status kt_sm3(const void *data, size_t n, uint8_t out[KT_SHA256_LEN]);

typedef struct kt_sha256_ctx kt_sha256_ctx;
kt_status kt_sha256_new(kt_sha256_ctx **out);
kt_status kt_sha256_update(kt_sha256_ctx *c, const void *data, size_t n);
/* Writes the digest; the context may then be freed or started again with update. */
kt_status kt_sha256_final(kt_sha256_ctx *c, uint8_t out[KT_SHA256_LEN]);
void kt_sha256_free(kt_sha256_ctx *c);

kt_status kt_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t n,
                         uint8_t out[KT_SHA256_LEN]);
kt_status kt_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                         const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
kt_status kt_aes_cmac(const uint8_t key[16], const void *data, size_t n, uint8_t mac[KT_CMAC_LEN]);

/* ---- AES-256-GCM ---- */
kt_status kt_aead_seal(const uint8_t key[KT_AES256_KEY_LEN], const uint8_t iv[KT_GCM_IV_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *plain, size_t n,
                       uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN]);
/* Fails with KT_ERR_VERIFY, and leaves plain zeroed, when the tag does not match. */
kt_status kt_aead_open(const uint8_t key[KT_AES256_KEY_LEN], const uint8_t iv[KT_GCM_IV_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *cipher, size_t n,
                       const uint8_t tag[KT_GCM_TAG_LEN], uint8_t *plain);

/* A key kept ready for many messages of one direction (seal true: sealing), so its key
 * schedule is made once (a session's records): the same AES-256-GCM as the calls above,
 * each message under its own IV. kt_aead_free wipes it. */
typedef struct kt_aead kt_aead;
kt_status kt_aead_new(const uint8_t key[KT_AES256_KEY_LEN], bool seal, kt_aead **out);
void kt_aead_free(kt_aead *a);
kt_status kt_aead_seal_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                            const uint8_t *plain, size_t n, uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN]);
/* The same over parts joined one after another, as one plaintext (no copy to join them). */
kt_status kt_aead_seal_parts_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                                  const kt_bytes *parts, size_t k, uint8_t *cipher, uint8_t tag[KT_GCM_TAG_LEN]);
kt_status kt_aead_open_with(kt_aead *a, const uint8_t iv[KT_GCM_IV_LEN], const uint8_t *aad, size_t aad_len,
                            const uint8_t *cipher, size_t n, const uint8_t tag[KT_GCM_TAG_LEN], uint8_t *plain);

/* ---- randomness ---- */
kt_status kt_random(void *out, size_t n);

/* ---- keys ---- */
typedef enum { KT_KEY_P256 = 1, KT_KEY_RSA3072_E3 = 2, KT_KEY_SM2 = 3 } kt_key_type;
typedef struct kt_key kt_key;

kt_status kt_key_generate(kt_key_type type, kt_key **out);
/* PEM private or public key (PKCS#8, traditional or SubjectPublicKeyInfo). */
kt_status kt_key_from_pem(const char *pem, size_t n, kt_key **out);
kt_status kt_key_to_pem(const kt_key *k, bool include_private, kt_buf *out);
/* Public key in raw form: P-256 and SM2 x||y (64 bytes); RSA the big-endian modulus. */
kt_status kt_key_public_raw(const kt_key *k, uint8_t *out, size_t cap, size_t *len);
kt_status kt_key_from_public_raw(kt_key_type type, const uint8_t *raw, size_t n, kt_key **out);
/* Wraps an OpenSSL EVP_PKEY (taking a reference of its own), e.g. a certificate's key
 * that OpenSSL has already decoded. */
struct evp_pkey_st;
kt_status kt_key_from_openssl(struct evp_pkey_st *pkey, kt_key **out);
kt_key_type kt_key_type_of(const kt_key *k);
bool kt_key_has_private(const kt_key *k);
void kt_key_free(kt_key *k);

/* Signatures over a message (hashed inside):
 *   P-256: ECDSA with SHA-256, raw r||s (64 bytes);
 *   RSA-3072: PKCS#1 v1.5 with SHA-256, 384 bytes big-endian;
 *   SM2: with SM3 and the ID "1234567812345678", DER. */
kt_status kt_sign(const kt_key *k, const void *msg, size_t n, kt_buf *sig);
/* KT_ERR_VERIFY when the signature does not match. */
kt_status kt_verify(const kt_key *k, const void *msg, size_t n, const uint8_t *sig, size_t sig_len);
/* ECDH on P-256: the x coordinate of the shared point. */
kt_status kt_ecdh(const kt_key *mine, const kt_key *peer, uint8_t out[32]);

/* RSA helper for SIGSTRUCT: q1 = floor(s^2 / m), q2 = floor((s^3 - q1*s*m) / m),
 * all values big-endian, KT_RSA3072_LEN bytes. */
kt_status kt_rsa_sigstruct_q(const uint8_t mod[KT_RSA3072_LEN], const uint8_t sig[KT_RSA3072_LEN],
                             uint8_t q1[KT_RSA3072_LEN], uint8_t q2[KT_RSA3072_LEN]);

/* ---- X.509 ---- */
typedef struct kt_cert kt_cert;
/* subject as "CN=name,O=org"; validity starts now and lasts days. */
kt_status kt_cert_self_signed(const kt_key *key, const char *subject, int days, bool is_ca,
                              kt_cert **out);
/* The same with validity starting at now (Unix seconds): inside an enclave, which has
 * no clock, the caller passes the time. */
kt_status kt_cert_self_signed_at(const kt_key *key, const char *subject, int64_t now, int days,
                                 bool is_ca, kt_cert **out);
/* A certificate for subject_key's public half at now (Unix seconds: the caller's, as an
 * enclave has no clock), issued by issuer with issuer_key, or self-signed by subject_key
 * when issuer is NULL. san: subject alternative names as kt_cert_san_check reads them
 * (NULL or "": none). serial: 1..2^63-1. */
kt_status kt_cert_make_at(const kt_cert *issuer, const kt_key *issuer_key, const kt_key *subject_key,
                          const char *subject, const char *san, uint64_t serial, int64_t now, int days,
                          bool is_ca, kt_cert **out);
#define KT_CERT_SAN_MAX 1024 /* bytes of a san list */
#define KT_CERT_SANS_MAX 32  /* names in it */
/* A list of subject alternative names, comma-separated, no spaces: "DNS:name" (a host
 * name, labels of [A-Za-z0-9-], "*." first allowed), "IP:a.b.c.d" or "IP:" an IPv6
 * address in hex and colons; a name without a prefix is an IP address when it is one,
 * else a DNS name. The reason names the entry and what is wrong with it. */
kt_status kt_cert_san_check(const char *san);
kt_status kt_csr_new(const kt_key *key, const char *subject, kt_buf *der);
/* Issues a certificate for a CSR (whose own signature is checked first). */
kt_status kt_cert_issue(const kt_cert *issuer, const kt_key *issuer_key, const uint8_t *csr_der,
                        size_t csr_len, uint64_t serial, int days, bool is_ca, kt_cert **out);
/* An extension to add, by dotted OID, with its DER value (e.g. SGX's PCK extensions). */
typedef struct {
    const char *oid;
    const uint8_t *der;
    size_t len;
} kt_cert_extension;
/* kt_cert_issue with one more extension (NULL: none). */
kt_status kt_cert_issue_ext(const kt_cert *issuer, const kt_key *issuer_key, const uint8_t *csr_der,
                            size_t csr_len, uint64_t serial, int days, bool is_ca,
                            const kt_cert_extension *extra, kt_cert **out);
/* An empty CRL from issuer, valid from an hour ago for days, as DER. */
kt_status kt_crl_new(const kt_cert *issuer, const kt_key *issuer_key, int days, kt_buf *der);
kt_status kt_cert_from_pem(const char *pem, size_t n, kt_cert **out);
kt_status kt_cert_from_der(const uint8_t *der, size_t n, kt_cert **out);
kt_status kt_cert_to_pem(const kt_cert *c, kt_buf *out);
kt_status kt_cert_to_der(const kt_cert *c, kt_buf *out);
/* The certificate's public key, as a new key the caller frees. */
kt_status kt_cert_public_key(const kt_cert *c, kt_key **out);
/* Subject in one line ("CN=..., O=..."). */
kt_status kt_cert_subject(const kt_cert *c, char *out, size_t cap);
/* Issuer in the same form; KT_ERR_TOO_LARGE when it does not fit in cap. */
kt_status kt_cert_issuer(const kt_cert *c, char *out, size_t cap);
/* KT_ERR_VERIFY unless issuer's key signed c and the names chain. */
kt_status kt_cert_check_issued_by(const kt_cert *c, const kt_cert *issuer);
void kt_cert_free(kt_cert *c);

#ifdef __cplusplus
}
#endif
#endif
