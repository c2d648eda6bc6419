/* A never-export key used in place (docs/aecs.md "Never-export keys"): the cryptography
 * alone, on the key's stored bytes, for the AECS enclave (services/aecs/enclave/use.c,
 * which decides who may) and its tests. Built into the AECS enclave. */
#ifndef KT_AECS_KEYUSE_H
#define KT_AECS_KEYUSE_H

#include <kubetee/base.h>

typedef enum { KT_AECS_SIGN, KT_AECS_ENCRYPT, KT_AECS_DECRYPT, KT_AECS_WRAP, KT_AECS_UNWRAP } kt_aecs_key_op;
extern const char *const kt_aecs_key_op_names[]; /* "Sign", ... */

typedef enum { KT_AECS_KEY_AES256, KT_AECS_KEY_RSA, KT_AECS_KEY_EC } kt_aecs_key_kind;

typedef struct {
    const char *name;     /* the secret's, for messages */
    kt_aecs_key_kind kind;
    const uint8_t *key;   /* AES: 32 bytes; RSA and EC (P-256, SM2, a certificate's): PEM */
    size_t key_len;
    bool pkcs1;           /* RSA signing: PKCS#1 v1.5 (else PSS, salt 32) */
    bool wrap_gcm;        /* AES wrapping: AES-256-GCM (else AES-KWP) */
} kt_aecs_key;

#define KT_AECS_KEY_INPUT_MAX (64 * 1024)
#define KT_AECS_WRAP_MAX 4096

/* The operation's output appended to out and its algorithm's name ("ecdsa-p256-sha256",
 * "rsa-pss-sha256", "rsa-pkcs1-sha256", "sm2-sm3", "rsa-oaep-sha256", "aes-256-gcm",
 * "aes-256-kwp", "aes-256-gcm-wrap"). An operation the key does not do is
 * KT_ERR_INVALID_ARGUMENT naming it; an input that does not open, KT_ERR_VERIFY. */
kt_status kt_aecs_key_use(const kt_aecs_key *k, kt_aecs_key_op op, const uint8_t *in, size_t n, const uint8_t *aad,
                          size_t aad_n, kt_buf *out, const char **algorithm);

/* Sign each of in[0..n) into out[i] (appended), the key read once for all of them. */
kt_status kt_aecs_key_sign_each(const kt_aecs_key *k, const kt_bytes *in, size_t n, kt_buf *out, const char **algorithm);

#endif
