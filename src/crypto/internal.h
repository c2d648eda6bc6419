/* Shared between the crypto sources only. */
#ifndef KT_CRYPTO_INTERNAL_H
#define KT_CRYPTO_INTERNAL_H

#include <kubetee/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct kt_key {
    EVP_PKEY *pkey;
    kt_key_type type;
};

struct kt_cert {
    X509 *x509;
};

/* Records what failed with OpenSSL's reason and clears its error queue. */
kt_status kt_ossl_fail(const char *what);
/* Wraps an EVP_PKEY (taking ownership) after deciding its kt_key_type. */
kt_status kt_key_wrap(EVP_PKEY *pkey, kt_key **out);

/* kt_cert_san_check, writing the list in OpenSSL's extension form into out (san.c). */
kt_status kt_cert_san_normalize(const char *san, char *out, size_t cap);

/* Frees aead.c's fetched cipher (an enclave's FINI: the image is unloaded next). */
void kt_aead_release(void);
void kt_digest_release(void); /* the fetched SHA-256 and SM3 (hash.c), at an enclave's FINI */

#endif
