/* AECS recovery (src/aecs/shamir.c, src/aecs/recovery.c): GF(2^8) against the products
 * FIPS-197 works out by hand and the field's laws over every element; Shamir against
 * polynomials evaluated by hand, every threshold-subset of random splits, and fewer than
 * the threshold giving no key; the recovery set's rules; share files sealed, opened,
 * tampered with and refused; proposals and consents round-tripped and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kubetee/aecs_recovery.h>

static void gf256_by_hand(void **state)
{
    (void)state;
    /* FIPS-197 section 4.2: {57}.{83} = {c1}; 4.2.1: {57}.{13} = {fe} by xtime */
    assert_int_equal(kt_gf256_mul(0x57, 0x83), 0xc1);
    assert_int_equal(kt_gf256_mul(0x57, 0x13), 0xfe);
    static const uint8_t xtime[] = {0xae, 0x47, 0x8e, 0x07}; /* {57}.{02}, .{04}, .{08}, .{10} */
    for (int i = 0; i < 4; i++) assert_int_equal(kt_gf256_mul(0x57, (uint8_t)(2 << i)), xtime[i]);
    /* small ones: (x+1)^2 = x^2+1, (x+1)(x^2+1) = x^3+x^2+x+1 */
    assert_int_equal(kt_gf256_mul(3, 3), 5);
    assert_int_equal(kt_gf256_mul(3, 5), 15);
    /* FIPS-197 section 5.1.1: the S-box takes {53} through its inverse {ca} */
    assert_int_equal(kt_gf256_inv(0x53), 0xca);
    assert_int_equal(kt_gf256_inv(0xca), 0x53);
    assert_int_equal(kt_gf256_inv(1), 1);
    assert_int_equal(kt_gf256_inv(0), 0);
}

static void gf256_laws(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 256; a++) {
        if (a) assert_int_equal(kt_gf256_mul((uint8_t)a, kt_gf256_inv((uint8_t)a)), 1);
        assert_int_equal(kt_gf256_mul((uint8_t)a, 1), a);
        assert_int_equal(kt_gf256_mul((uint8_t)a, 0), 0);
        for (unsigned b = 0; b < 256; b += 7) {
            assert_int_equal(kt_gf256_mul((uint8_t)a, (uint8_t)b), kt_gf256_mul((uint8_t)b, (uint8_t)a));
            uint8_t c = (uint8_t)(a * 31 + b);
            assert_int_equal(kt_gf256_mul((uint8_t)a, (uint8_t)(b ^ c)),
                             kt_gf256_mul((uint8_t)a, (uint8_t)b) ^ kt_gf256_mul((uint8_t)a, c));
        }
    }
}

static void fill(uint8_t v[KT_RECOVERY_SECRET_LEN], uint8_t b)
{
    memset(v, b, KT_RECOVERY_SECRET_LEN);
}

/* f(x) = 1 + 2x + 3x^2 by hand: f(1) = 1^2^3 = 0; f(2) = 1^4^12 = 9; f(3) = 1^6^15 = 8;
 * f(4) = 1^8^48 = 0x39. Any three give f(0) = 1; g(x) = 0x42 + x: g(1) = 0x43, g(2) = 0x40. */
static void shamir_by_hand(void **state)
{
    (void)state;
    uint8_t v[4][KT_RECOVERY_SECRET_LEN], out[KT_RECOVERY_SECRET_LEN], want[KT_RECOVERY_SECRET_LEN];
    fill(v[0], 0x00), fill(v[1], 0x09), fill(v[2], 0x08), fill(v[3], 0x39);
    fill(want, 1);
    static const uint8_t sets[4][3] = {{1, 2, 3}, {1, 2, 4}, {4, 3, 1}, {2, 3, 4}};
    for (int s = 0; s < 4; s++) {
        uint8_t xs[3], vals[3][KT_RECOVERY_SECRET_LEN];
        for (int i = 0; i < 3; i++) {
            xs[i] = sets[s][i];
            memcpy(vals[i], v[xs[i] - 1], KT_RECOVERY_SECRET_LEN);
        }
        assert_int_equal(kt_shamir_combine(xs, (const uint8_t(*)[32])vals, 3, out), KT_OK);
        assert_memory_equal(out, want, 32);
    }
    /* the line through f(1), f(2) is not f: two points of a degree-2 polynomial say nothing */
    uint8_t xs2[2] = {1, 2};
    assert_int_equal(kt_shamir_combine(xs2, (const uint8_t(*)[32])v, 2, out), KT_OK);
    assert_memory_not_equal(out, want, 32);
    uint8_t g[2][KT_RECOVERY_SECRET_LEN];
    fill(g[0], 0x43), fill(g[1], 0x40), fill(want, 0x42);
    assert_int_equal(kt_shamir_combine(xs2, (const uint8_t(*)[32])g, 2, out), KT_OK);
    assert_memory_equal(out, want, 32);
}

static void shamir_random(void **state)
{
    (void)state;
    uint8_t secret[32], shares[6][32], out[32];
    for (unsigned m = 1; m <= 5; m++)
        for (unsigned n = m; n <= 6; n++) {
            assert_int_equal(kt_random(secret, 32), KT_OK);
            assert_int_equal(kt_shamir_split(secret, m, n, shares), KT_OK);
            /* every subset of the shares: m or more give the secret, fewer do not */
            for (unsigned mask = 1; mask < (1u << n); mask++) {
                uint8_t xs[6], vals[6][32];
                unsigned k = 0;
                for (unsigned i = 0; i < n; i++)
                    if (mask & (1u << i)) {
                        xs[k] = (uint8_t)(i + 1);
                        memcpy(vals[k++], shares[i], 32);
                    }
                assert_int_equal(kt_shamir_combine(xs, (const uint8_t(*)[32])vals, k, out), KT_OK);
                if (k >= m) assert_memory_equal(out, secret, 32);
                else assert_memory_not_equal(out, secret, 32);
            }
            /* no share is the secret itself unless the threshold is 1 */
            for (unsigned i = 0; i < n; i++)
                if (m > 1) assert_memory_not_equal(shares[i], secret, 32);
                else assert_memory_equal(shares[i], secret, 32);
        }
}

static void shamir_refusals(void **state)
{
    (void)state;
    uint8_t secret[32] = {0}, shares[17][32], out[32], xs[2] = {1, 1}, zero[2] = {0, 1};
    assert_int_equal(kt_shamir_split(secret, 0, 3, shares), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_shamir_split(secret, 4, 3, shares), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_shamir_split(secret, 2, 17, shares), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_shamir_combine(xs, (const uint8_t(*)[32])shares, 2, out), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "two shares at x = 1"));
    assert_int_equal(kt_shamir_combine(zero, (const uint8_t(*)[32])shares, 2, out), KT_ERR_INVALID_ARGUMENT);
}

static void public_raw(kt_key *k, uint8_t raw[64])
{
    size_t n;
    assert_int_equal(kt_key_public_raw(k, raw, 64, &n), KT_OK);
    assert_int_equal(n, 64);
}

static void set_rules(void **state)
{
    (void)state;
    uint8_t keys[3][64];
    kt_key *k = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kt_key_generate(KT_KEY_P256, &k), KT_OK);
        public_raw(k, keys[i]);
        kt_key_free(k);
    }
    const uint8_t(*ks)[64] = (const uint8_t(*)[64])keys;
    assert_int_equal(kt_recovery_set_check(ks, 3, 2, false), KT_OK);
    assert_int_equal(kt_recovery_set_check(ks, 3, 3, false), KT_OK);
    assert_int_equal(kt_recovery_set_check(ks, 3, 1, true), KT_OK);
    assert_int_equal(kt_recovery_set_check(ks, 3, 1, false), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "one key holder alone"));
    assert_int_equal(kt_recovery_set_check(ks, 3, 2, true), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_recovery_set_check(ks, 3, 4, false), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_recovery_set_check(ks, 3, 0, false), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_recovery_set_check(ks, 0, 0, false), KT_ERR_INVALID_ARGUMENT);
    assert_int_equal(kt_recovery_set_check(ks, 17, 2, false), KT_ERR_INVALID_ARGUMENT);
    memcpy(keys[2], keys[0], 64);
    assert_int_equal(kt_recovery_set_check(ks, 3, 2, false), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "recovery keys 1 and 3 are the same key"));
    keys[2][63] ^= 1; /* off the curve */
    assert_int_equal(kt_recovery_set_check(ks, 3, 2, false), KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(kt_last_error(), "recovery key 3 is not a P-256 public key"));
}

/* An open share as Backup makes it: signed by the instance key. */
static void make_share(kt_key *instance, kt_key *recovery, kt_recovery_share *s)
{
    memset(s, 0, sizeof *s);
    s->kind = KT_SHARE_OPEN;
    public_raw(instance, s->instance);
    public_raw(recovery, s->recovery);
    s->version = 3;
    memset(s->backup_id, 0xb1, 16);
    s->index = 2;
    s->threshold = 2;
    s->count = 3;
    memset(s->value, 0x5a, 32);
    kt_buf m = {0}, sig = {0};
    assert_int_equal(kt_recovery_share_message(s, &m), KT_OK);
    assert_int_equal(kt_sign(instance, m.data, m.len, &sig), KT_OK);
    assert_int_equal(sig.len, 64);
    memcpy(s->signature, sig.data, 64);
    kt_buf_free(&m);
    kt_buf_free(&sig);
}

static kt_status decode_buf(const kt_buf *b, kt_recovery_share *s)
{
    return kt_recovery_share_decode(b->data, b->len, s);
}

static void shares_sealed_and_opened(void **state)
{
    (void)state;
    kt_key *inst = NULL, *rec = NULL, *other = NULL;
    assert_int_equal(kt_key_generate(KT_KEY_P256, &inst), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &rec), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &other), KT_OK);
    kt_recovery_share s, t;
    make_share(inst, rec, &s);
    assert_int_equal(kt_recovery_share_verify(&s), KT_OK);
    kt_buf open_file = {0}, sealed_file = {0};
    assert_int_equal(kt_recovery_share_encode(&s, &open_file), KT_OK);
    assert_int_equal(open_file.len, KT_SHARE_HEADER_LEN + 32 + 64);
    assert_int_equal(kt_recovery_share_seal(&s), KT_OK);
    assert_int_equal(s.kind, KT_SHARE_SEALED);
    uint8_t zero[32] = {0};
    assert_memory_equal(s.value, zero, 32); /* wiped once sealed */
    assert_int_equal(kt_recovery_share_encode(&s, &sealed_file), KT_OK);
    assert_int_equal(sealed_file.len, KT_SHARE_HEADER_LEN + 64 + 12 + 96 + 16);
    assert_int_equal(decode_buf(&sealed_file, &t), KT_OK);
    /* another key cannot open it, and says whose it is */
    assert_int_equal(kt_recovery_share_open(&t, other), KT_ERR_DENIED);
    assert_non_null(strstr(kt_last_error(), "share 2 is for recovery key"));
    assert_int_equal(kt_recovery_share_open(&t, rec), KT_OK);
    assert_int_equal(kt_recovery_share_verify(&t), KT_OK);
    uint8_t want[32];
    memset(want, 0x5a, 32);
    assert_memory_equal(t.value, want, 32);
    kt_buf again = {0};
    assert_int_equal(kt_recovery_share_encode(&t, &again), KT_OK);
    assert_int_equal(again.len, open_file.len);
    assert_memory_equal(again.data, open_file.data, again.len);
    /* the header is in the AAD: a sealed share moved to another index, threshold or
     * version does not open; the ciphertext altered does not either */
    static const size_t at[] = {94, 95, 70, 78, KT_SHARE_HEADER_LEN + 64 + 12 + 5};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        sealed_file.data[at[i]] ^= 1;
        kt_status st = decode_buf(&sealed_file, &t);
        if (!st) st = kt_recovery_share_open(&t, rec);
        assert_int_not_equal(st, KT_OK);
        sealed_file.data[at[i]] ^= 1;
    }
    /* an open share altered anywhere fails its instance signature (or its decode) */
    for (size_t i = 6; i < KT_SHARE_HEADER_LEN + 32; i += 9) {
        open_file.data[i] ^= 0x10;
        kt_status st = decode_buf(&open_file, &t);
        if (!st) st = kt_recovery_share_verify(&t);
        assert_int_not_equal(st, KT_OK);
        open_file.data[i] ^= 0x10;
    }
    /* a share another key signed (another instance's, or forged) names that key: verify
     * passes only for the instance named, which the restoring enclave compares */
    make_share(other, rec, &t);
    memcpy(t.instance, s.instance, 64);
    assert_int_equal(kt_recovery_share_verify(&t), KT_ERR_VERIFY);
    assert_non_null(strstr(kt_last_error(), "not signed by the instance it names"));
    kt_buf_free(&again);
    kt_buf_free(&open_file);
    kt_buf_free(&sealed_file);
    kt_key_free(inst);
    kt_key_free(rec);
    kt_key_free(other);
}

static void share_decode_refusals(void **state)
{
    (void)state;
    kt_key *inst = NULL, *rec = NULL;
    assert_int_equal(kt_key_generate(KT_KEY_P256, &inst), KT_OK);
    assert_int_equal(kt_key_generate(KT_KEY_P256, &rec), KT_OK);
    kt_recovery_share s, t;
    make_share(inst, rec, &s);
    kt_buf b = {0};
    assert_int_equal(kt_recovery_share_encode(&s, &b), KT_OK);
    struct {
        size_t at;
        uint8_t value;
        const char *says;
    } bad[] = {{0, 'X', "no KTRS magic"}, {4, 2, "format 2"}, {5, 3, "kind 3"}, {5, 1, "a sealed share is"},
               {94, 0, "index 0 of 3"}, {94, 4, "index 4 of 3"}, {95, 0, "threshold 0 of 3"}, {95, 4, "threshold 4 of 3"},
               {96, 17, "of 17"}, {70, 0, "version 0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t keep = b.data[bad[i].at];
        if (bad[i].at == 70) memset(b.data + 70, 0, 8);
        else b.data[bad[i].at] = bad[i].value;
        assert_int_equal(decode_buf(&b, &t), KT_ERR_MALFORMED);
        assert_non_null(strstr(kt_last_error(), bad[i].says));
        b.data[bad[i].at] = keep;
        if (bad[i].at == 70) kt_put_le64(b.data + 70, 3);
    }
    assert_int_equal(kt_recovery_share_decode(b.data, b.len - 1, &t), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "an open share is"));
    assert_int_equal(kt_recovery_share_decode(b.data, 3, &t), KT_ERR_MALFORMED);
    assert_int_equal(decode_buf(&b, &t), KT_OK);
    kt_buf_free(&b);
    kt_key_free(inst);
    kt_key_free(rec);
}

static void proposals_and_consents(void **state)
{
    (void)state;
    kt_recovery_proposal p = {0}, q;
    kt_key *k = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kt_key_generate(KT_KEY_P256, &k), KT_OK);
        public_raw(k, p.keys[i]);
        if (i < 2) kt_key_free(k);
    }
    memset(p.instance, 0x11, 64);
    p.version = 7;
    p.threshold = 2;
    p.count = 3;
    kt_buf b = {0}, b2 = {0}, m = {0};
    assert_int_equal(kt_recovery_proposal_encode(&p, &b), KT_OK);
    assert_int_equal(b.len, 83 + 3 * 64);
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_OK);
    assert_int_equal(q.version, 7);
    assert_int_equal(q.threshold, 2);
    assert_int_equal(q.count, 3);
    assert_memory_equal(q.keys, p.keys, 3 * 64);
    assert_int_equal(kt_recovery_proposal_encode(&q, &b2), KT_OK);
    assert_memory_equal(b.data, b2.data, b.len);
    assert_int_equal(kt_recovery_change_message(&p, &m), KT_OK);
    assert_memory_equal(m.data, KT_RECOVERY_CHANGE_LABEL, sizeof KT_RECOVERY_CHANGE_LABEL - 1);
    assert_memory_equal(m.data + sizeof KT_RECOVERY_CHANGE_LABEL - 1, b.data, b.len);
    /* refusals: each field, and a proposal that breaks the set's rules */
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len - 1, &q), KT_ERR_MALFORMED);
    b.data[82] = 0;
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    b.data[82] = 3;
    b.data[77] = 1; /* threshold 1 without single holder */
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "one key holder alone"));
    b.data[81] = 1;
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_OK);
    b.data[81] = 2;
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    b.data[0] = 'x';
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "no KTRP magic"));

    kt_recovery_consent c = {0}, d;
    memset(c.signer, 1, 64), memset(c.digest, 2, 32), memset(c.signature, 3, 64);
    kt_buf cb = {0};
    assert_int_equal(kt_recovery_consent_encode(&c, &cb), KT_OK);
    assert_int_equal(kt_recovery_consent_decode(cb.data, cb.len, &d), KT_OK);
    assert_memory_equal(&c, &d, sizeof c);
    assert_int_equal(kt_recovery_consent_decode(cb.data, cb.len + 0 - 1, &d), KT_ERR_MALFORMED);
    cb.data[4] = 9;
    assert_int_equal(kt_recovery_consent_decode(cb.data, cb.len, &d), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "format 9"));
    kt_key_free(k);
    kt_buf_free(&b);
    kt_buf_free(&b2);
    kt_buf_free(&m);
    kt_buf_free(&cb);
}

/* A lowering of the clock floor: the bytes the holders sign, decoded back exactly; a
 * proposal that raises or holds the floor, a short or long one, another kind are refused. */
static void floor_proposals(void **state)
{
    (void)state;
    kt_floor_proposal p = {.floor_was = 1800000000, .floor = 1796000000}, q;
    memset(p.instance, 0x22, 64);
    kt_buf b = {0}, m = {0}, b2 = {0};
    assert_int_equal(kt_floor_proposal_encode(&p, &b), KT_OK);
    assert_int_equal(b.len, 85);
    assert_int_equal(kt_floor_proposal_decode(b.data, b.len, &q), KT_OK);
    assert_int_equal(q.floor_was, p.floor_was);
    assert_int_equal(q.floor, p.floor);
    assert_memory_equal(q.instance, p.instance, 64);
    assert_int_equal(kt_floor_change_message(&p, &m), KT_OK);
    assert_memory_equal(m.data, KT_RECOVERY_FLOOR_LABEL, sizeof KT_RECOVERY_FLOOR_LABEL - 1);
    assert_memory_equal(m.data + sizeof KT_RECOVERY_FLOOR_LABEL - 1, b.data, b.len);
    assert_int_equal(kt_floor_proposal_decode(b.data, b.len - 1, &q), KT_ERR_MALFORMED);
    p.floor = p.floor_was; /* not a lowering */
    assert_int_equal(kt_floor_proposal_encode(&p, &b2), KT_OK);
    assert_int_equal(kt_floor_proposal_decode(b2.data, b2.len, &q), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "is not a time before the floor"));
    kt_recovery_proposal r;
    assert_int_equal(kt_recovery_proposal_decode(b.data, b.len, &r), KT_ERR_MALFORMED); /* another kind */
    b.data[4] = 2;
    assert_int_equal(kt_floor_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    b.data[0] = 'x';
    assert_int_equal(kt_floor_proposal_decode(b.data, b.len, &q), KT_ERR_MALFORMED);
    assert_non_null(strstr(kt_last_error(), "no KTCF magic"));
    kt_buf_free(&b);
    kt_buf_free(&b2);
    kt_buf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gf256_by_hand),          cmocka_unit_test(gf256_laws),
        cmocka_unit_test(shamir_by_hand),         cmocka_unit_test(shamir_random),
        cmocka_unit_test(shamir_refusals),        cmocka_unit_test(set_rules),
        cmocka_unit_test(shares_sealed_and_opened), cmocka_unit_test(share_decode_refusals),
        cmocka_unit_test(proposals_and_consents),
        cmocka_unit_test(floor_proposals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
