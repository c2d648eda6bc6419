/* Transparency log lines and the signed head (docs/formats.md, "Transparency log"):
 *
 *   v1 <seq> <time> <mrenclave> <mrsigner> <prodid> <svn> <debug 0|1> <key> <client>
 *      <approvers> <prev> <hash>
 *
 * decimal numbers without leading zeros, hashes in lowercase hex; <hash> is SHA-256 of
 * the line up to (not including) the space before it, so it covers <prev> and the chain
 * holds. The head is four lines and a signature over them (P-256, SHA-256, r||s hex). */
#include <kubetee/tlog.h>

#include <stdio.h>
#include <string.h>

#define HEAD_MAGIC "kubetee-signer log head v1\n"

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KT_TLOG_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* "-", or names joined by ',', none twice. */
static bool approvers_ok(const char *s)
{
    if (!strcmp(s, "-")) return true;
    char copy[KT_TLOG_APPROVERS_MAX + 1], *names[KT_TLOG_APPROVERS_MAX / 2 + 1], *save = NULL;
    size_t n = strlen(s), count = 0;
    if (n == 0 || n > KT_TLOG_APPROVERS_MAX || s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,"))
        return false;
    memcpy(copy, s, n + 1);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!name_ok(t)) return false;
        for (size_t i = 0; i < count; i++)
            if (!strcmp(names[i], t)) return false;
        names[count++] = t;
    }
    return true;
}

static kt_status body(const kt_tlog_entry *e, char *out, size_t cap, size_t *len)
{
    const char *approvers = e->approvers[0] ? e->approvers : "-";
    if (!name_ok(e->key) || !name_ok(e->client) || !approvers_ok(approvers))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: key, client and approver names must be "
                                                "1 to 64 bytes of [A-Za-z0-9._-], approvers "
                                                "joined by ',' without repeats");
    char mre[65], mrs[65], prev[65];
    kt_hex_encode(e->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(e->mrsigner, 32, mrs, sizeof mrs);
    kt_hex_encode(e->prev, 32, prev, sizeof prev);
    int n = snprintf(out, cap, "v1 %llu %llu %s %s %u %u %d %s %s %s %s",
                     (unsigned long long)e->seq, (unsigned long long)e->time, mre, mrs,
                     (unsigned)e->prodid, (unsigned)e->svn, e->debug ? 1 : 0, e->key, e->client,
                     approvers, prev);
    if (n < 0 || (size_t)n >= cap) return kt_fail(KT_ERR_TOO_LARGE, "tlog: entry too long");
    *len = (size_t)n;
    return KT_OK;
}

kt_status kt_tlog_entry_format(kt_tlog_entry *e, kt_buf *line)
{
    if (!e || !line) return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: NULL argument");
    char b[1024], hex[65];
    size_t n = 0;
    kt_status st = body(e, b, sizeof b, &n);
    if (!st) st = kt_sha256(b, n, e->hash);
    if (st) return st;
    kt_hex_encode(e->hash, 32, hex, sizeof hex);
    if ((st = kt_buf_append(line, b, n)) || (st = kt_buf_append(line, " ", 1)) ||
        (st = kt_buf_append(line, hex, 64)))
        return st;
    return kt_buf_append(line, "\n", 1);
}

kt_status kt_tlog_entry_parse(const char *line, size_t n, kt_tlog_entry *e)
{
    if (!e || (n && !line)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: NULL argument");
    memset(e, 0, sizeof *e);
    const char *p = line, *end = line + n;
    char f[13][KT_TLOG_APPROVERS_MAX + 1];
    size_t got = 0;
    while (got < 13 && p < end && kt_next_field(&p, end, f[got], sizeof f[got]))
        got++;
    if (got != 13 || p != end || line[n - 1] == ' ')
        return kt_fail(KT_ERR_MALFORMED, "tlog: an entry is not 13 fields separated by single "
                                         "spaces");
    uint64_t seq, time, prodid, svn, debug;
    if (strcmp(f[0], "v1")) return kt_fail(KT_ERR_MALFORMED, "tlog: an entry is not version v1");
    if (kt_decimal_parse(f[1], UINT64_MAX, &seq) || seq == 0 ||
        kt_decimal_parse(f[2], UINT64_MAX, &time) || kt_decimal_parse(f[5], 65535, &prodid) ||
        kt_decimal_parse(f[6], 65535, &svn) || kt_decimal_parse(f[7], 1, &debug))
        return kt_fail(KT_ERR_MALFORMED, "tlog: a number of an entry is not a plain decimal in "
                                         "range");
    if (strlen(f[3]) != 64 || strlen(f[4]) != 64 || strlen(f[11]) != 64 || strlen(f[12]) != 64)
        return kt_fail(KT_ERR_MALFORMED, "tlog: a hash of an entry is not 64 hex digits");
    uint8_t hash[32];
    if (kt_hex_decode(f[3], e->mrenclave, 32) || kt_hex_decode(f[4], e->mrsigner, 32) ||
        kt_hex_decode(f[11], e->prev, 32) || kt_hex_decode(f[12], hash, 32))
        return kt_fail(KT_ERR_MALFORMED, "tlog: a hash of an entry is not hex");
    if (!name_ok(f[8]) || !name_ok(f[9]) || !approvers_ok(f[10]))
        return kt_fail(KT_ERR_MALFORMED, "tlog: a key, client or approver name of an entry is "
                                         "not [A-Za-z0-9._-]");
    e->seq = seq, e->time = time, e->prodid = (uint16_t)prodid, e->svn = (uint16_t)svn;
    e->debug = debug == 1;
    strcpy(e->key, f[8]);
    strcpy(e->client, f[9]);
    strcpy(e->approvers, f[10]);
    /* the text must be exactly what format writes (lowercase hex, canonical numbers) */
    char b[1024];
    size_t bn = 0;
    kt_status st = body(e, b, sizeof b, &bn);
    if (st) return st;
    if (bn + 65 != n || memcmp(b, line, bn))
        return kt_fail(KT_ERR_MALFORMED, "tlog: an entry is not written as kubetee writes it "
                                         "(uppercase hex?)");
    if ((st = kt_sha256(b, bn, e->hash))) return st;
    char hex[65];
    kt_hex_encode(e->hash, 32, hex, sizeof hex);
    if (memcmp(hex, line + bn + 1, 64))
        return kt_fail(KT_ERR_VERIFY, "tlog: entry %llu does not hash to the hash it holds "
                                      "(changed)",
                       (unsigned long long)seq);
    return KT_OK;
}

static int head_text(const kt_tlog_head *h, char *out, size_t cap)
{
    char hex[65];
    kt_hex_encode(h->hash, 32, hex, sizeof hex);
    return snprintf(out, cap, HEAD_MAGIC "entries %llu\nhash %s\ntime %llu\n",
                    (unsigned long long)h->entries, hex, (unsigned long long)h->time);
}

kt_status kt_tlog_head_format(const kt_tlog_head *h, const kt_key *key, kt_buf *out)
{
    if (!h || !key || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog head: NULL argument");
    if (kt_key_type_of(key) != KT_KEY_P256 || !kt_key_has_private(key))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog head: the key must be a P-256 private key");
    char t[256], hex[129];
    int n = head_text(h, t, sizeof t);
    kt_buf sig = {0};
    kt_status st = kt_sign(key, t, (size_t)n, &sig);
    if (!st) st = kt_hex_encode(sig.data, sig.len, hex, sizeof hex);
    kt_buf_free(&sig);
    if (!st) st = kt_buf_append(out, t, (size_t)n);
    if (!st) st = kt_buf_append(out, "signature ", 10);
    if (!st) st = kt_buf_append(out, hex, 128);
    if (!st) st = kt_buf_append(out, "\n", 1);
    return st;
}

kt_status kt_tlog_head_parse(const uint8_t *data, size_t n, const kt_key *pub, kt_tlog_head *h)
{
    if (!h || !pub || (n && !data))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog head: NULL argument");
    memset(h, 0, sizeof *h);
    char t[512];
    if (n >= sizeof t) return kt_fail(KT_ERR_MALFORMED, "tlog head: over %zu bytes", sizeof t);
    memcpy(t, data, n);
    t[n] = 0;
    if (strlen(t) != n) return kt_fail(KT_ERR_MALFORMED, "tlog head: has a NUL byte");
    char hash[80], sig[160];
    unsigned long long entries, time;
    int used = 0;
    if (sscanf(t, HEAD_MAGIC "entries %llu\nhash %70s\ntime %llu\nsignature %150s\n%n", &entries,
               hash, &time, sig, &used) != 4 ||
        (size_t)used != n || strlen(hash) != 64 || strlen(sig) != 128 ||
        kt_hex_decode(hash, h->hash, 32))
        return kt_fail(KT_ERR_MALFORMED, "tlog head: not the four lines and signature kubetee "
                                         "writes");
    h->entries = entries;
    h->time = time;
    char again[256];
    int an = head_text(h, again, sizeof again);
    uint8_t s[64];
    if ((size_t)an + 10 + 128 + 1 != n || memcmp(again, t, (size_t)an) ||
        kt_hex_decode(sig, s, sizeof s))
        return kt_fail(KT_ERR_MALFORMED, "tlog head: not written as kubetee writes it");
    if (kt_verify(pub, again, (size_t)an, s, sizeof s))
        return kt_fail(KT_ERR_VERIFY, "tlog head: the signature does not verify with the log "
                                      "key");
    return KT_OK;
}
