/* M-of-N approvals, kept in a file so a restart loses none: every change is written
 * atomically (temporary file, fsync, rename) before it is answered. Approvals a signature
 * is about to use are taken out of the file before the token signs, so a crash while
 * signing can only lose them, never let them be used twice.
 *
 *   kubetee-signer approvals 1
 *   <key> <MRENCLAVE, 64 hex digits> <since, Unix seconds> <approver>[,<approver>...]
 *
 * A line whose key no longer asks for approvals, or an approver no longer allowed to
 * approve it, is dropped at the start with a log line (the configuration changed); a
 * line that does not parse, a key and MRENCLAVE given twice, or a name twice in one line
 * stop the signer, naming the line. */
#include "service.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEADER "kubetee-signer approvals 1\n"
#define MAX_LINES (2 * SG_MAX_PENDING) /* what the signer writes, and room for expired ones */

struct sg_approvals {
    const sg_config *cfg;
    char path[SG_PATH_MAX];
    pthread_mutex_t lock;
    sg_approval a[SG_MAX_PENDING];
};

static bool expired(const sg_approval *a, uint64_t now)
{
    return !a->claimed && now > a->since && now - a->since > SG_APPROVAL_TTL;
}

/* The file's text: every live approval no signature is using. Locked. */
static kt_status format(const sg_approvals *s, kt_buf *out)
{
    kt_status st = kt_buf_append(out, HEADER, strlen(HEADER));
    for (size_t i = 0; !st && i < SG_MAX_PENDING; i++) {
        const sg_approval *a = &s->a[i];
        if (!a->used || a->claimed) continue;
        char line[SG_NAME_MAX + 100 + SG_MAX_CLIENTS * (SG_NAME_MAX + 1)], hex[65];
        kt_hex_encode(a->mrenclave, 32, hex, sizeof hex);
        size_t n = (size_t)snprintf(line, sizeof line, "%s %s %llu ", s->cfg->keys[a->key].name, hex,
                                    (unsigned long long)a->since);
        const char *sep = "";
        for (size_t c = 0; c < s->cfg->nclients; c++)
            if (a->by & (1ull << c)) {
                n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", sep, s->cfg->clients[c].name);
                sep = ",";
            }
        line[n++] = '\n';
        st = kt_buf_append(out, line, n);
    }
    return st;
}

static kt_status save(const sg_approvals *s)
{
    kt_buf b = {0};
    kt_status st = format(s, &b);
    if (!st) st = kt_file_write_atomic(s->path, b.data, b.len, 0600);
    kt_buf_free(&b);
    return st ? kt_fail_context(st, "writing the approvals file") : KT_OK;
}

static int key_of(const sg_config *c, const char *name)
{
    const sg_key *k = sg_config_key(c, name);
    return k ? (int)(k - c->keys) : -1;
}

static int client_of(const sg_config *c, const char *name)
{
    for (size_t i = 0; i < c->nclients; i++)
        if (!strcmp(c->clients[i].name, name)) return (int)i;
    return -1;
}

/* One line (without its newline). *dropped says why a valid line is not kept. */
static kt_status parse_line(sg_approvals *s, const char *p, const char *end, size_t line, uint64_t now,
                            const char **dropped)
{
    char key[SG_NAME_MAX + 1], hex[65], since[24], names[SG_MAX_CLIENTS * (SG_NAME_MAX + 1) + 1];
    uint8_t mre[32];
    uint64_t t;
    *dropped = NULL;
    if (!kt_next_field(&p, end, key, sizeof key) || !kt_next_field(&p, end, hex, sizeof hex) ||
        !kt_next_field(&p, end, since, sizeof since) || !kt_next_field(&p, end, names, sizeof names) || p != end)
        return kt_fail(KT_ERR_MALFORMED, "line %zu is not '<key> <mrenclave> <since> <approvers>'", line);
    if (strlen(hex) != 64 || kt_hex_decode(hex, mre, 32))
        return kt_fail(KT_ERR_MALFORMED, "line %zu: the MRENCLAVE is not 64 hex digits", line);
    if (kt_decimal_parse(since, UINT64_MAX, &t))
        return kt_fail(KT_ERR_MALFORMED, "line %zu: the time is not a decimal number", line);
    int k = key_of(s->cfg, key);
    uint64_t by = 0;
    for (char *save = NULL, *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        int c = client_of(s->cfg, n);
        if (c >= 0 && (by & (1ull << c)))
            return kt_fail(KT_ERR_MALFORMED, "line %zu names an approver twice", line);
        if (c >= 0 && k >= 0 && (s->cfg->keys[k].approvers & (1ull << c))) by |= 1ull << c;
    }
    if (k < 0 || !s->cfg->keys[k].approvals)
        *dropped = "the key no longer asks for approvals";
    else if (!by)
        *dropped = "none of its approvers may approve that key now";
    else if (t > now + 300)
        *dropped = "dated in the future";
    else if (now > t && now - t > SG_APPROVAL_TTL)
        *dropped = "expired";
    if (*dropped) return KT_OK;
    for (size_t i = 0; i < SG_MAX_PENDING; i++)
        if (!s->a[i].used) {
            s->a[i] = (sg_approval){.used = true, .key = (size_t)k, .by = by, .since = t};
            memcpy(s->a[i].mrenclave, mre, 32);
            return KT_OK;
        }
    return kt_fail(KT_ERR_TOO_LARGE, "line %zu: more than %d approvals pending", line, SG_MAX_PENDING);
}

/* Whether an earlier line names the same key and MRENCLAVE (kept or dropped alike); line
 * parsed, so its first two fields end in spaces inside it. */
static bool repeated(const char *const *lines, size_t nlines, const char *line)
{
    const char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2) return false;
    size_t n = (size_t)(sp2 - line) + 1; /* "<key> <mrenclave> " */
    for (size_t i = 0; i < nlines; i++)
        if (!strncmp(lines[i], line, n)) return true;
    return false;
}

kt_status sg_approvals_parse(sg_approvals *s, const char *text, size_t n, size_t *dropped)
{
    size_t hl = strlen(HEADER);
    *dropped = 0;
    memset(s->a, 0, sizeof s->a);
    if (n < hl || memcmp(text, HEADER, hl))
        return kt_fail(KT_ERR_MALFORMED, "approvals: the first line is not '%.*s'", (int)hl - 1, HEADER);
    uint64_t now = (uint64_t)time(NULL);
    const char *p = text + hl, *end = text + n;
    static __thread const char *seen[MAX_LINES];
    kt_status st = KT_OK;
    for (size_t line = 2; !st && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            st = kt_fail(KT_ERR_MALFORMED, "line %zu has no newline (cut short)", line);
            break;
        }
        if (line - 2 == MAX_LINES) {
            st = kt_fail(KT_ERR_TOO_LARGE, "more than %d lines", MAX_LINES);
            break;
        }
        const char *why;
        st = parse_line(s, p, nl, line, now, &why);
        if (!st && repeated(seen, line - 2, p))
            st = kt_fail(KT_ERR_MALFORMED, "line %zu repeats a key and MRENCLAVE", line);
        seen[line - 2] = p;
        if (!st && why) {
            char l[16];
            snprintf(l, sizeof l, "%zu", line);
            kt_log(KT_LOG_WARN, "signer.approval_dropped", "line", l, "reason", why, NULL);
            (*dropped)++;
        }
        p = nl + 1;
    }
    if (st) {
        memset(s->a, 0, sizeof s->a);
        return kt_fail_context(st, "approvals");
    }
    return KT_OK;
}

kt_status sg_approvals_open(const sg_config *cfg, const char *path, sg_approvals **out)
{
    if (!cfg || !path || !out || strlen(path) >= SG_PATH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "approvals: bad path");
    sg_approvals *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    s->cfg = cfg;
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->lock, NULL);
    char name[256];
    kt_escape(path, strlen(path), name, sizeof name);
    size_t dropped = 0;
    kt_buf b = {0};
    kt_status st = kt_file_read(path, 4 << 20, &b);
    if (!st) st = sg_approvals_parse(s, (const char *)b.data, b.len, &dropped);
    else if (st == KT_ERR_NOT_FOUND) st = KT_OK; /* none yet */
    kt_buf_free(&b);
    if (!st && dropped) st = save(s);
    if (st) {
        st = kt_fail_context(st, "the approvals file %s", name);
        sg_approvals_free(s);
        return st;
    }
    *out = s;
    return KT_OK;
}

void sg_approvals_free(sg_approvals *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The live approvals of (key, mrenclave), or NULL; expired ones are dropped. Locked. */
static sg_approval *find(sg_approvals *s, size_t key, const uint8_t mre[32], sg_approval **free_slot)
{
    uint64_t now = (uint64_t)time(NULL);
    if (free_slot) *free_slot = NULL;
    for (size_t i = 0; i < SG_MAX_PENDING; i++) {
        sg_approval *a = &s->a[i];
        if (a->used && expired(a, now)) a->used = false;
        if (!a->used) {
            if (free_slot && !*free_slot) *free_slot = a;
            continue;
        }
        if (a->key == key && !memcmp(a->mrenclave, mre, 32)) return a;
    }
    return NULL;
}

kt_status sg_approvals_add(sg_approvals *s, size_t key, const uint8_t mre[32], int client, unsigned *have)
{
    pthread_mutex_lock(&s->lock);
    sg_approval *slot, *a = find(s, key, mre, &slot);
    kt_status st = KT_OK;
    if (!a && !slot) {
        st = kt_fail(KT_ERR_TOO_LARGE, "%d approvals are pending already", SG_MAX_PENDING);
    } else if (a && a->claimed) {
        st = kt_fail(KT_ERR_STATE, "a signature is using this MRENCLAVE's approvals right now; approve again "
                                   "after it");
    } else {
        sg_approval before = a ? *a : (sg_approval){0};
        if (!a) {
            a = slot;
            *a = (sg_approval){.used = true, .key = key, .since = (uint64_t)time(NULL)};
            memcpy(a->mrenclave, mre, 32);
        }
        a->by |= 1ull << client;
        if ((st = save(s))) *a = before; /* not answered, so not given */
        else *have = (unsigned)__builtin_popcountll(a->by);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

kt_status sg_approvals_claim(sg_approvals *s, const sg_key *k, size_t key, int requester, const uint8_t mre[32],
                             uint64_t *by)
{
    *by = 0;
    if (!k->approvals) return KT_OK;
    pthread_mutex_lock(&s->lock);
    sg_approval *a = find(s, key, mre, NULL);
    uint64_t others = a && !a->claimed ? a->by & ~(1ull << requester) : 0;
    unsigned have = (unsigned)__builtin_popcountll(others);
    bool own = a && (a->by & (1ull << requester));
    kt_status st = KT_OK;
    if (have >= k->approvals) {
        a->claimed = true; /* out of the file before the token signs */
        if ((st = save(s))) a->claimed = false;
        else *by = others;
    }
    pthread_mutex_unlock(&s->lock);
    if (st) return kt_fail(KT_ERR_UNAVAILABLE, "%s", kt_last_error());
    if (*by) return KT_OK;
    return kt_fail(KT_ERR_STATE, "awaiting approval: %u of %u release officers have approved "
                                 "this MRENCLAVE for key '%s'%s",
                   have, k->approvals, k->name, own ? " (the requester's own approval does not count)" : "");
}

void sg_approvals_release(sg_approvals *s, const sg_key *k, size_t key, const uint8_t mre[32], bool used)
{
    if (!k->approvals) return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < SG_MAX_PENDING; i++) {
        sg_approval *a = &s->a[i];
        if (a->used && a->claimed && a->key == key && !memcmp(a->mrenclave, mre, 32)) {
            a->claimed = false;
            if (used) a->used = false;
        }
    }
    kt_status st = used ? KT_OK : save(s); /* given back: into the file again */
    pthread_mutex_unlock(&s->lock);
    if (st) kt_log(KT_LOG_ERROR, "signer.approvals_unsaved", "error", kt_last_error(), NULL);
}

size_t sg_approvals_list(sg_approvals *s, sg_approval *out, size_t cap)
{
    size_t n = 0;
    uint64_t now = (uint64_t)time(NULL);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < SG_MAX_PENDING && n < cap; i++)
        if (s->a[i].used && !expired(&s->a[i], now)) out[n++] = s->a[i];
    pthread_mutex_unlock(&s->lock);
    return n;
}
