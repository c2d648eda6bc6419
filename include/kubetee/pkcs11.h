/* kubetee pkcs11: enclave signing keys held in a PKCS#11 token (an HSM, or SoftHSM2 in
 * tests and the demo), the module loaded through p11-kit.
 *
 *   kt_buf pin = {0};
 *   kt_p11_pin_read("/etc/kubetee/pin", NULL, &pin);
 *   kt_p11 *t;
 *   kt_p11_open("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "signing", &pin, &t);
 *   kt_p11_key *k;
 *   kt_p11_key_find(t, "release-2026", &k);
 *   kt_p11_sign(k, sigdata, KT_SIGDATA_LEN, sig);
 *
 * Keys are RSA-3072 with public exponent 3 (SIGSTRUCT's), generated inside the token as
 * token objects that are private, sensitive and never extractable; the private part never
 * leaves the token, and a key that does not have those attributes is refused when it is
 * opened. Signatures are PKCS#1 v1.5 with SHA-256 (CKM_SHA256_RSA_PKCS), 384 bytes
 * big-endian, exactly what kt_sign makes with a key file. Thread-safe: each sign takes a
 * session of its own from a small pool.
 */
#ifndef KUBETEE_PKCS11_H
#define KUBETEE_PKCS11_H

#include <kubetee/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_p11 kt_p11;
typedef struct kt_p11_key kt_p11_key;

#define KT_P11_LABEL_MAX 64 /* bytes in a key label: printable ASCII, no spaces at the ends */
#define KT_P11_PIN_MAX 255

/* The PIN, from exactly one of a file (the PIN and at most one newline, printable ASCII;
 * the file must not be readable or writable by group or others) or an environment
 * variable. Never from a command line. pin is wiped by kt_buf_free. */
kt_status kt_p11_pin_read(const char *file, const char *env, kt_buf *pin);

/* Loads a PKCS#11 module (an absolute path) through p11-kit, finds the one token with
 * this label and logs in as its user (pin is used for the login only; the caller wipes
 * it). One open token per process: a second login would not check its PIN (the module
 * answers CKR_USER_ALREADY_LOGGED_IN), so it is refused with KT_ERR_STATE. */
kt_status kt_p11_open(const char *module, const char *token, const kt_buf *pin, kt_p11 **out);
void kt_p11_free(kt_p11 *t);

/* Generates an RSA-3072 e=3 key pair in the token under label (KT_ERR_EXISTS if a key of
 * that label exists) and opens it. */
kt_status kt_p11_generate(kt_p11 *t, const char *label, kt_p11_key **out);
/* Opens the one private key with this label: KT_ERR_NOT_FOUND if none, KT_ERR_DENIED if
 * several (ambiguous) or if it is not RSA-3072 e=3, not a token object, not private,
 * sensitive and never extractable. */
kt_status kt_p11_key_find(kt_p11 *t, const char *label, kt_p11_key **out);
void kt_p11_key_free(kt_p11_key *k);
/* The key's public half (owned by k). */
const kt_key *kt_p11_key_public(const kt_p11_key *k);
const char *kt_p11_key_label(const kt_p11_key *k);

/* PKCS#1 v1.5 SHA-256 over msg in the token; the signature is checked against the
 * public key before it is returned. */
kt_status kt_p11_sign(kt_p11_key *k, const void *msg, size_t n, uint8_t sig[KT_RSA3072_LEN]);

/* What the token says of a private key (for checks and `kubetee-signer keys`). */
typedef struct {
    bool token, private_obj, sensitive, extractable, always_sensitive, never_extractable;
    bool value_refused; /* reading CKA_PRIVATE_EXPONENT, CKA_PRIME_1 and CKA_PRIME_2 failed */
} kt_p11_attrs;
kt_status kt_p11_key_attributes(kt_p11_key *k, kt_p11_attrs *a);

/* Calls fn with each private key's label, in the token's order; stops at fn's error. */
kt_status kt_p11_list(kt_p11 *t, kt_status (*fn)(void *arg, const char *label), void *arg);

/* KT_ERR_INVALID_ARGUMENT unless label is 1..KT_P11_LABEL_MAX printable ASCII bytes
 * without a space at either end. */
kt_status kt_p11_label_check(const char *label);

#ifdef __cplusplus
}
#endif
#endif
