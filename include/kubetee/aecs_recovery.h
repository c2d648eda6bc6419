/* AECS recovery (docs/aecs.md "Identity backup and restore", docs/formats.md "AECS
 * recovery files"): Shamir's secret sharing over GF(2^8), the share files aecs.Backup
 * makes (each sealed to one recovery key), the opened shares aecs.Restore takes, and the
 * proposal the holders of the recovery keys sign to change the recovery set. Built into
 * the AECS enclave and into aecsadmin, so both sides make and read the same bytes. */
#ifndef KUBETEE_AECS_RECOVERY_H
#define KUBETEE_AECS_RECOVERY_H

#include <kubetee/base.h>
#include <kubetee/crypto.h>

#include <stdbool.h>

#define KT_RECOVERY_MAX_KEYS 16
#define KT_RECOVERY_SECRET_LEN 32
#define KT_RECOVERY_SHARE_LABEL "kubetee.aecs.recovery-share.v1"
#define KT_RECOVERY_CHANGE_LABEL "kubetee.aecs.recovery-change.v1"

/* ---- GF(2^8) (the AES field, x^8 + x^4 + x^3 + x + 1) and Shamir over it ---- */
uint8_t kt_gf256_mul(uint8_t a, uint8_t b);
uint8_t kt_gf256_inv(uint8_t a); /* 0 has none: 0 */
/* count shares of secret, any threshold of which give it back (1 <= threshold <= count
 * <= KT_RECOVERY_MAX_KEYS): each byte is the constant term of its own random polynomial
 * of degree threshold - 1; shares[i] holds the values at x = i + 1. */
kt_status kt_shamir_split(const uint8_t secret[KT_RECOVERY_SECRET_LEN], unsigned threshold, unsigned count,
                          uint8_t shares[][KT_RECOVERY_SECRET_LEN]);
/* The polynomials' values at 0 from n shares at the distinct, non-zero xs (Lagrange).
 * With fewer than the threshold the answer is a value unrelated to the secret. */
kt_status kt_shamir_combine(const uint8_t *xs, const uint8_t (*values)[KT_RECOVERY_SECRET_LEN], unsigned n,
                            uint8_t secret[KT_RECOVERY_SECRET_LEN]);

/* ---- the recovery set's rules (init, a change, the tool before it asks) ---- */
/* 1..KT_RECOVERY_MAX_KEYS distinct P-256 keys (x||y, each a point of the curve); threshold
 * 2..count, or 1 only with single_holder (one holder alone can restore: said explicitly). */
kt_status kt_recovery_set_check(const uint8_t (*keys)[64], size_t count, uint32_t threshold, bool single_holder);

/* ---- share files ---- */
enum { KT_SHARE_SEALED = 1, KT_SHARE_OPEN = 2 };
#define KT_SHARE_HEADER_LEN 161
typedef struct {
    uint8_t kind;          /* KT_SHARE_SEALED or KT_SHARE_OPEN */
    uint8_t instance[64];  /* the AECS instance key (x||y) whose storage key this is a share of */
    uint64_t version;      /* the recovery set's version */
    uint8_t backup_id[16]; /* one Backup's shares share it (another Backup's do not combine) */
    uint8_t index, threshold, count;
    uint8_t recovery[64];  /* the recovery key it is for (x||y) */
    uint8_t ephemeral[64], iv[KT_GCM_IV_LEN], sealed[96 + KT_GCM_TAG_LEN]; /* sealed */
    uint8_t value[KT_RECOVERY_SECRET_LEN], signature[64];                 /* open */
} kt_recovery_share;
/* Every field checked (magic, format, kind, 1 <= threshold <= count <= 16, 1 <= index <=
 * count, the exact length); the refusal names what is wrong. */
kt_status kt_recovery_share_decode(const uint8_t *b, size_t n, kt_recovery_share *s);
kt_status kt_recovery_share_encode(const kt_recovery_share *s, kt_buf *out);
/* What the instance key signs over an open share: the label, the header, the value. */
kt_status kt_recovery_share_message(const kt_recovery_share *s, kt_buf *out);
/* An open share sealed to s->recovery (ECIES: ephemeral P-256 ECDH, HKDF-SHA256,
 * AES-256-GCM over value || signature with the label and the header as AAD): s is then
 * sealed and its value wiped. */
kt_status kt_recovery_share_seal(kt_recovery_share *s);
/* A sealed share opened with its recovery private key: s is then open. */
kt_status kt_recovery_share_open(kt_recovery_share *s, const kt_key *recovery);
/* An open share's signature by the instance key it names. */
kt_status kt_recovery_share_verify(const kt_recovery_share *s);

/* ---- a change of the recovery set ---- */
typedef struct {
    uint8_t instance[64];
    uint64_t version; /* the version of the set it replaces (0: none yet) */
    uint32_t threshold;
    bool single_holder;
    size_t count;
    uint8_t keys[KT_RECOVERY_MAX_KEYS][64];
} kt_recovery_proposal;
kt_status kt_recovery_proposal_encode(const kt_recovery_proposal *p, kt_buf *out);
kt_status kt_recovery_proposal_decode(const uint8_t *b, size_t n, kt_recovery_proposal *p);
/* What each consenting holder signs (P-256): the label, then the proposal's bytes. */
kt_status kt_recovery_change_message(const kt_recovery_proposal *p, kt_buf *out);

typedef struct {
    uint8_t signer[64];    /* the current recovery key that signed (x||y) */
    uint8_t digest[32];    /* SHA-256 of the change message it signed */
    uint8_t signature[64]; /* r||s */
} kt_recovery_consent;
kt_status kt_recovery_consent_encode(const kt_recovery_consent *c, kt_buf *out);
kt_status kt_recovery_consent_decode(const uint8_t *b, size_t n, kt_recovery_consent *c);

/* ---- a lowering of AECS's clock floor (docs/aecs.md "Time"), consented to as a change
 * of the set is (a kt_recovery_consent of threshold holders of the set in force) ---- */
#define KT_RECOVERY_FLOOR_LABEL "kubetee.aecs.clock-floor.v1"
typedef struct {
    uint8_t instance[64];
    int64_t floor_was; /* the floor it replaces (Unix seconds) */
    int64_t floor;     /* the new floor: 0 < floor < floor_was */
} kt_floor_proposal;
kt_status kt_floor_proposal_encode(const kt_floor_proposal *p, kt_buf *out);
kt_status kt_floor_proposal_decode(const uint8_t *b, size_t n, kt_floor_proposal *p);
/* What each consenting holder signs (P-256): the label, then the proposal's bytes. */
kt_status kt_floor_change_message(const kt_floor_proposal *p, kt_buf *out);
#endif
