/* Verifying an AECS audit file: the chain the enclave made (services/aecs/enclave/audit.c),
 * checked line by line against the enclave's identity key. */
#include <kubetee/aecs.h>

#include <stdio.h>
#include <string.h>

#define TAIL_LEN 212 /* ,"hash":"<64>","sig":"<128>"} */

kt_status kt_aecs_audit_verify(const uint8_t *text, size_t n, const uint8_t identity[64], uint64_t from_seq,
                               const uint8_t from_hash[32], size_t *lines, uint64_t *last_seq, uint8_t last_hash[32])
{
    kt_key *self = NULL;
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, identity, 64, &self);
    if (st) return kt_fail_context(st, "audit: the identity key");
    uint8_t prev[32] = {0};
    uint64_t seq = from_seq;
    size_t count = 0, start = 0;
    bool chained = false; /* lines up to from_seq, before the first one checked, are skipped */
    if (from_hash) memcpy(prev, from_hash, 32);
    for (size_t i = 0; i < n && !st; i++) {
        if (text[i] != '\n') continue;
        const char *line = (const char *)text + start;
        size_t len = i - start;
        start = i + 1;
        char buf[8192], hex[65];
        unsigned long long s;
        /* the line is read only from its own NUL-terminated copy: the text is not */
        bool fits = len < sizeof buf && len > TAIL_LEN;
        if (fits) {
            memcpy(buf, line, len);
            buf[len] = '\0';
        }
        if (!chained && fits && sscanf(buf, "{\"seq\":%llu,", &s) == 1 && s <= from_seq) continue;
        chained = true;
        count++;
        if (!fits) {
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: not an AECS audit line (length %zu)", count, len);
            break;
        }
        const char *t = buf + len - TAIL_LEN, *p = strstr(buf, "\"prev\":\"");
        kt_hex_encode(prev, 32, hex, sizeof hex);
        uint8_t want[32], sig[64], h[32];
        char hash_hex[65] = "", sig_hex[129] = "";
        kt_buf m = {0};
        if (len > TAIL_LEN) {
            memcpy(hash_hex, t + 9, 64);
            memcpy(sig_hex, t + 82, 128);
        }
        if (sscanf(buf, "{\"seq\":%llu,", &s) != 1 || s != seq + 1)
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: sequence %llu follows %llu (a line is missing or moved)",
                         count, s, (unsigned long long)seq);
        else if (!p || strncmp(p + 8, hex, 64) || p + 8 + 65 != t || strncmp(t, ",\"hash\":\"", 9) ||
                 strncmp(t + 73, "\",\"sig\":\"", 9) || strcmp(t + 210, "\"}") || kt_hex_decode(hash_hex, want, 32) ||
                 kt_hex_decode(sig_hex, sig, 64))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: it does not chain to the line before", count);
        else if (kt_buf_append(&m, prev, 32) || kt_buf_append(&m, buf, (size_t)(t - buf)) ||
                 kt_sha256(m.data, m.len, h) || !kt_equal(h, want, 32))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: its hash does not match its text (edited)", count);
        else if (kt_verify(self, h, 32, sig, 64))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: not signed by this AECS enclave", count);
        kt_buf_free(&m);
        if (st) {
            count--;
            break;
        }
        seq = s;
        memcpy(prev, h, 32);
    }
    if (!st && start != n) st = kt_fail(KT_ERR_VERIFY, "audit: the file ends inside a line");
    kt_key_free(self);
    *lines = count;
    if (last_seq) *last_seq = seq;
    if (last_hash) memcpy(last_hash, prev, 32);
    return st;
}
