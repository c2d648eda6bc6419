/* Verifying an AECS audit file: the chain the enclave made (services/aecs/enclave/audit.c),
 * checked line by line, and the enclave's signatures at its checkpoints checked against
 * its identity key. A line no later signature covers is reported, never taken as verified. */
#include <kubetee/aecs.h>

#include <stdio.h>
#include <string.h>

#define HASH_TAIL 75   /* ,"hash":"<64>"} */
#define SIGNED_TAIL 212 /* ,"hash":"<64>","sig":"<128>"} */
#define PREV_LEN 73    /* "prev":"<64>" */

/* One line's parts: where its hashed text ends, its hash and its signature (if any). */
typedef struct {
    unsigned long long seq;
    size_t body; /* the hashed text: buf[0..body) */
    uint8_t hash[32], sig[64];
    bool is_signed;
} parsed;

static bool tail_is(const char *buf, size_t len, bool sig, parsed *p, const char *prev_hex)
{
    size_t tl = sig ? SIGNED_TAIL : HASH_TAIL;
    if (len <= tl + PREV_LEN) return false;
    const char *t = buf + len - tl, *pv = t - PREV_LEN;
    char hh[65], sh[129];
    if (strncmp(pv, "\"prev\":\"", 8) || strncmp(pv + 8, prev_hex, 64) || pv[72] != '"' ||
        strncmp(t, ",\"hash\":\"", 9))
        return false;
    memcpy(hh, t + 9, 64);
    hh[64] = '\0';
    if (kt_hex_decode(hh, p->hash, 32)) return false;
    if (!sig) return !strcmp(t + 73, "\"}");
    if (strncmp(t + 73, "\",\"sig\":\"", 9) || strcmp(t + 210, "\"}")) return false;
    memcpy(sh, t + 82, 128);
    sh[128] = '\0';
    if (kt_hex_decode(sh, p->sig, 64)) return false;
    p->body = (size_t)(t - buf);
    return true;
}

/* The line's shape, against the hash it must chain to (prev). */
static bool parse(const char *buf, size_t len, const uint8_t prev[32], parsed *p)
{
    char prev_hex[65];
    kt_hex_encode(prev, 32, prev_hex, sizeof prev_hex);
    p->is_signed = tail_is(buf, len, true, p, prev_hex);
    if (p->is_signed) return true;
    if (!tail_is(buf, len, false, p, prev_hex)) return false;
    p->body = len - HASH_TAIL;
    return true;
}

/* A "Restored" line: the chain taken up again from checkpoint (seq, hash). The op is
 * the line's first: callers' labels hold no quote, and targets are escaped. */
static bool restored_from(const char *buf, unsigned long long *seq, uint8_t hash[32])
{
    static const char op[] = ",\"op\":\"", what[] = "Restored\",\"target\":\"from checkpoint seq ";
    const char *at = strstr(buf, op);
    char hex[65];
    int n = 0;
    if (!at || strncmp(at + strlen(op), what, strlen(what))) return false;
    if (sscanf(at + strlen(op) + strlen(what), "%llu hash %64[0-9a-f]%n", seq, hex, &n) != 2 || strlen(hex) != 64)
        return false;
    return at[strlen(op) + strlen(what) + (size_t)n] == '"' && !kt_hex_decode(hex, hash, 32);
}

static void covered(kt_aecs_audit_result *r, size_t *pending, uint64_t seq, const uint8_t hash[32])
{
    r->lines += *pending + 1;
    *pending = 0;
    r->seq = seq;
    memcpy(r->hash, hash, 32);
}

kt_status kt_aecs_audit_verify(const uint8_t *text, size_t n, const uint8_t identity[64], uint64_t from_seq,
                               const uint8_t from_hash[32], const kt_aecs_audit_head *head,
                               kt_aecs_audit_result *r)
{
    memset(r, 0, sizeof *r);
    r->seq = from_seq;
    if (from_hash) memcpy(r->hash, from_hash, 32);
    kt_key *self = NULL;
    kt_status st = kt_key_from_public_raw(KT_KEY_P256, identity, 64, &self);
    if (st) return kt_fail_context(st, "audit: the identity key");
    uint8_t prev[32];
    uint64_t seq = from_seq;
    size_t count = 0, start = 0, pending = 0; /* pending: lines since the last covered one */
    bool chained = false; /* lines up to from_seq, before the first one checked, are skipped */
    memcpy(prev, r->hash, 32);
    for (size_t i = 0; i < n && !st; i++) {
        if (text[i] != '\n') continue;
        const char *line = (const char *)text + start;
        size_t len = i - start;
        start = i + 1;
        char buf[8192];
        unsigned long long s = 0;
        /* the line is read only from its own NUL-terminated copy: the text is not */
        bool fits = len < sizeof buf && len > HASH_TAIL;
        if (fits) {
            memcpy(buf, line, len);
            buf[len] = '\0';
        }
        bool numbered = fits && sscanf(buf, "{\"seq\":%llu,", &s) == 1;
        if (!chained && numbered && s <= from_seq) continue;
        chained = true;
        count++;
        if (!fits) {
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: not an AECS audit line (length %zu)", count, len);
            break;
        }
        unsigned long long from = 0;
        uint8_t from_h[32];
        bool restore = numbered && restored_from(buf, &from, from_h) && s == from + 1;
        if (restore) {
            /* a restore: the chain goes on from the store's checkpoint; the line must be the
             * enclave's own (signed), and what no signature covered before it is left behind */
            parsed q;
            if (!parse(buf, len, from_h, &q) || !q.is_signed) {
                st = kt_fail(KT_ERR_VERIFY, "audit line %zu: a Restored line that is not signed (made up)", count);
                break;
            }
            if (pending) {
                if (!r->abandoned) r->abandoned_first = r->seq + 1, r->abandoned_last = seq;
                r->abandoned += pending;
                pending = 0;
            }
            r->restores++;
            r->restored_from = from;
            memcpy(r->restored_hash, from_h, 32);
            seq = from;
            memcpy(prev, from_h, 32);
        }
        if (!restore && numbered && s != seq + 1 && pending && s == r->seq + 1) {
            /* the chain goes on from the last covered line: AECS restarted, and the lines
             * no checkpoint covered were left behind (reported, never verified) */
            if (!r->abandoned) r->abandoned_first = r->seq + 1, r->abandoned_last = seq;
            r->abandoned += pending;
            pending = 0;
            seq = r->seq;
            memcpy(prev, r->hash, 32);
        }
        parsed p;
        uint8_t h[32];
        kt_buf m = {0};
        if (!numbered || s != seq + 1)
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: sequence %llu follows %llu (a line is missing or moved)",
                         count, s, (unsigned long long)seq);
        else if (!parse(buf, len, prev, &p))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: it does not chain to the line before", count);
        else if (kt_buf_append(&m, prev, 32) || kt_buf_append(&m, buf, p.body) || kt_sha256(m.data, m.len, h) ||
                 !kt_equal(h, p.hash, 32))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: its hash does not match its text (edited)", count);
        else if (p.is_signed && kt_verify(self, h, 32, p.sig, 64))
            st = kt_fail(KT_ERR_VERIFY, "audit line %zu: not signed by this AECS enclave", count);
        kt_buf_free(&m);
        if (st) break;
        seq = s;
        memcpy(prev, h, 32);
        bool is_head = head && head->seq == s && kt_equal(head->hash, h, 32);
        if (is_head) r->head_seen = true;
        if (p.is_signed || is_head) covered(r, &pending, s, h);
        else pending++;
    }
    if (!st && start != n) st = kt_fail(KT_ERR_VERIFY, "audit: the file ends inside a line");
    kt_key_free(self);
    r->unsigned_tail = pending;
    r->tail_seq = seq;
    memcpy(r->tail_hash, prev, 32);
    return st;
}
