/* Shamir's secret sharing over GF(2^8) (include/kubetee/aecs_recovery.h). The field is
 * AES's: bytes as polynomials over GF(2) modulo x^8 + x^4 + x^3 + x + 1. Multiplication
 * runs without secret-dependent branches or tables. */
#include <kubetee/aecs_recovery.h>

#include <string.h>

uint8_t kt_gf256_mul(uint8_t a, uint8_t b)
{
    uint8_t p = 0;
    for (int i = 0; i < 8; i++) {
        p ^= (uint8_t)(-(b & 1) & a);
        uint8_t carry = (uint8_t)-(a >> 7);
        a = (uint8_t)((a << 1) ^ (carry & 0x1b));
        b >>= 1;
    }
    return p;
}

/* a^254 = a^-1 (the multiplicative group has 255 elements) */
uint8_t kt_gf256_inv(uint8_t a)
{
    uint8_t r = 1, sq = a;
    for (int bit = 1; bit < 8; bit++) { /* 254 = 0b11111110 */
        sq = kt_gf256_mul(sq, sq);
        r = kt_gf256_mul(r, sq);
    }
    return r;
}

kt_status kt_shamir_split(const uint8_t secret[KT_RECOVERY_SECRET_LEN], unsigned threshold, unsigned count,
                          uint8_t shares[][KT_RECOVERY_SECRET_LEN])
{
    if (!secret || !shares || threshold < 1 || threshold > count || count > KT_RECOVERY_MAX_KEYS)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "shamir: threshold %u of %u shares (1 <= threshold <= count <= %d)",
                       threshold, count, KT_RECOVERY_MAX_KEYS);
    uint8_t coef[KT_RECOVERY_MAX_KEYS - 1][KT_RECOVERY_SECRET_LEN];
    kt_status st = threshold > 1 ? kt_random(coef, (threshold - 1) * sizeof coef[0]) : KT_OK;
    for (unsigned i = 0; i < count && !st; i++) {
        uint8_t x = (uint8_t)(i + 1);
        for (size_t b = 0; b < KT_RECOVERY_SECRET_LEN; b++) { /* Horner, highest coefficient first */
            uint8_t y = 0;
            for (unsigned k = threshold - 1; k >= 1; k--) y = kt_gf256_mul((uint8_t)(y ^ coef[k - 1][b]), x);
            shares[i][b] = (uint8_t)(y ^ secret[b]);
        }
    }
    kt_wipe(coef, sizeof coef);
    return st;
}

kt_status kt_shamir_combine(const uint8_t *xs, const uint8_t (*values)[KT_RECOVERY_SECRET_LEN], unsigned n,
                            uint8_t secret[KT_RECOVERY_SECRET_LEN])
{
    if (!xs || !values || !secret || n < 1 || n > 255) return kt_fail(KT_ERR_INVALID_ARGUMENT, "shamir: %u shares", n);
    for (unsigned i = 0; i < n; i++) {
        if (!xs[i]) return kt_fail(KT_ERR_INVALID_ARGUMENT, "shamir: a share at x = 0 would be the secret itself");
        for (unsigned j = 0; j < i; j++)
            if (xs[i] == xs[j]) return kt_fail(KT_ERR_INVALID_ARGUMENT, "shamir: two shares at x = %u", xs[i]);
    }
    memset(secret, 0, KT_RECOVERY_SECRET_LEN);
    for (unsigned i = 0; i < n; i++) {
        /* the Lagrange basis polynomial of xs[i] at 0: prod over j != i of xs[j] / (xs[j] - xs[i]) */
        uint8_t num = 1, den = 1;
        for (unsigned j = 0; j < n; j++)
            if (j != i) {
                num = kt_gf256_mul(num, xs[j]);
                den = kt_gf256_mul(den, (uint8_t)(xs[j] ^ xs[i]));
            }
        uint8_t l = kt_gf256_mul(num, kt_gf256_inv(den));
        for (size_t b = 0; b < KT_RECOVERY_SECRET_LEN; b++) secret[b] ^= kt_gf256_mul(l, values[i][b]);
    }
    return KT_OK;
}
