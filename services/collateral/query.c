/* The PCS/PCCS v4 query language, strictly: exact paths, the parameters each path takes
 * and no other, each once, values in their exact form. Whatever is refused is named. */
#include "collateral.h"

#include <string.h>

typedef enum {
    P_FMSPC = 1,
    P_UPDATE = 2,
    P_CA = 4,
    P_ENCODING = 8,
    P_QEID = 16,
    P_CPUSVN = 32,
    P_PCESVN = 64,
    P_PCEID = 128,
    P_PPID = 256,
    P_PLATFORM = 512,
    P_EVAL = 1024,
    P_SOURCE = 2048,
    P_TYPE = 4096,
} param;
#define PCKCERT (P_QEID | P_CPUSVN | P_PCESVN | P_PCEID)

static const struct {
    const char *path;
    kt_pcs_kind kind;
    kt_tee_type tee;
    unsigned allowed, required;
    kt_coll_route route;
    unsigned api; /* 3: PCS/PCCS v3's path (0: v4) */
} routes[] = {
    {"/sgx/certification/v4/tcb", KT_PCS_TCB, KT_TEE_SGX, P_FMSPC | P_UPDATE | P_EVAL, P_FMSPC},
    {"/tdx/certification/v4/tcb", KT_PCS_TCB, KT_TEE_TDX, P_FMSPC | P_UPDATE | P_EVAL, P_FMSPC},
    {"/sgx/certification/v4/qe/identity", KT_PCS_QE_IDENTITY, KT_TEE_SGX, P_UPDATE | P_EVAL, 0},
    {"/tdx/certification/v4/qe/identity", KT_PCS_QE_IDENTITY, KT_TEE_TDX, P_UPDATE | P_EVAL, 0},
    {"/sgx/certification/v4/qve/identity", KT_PCS_QVE_IDENTITY, KT_TEE_SGX, P_UPDATE | P_EVAL, 0},
    {"/sgx/certification/v4/pckcrl", KT_PCS_PCK_CRL, KT_TEE_SGX, P_CA | P_ENCODING, P_CA},
    {"/sgx/certification/v4/rootcacrl", KT_PCS_ROOT_CRL, KT_TEE_SGX, 0, 0},
    /* a PCCS's form: the platform by QE ID (encrypted_ppid is for Intel PCS, passed on) */
    {"/sgx/certification/v4/pckcert", KT_PCS_PCK_CERT, KT_TEE_SGX, PCKCERT | P_PPID, PCKCERT},
    {"/sgx/certification/v4/tcbevaluationdatanumbers", KT_PCS_TCB_EVAL, KT_TEE_SGX, 0, 0},
    {"/tdx/certification/v4/tcbevaluationdatanumbers", KT_PCS_TCB_EVAL, KT_TEE_TDX, 0, 0},
    /* answered from what is held (see proxy.c), not items of their own */
    {"/sgx/certification/v4/pckcerts", KT_PCS_PCK_CERT, KT_TEE_SGX, P_PPID | P_PCEID,
     P_PPID | P_PCEID, KT_COLL_PCKCERTS},
    {"/sgx/certification/v4/fmspcs", KT_PCS_TCB, KT_TEE_SGX, P_PLATFORM, 0, KT_COLL_FMSPCS},
    /* admin (the admin token): registrations, and refreshing the cache now */
    {"/sgx/certification/v4/platforms", KT_PCS_PCK_CERT, KT_TEE_SGX, P_SOURCE, 0,
     KT_COLL_PLATFORMS},
    {"/sgx/certification/v4/refresh", KT_PCS_TCB, KT_TEE_SGX, P_TYPE | P_FMSPC, 0, KT_COLL_REFRESH},
    /* v3, for older quote provider libraries: SGX only, none of v4's parameters. Its TCB
     * Info is its own item (version 2, fetched from upstream's v3 path); the rest are the
     * same items as v4's */
    {"/sgx/certification/v3/tcb", KT_PCS_TCB, KT_TEE_SGX, P_FMSPC, P_FMSPC, KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/qe/identity", KT_PCS_QE_IDENTITY, KT_TEE_SGX, 0, 0, KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/qve/identity", KT_PCS_QVE_IDENTITY, KT_TEE_SGX, 0, 0, KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/pckcrl", KT_PCS_PCK_CRL, KT_TEE_SGX, P_CA | P_ENCODING, P_CA,
     KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/rootcacrl", KT_PCS_ROOT_CRL, KT_TEE_SGX, 0, 0, KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/pckcert", KT_PCS_PCK_CERT, KT_TEE_SGX, PCKCERT | P_PPID, PCKCERT,
     KT_COLL_ITEM, 3},
    {"/sgx/certification/v3/platforms", KT_PCS_PCK_CERT, KT_TEE_SGX, P_SOURCE, 0, KT_COLL_PLATFORMS,
     3},
    {"/sgx/certification/v3/refresh", KT_PCS_TCB, KT_TEE_SGX, P_TYPE | P_FMSPC, 0, KT_COLL_REFRESH,
     3},
};

bool kt_coll_admin_path(const char *raw)
{
    for (size_t r = 0; raw && r < sizeof routes / sizeof routes[0]; r++) {
        size_t n = strlen(routes[r].path);
        if ((routes[r].route == KT_COLL_PLATFORMS || routes[r].route == KT_COLL_REFRESH) &&
            !strncmp(raw, routes[r].path, n) && (raw[n] == '\0' || raw[n] == '?'))
            return true;
    }
    return false;
}

static const struct {
    const char *name;
    param p;
} params[] = {{"fmspc", P_FMSPC},
              {"update", P_UPDATE},
              {"ca", P_CA},
              {"encoding", P_ENCODING},
              {"qeid", P_QEID},
              {"cpusvn", P_CPUSVN},
              {"pcesvn", P_PCESVN},
              {"pceid", P_PCEID},
              {"encrypted_ppid", P_PPID},
              {"platform", P_PLATFORM},
              {"tcbEvaluationDataNumber", P_EVAL},
              {"source", P_SOURCE},
              {"type", P_TYPE}};

#define NAME_SHOWN 40

static kt_status bad(const char *what, const char *s, size_t n)
{
    char shown[NAME_SHOWN * 4 + 1];
    kt_escape(s, n > NAME_SHOWN ? NAME_SHOWN : n, shown, sizeof shown);
    return kt_fail(KT_ERR_MALFORMED, "%s '%s%s'", what, shown, n > NAME_SHOWN ? "..." : "");
}

static bool is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Exactly 2 * bytes hex digits, either case. */
static kt_status hex(const char *name, const char *v, size_t n, uint8_t *out, size_t bytes)
{
    char text[KT_COLL_PPID_HEX + 1], what[64];
    snprintf(what, sizeof what, "%s must be %zu hex digits, not", name, 2 * bytes);
    if (n != 2 * bytes || n > KT_COLL_PPID_HEX) return bad(what, v, n);
    memcpy(text, v, n);
    text[n] = '\0';
    return kt_hex_decode(text, out, bytes) ? bad(what, v, n) : KT_OK;
}

kt_status kt_coll_word(const char *name, const char *const *words, const char *v, size_t n,
                       unsigned *index)
{
    char what[160];
    int at = snprintf(what, sizeof what, "%s must be", name);
    for (unsigned i = 0; words[i]; i++) {
        if (is(v, n, words[i])) {
            *index = i;
            return KT_OK;
        }
        at += snprintf(what + at, sizeof what - (size_t)at, "%s%s",
                       i == 0         ? " "
                       : words[i + 1] ? ", "
                                      : " or ",
                       words[i]);
        if (at >= (int)sizeof what) at = (int)sizeof what - 1;
    }
    snprintf(what + at, sizeof what - (size_t)at, ", not");
    return bad(what, v, n);
}

static const char *const update_words[] = {"early", "standard", NULL},
                         *const ca_words[] = {"processor", "platform", NULL},
                         *const encoding_words[] = {"der", "pem", NULL},
                         *const platform_words[] = {"all", "client", "E3", "E5", NULL},
                         *const source_words[] = {"reg", "reg_na", NULL},
                         *const type_words[] = {"all",     "certs",           "crls",
                                                "tcbinfo", "enclaveidentity", NULL};

/* An FMSPC list as PCCS takes it: "[FMSPC1,FMSPC2]" ("[]": all), brackets and commas as
 * they are or %-escaped (%5B %5D %2C), nothing else escaped. */
static kt_status fmspc_list(const char *name, kt_coll_query *q, const char *v, size_t n)
{
    char text[1100], what[160];
    size_t len = 0;
    snprintf(what, sizeof what,
             "%s must be a list [FMSPC,...] of 12 hex digits each (at most %d), not", name,
             KT_COLL_FMSPC_LIST);
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '%') {
            uint8_t b = 0;
            char two[3] = {i + 2 < n ? v[i + 1] : 0, i + 2 < n ? v[i + 2] : 0, 0};
            if (!two[0] || !two[1] || kt_hex_decode(two, &b, 1) ||
                (b != '[' && b != ']' && b != ','))
                return bad(what, v, n);
            c = (char)b, i += 2;
        }
        if (len + 1 >= sizeof text) return bad(what, v, n);
        text[len++] = c;
    }
    text[len] = '\0';
    q->listed = true;
    if (len < 2 || text[0] != '[' || text[len - 1] != ']') return bad(what, v, n);
    for (size_t at = 1; at < len - 1;) {
        const char *comma = memchr(text + at, ',', len - 1 - at);
        size_t stop = comma ? (size_t)(comma - text) : len - 1;
        char one[13];
        if (stop - at != 12 || q->fmspc_count == KT_COLL_FMSPC_LIST) return bad(what, v, n);
        memcpy(one, text + at, 12);
        one[12] = '\0';
        if (kt_hex_decode(one, q->fmspcs[q->fmspc_count++], 6)) return bad(what, v, n);
        at = stop + 1;
        if (comma && at == len - 1) return bad(what, v, n); /* "[A,]" */
    }
    return KT_OK;
}

static kt_status value(kt_coll_query *q, param p, const char *v, size_t n)
{
    uint8_t ppid[KT_COLL_PPID_HEX / 2];
    unsigned w = 0;
    kt_status st;
    switch (p) {
    case P_FMSPC: /* refresh: a list, empty for all (as PCCS's admin tool sends it) */
        if (q->route == KT_COLL_REFRESH) return n ? fmspc_list("fmspc", q, v, n) : KT_OK;
        return hex("fmspc", v, n, q->id.fmspc, 6);
    case P_SOURCE:
        if (n && v[0] != '[' && v[0] != '%') {
            if (!(st = kt_coll_word("source", source_words, v, n, &w))) q->source = w;
            return st;
        }
        q->source = 2;
        return fmspc_list("source", q, v, n);
    case P_TYPE:
        if (!(st = kt_coll_word("type", type_words, v, n, &w))) q->refresh = w;
        return st;
    case P_QEID:
        return hex("qeid", v, n, q->qeid, 16);
    case P_CPUSVN:
        return hex("cpusvn", v, n, q->cpusvn, 16);
    case P_PCESVN:
        return hex("pcesvn", v, n, q->pcesvn, 2);
    case P_PCEID:
        return hex("pceid", v, n, q->pceid, 2);
    case P_PPID: {
        kt_status st = hex("encrypted_ppid", v, n, ppid, sizeof ppid);
        if (!st) kt_hex_encode(ppid, sizeof ppid, q->ppid, sizeof q->ppid);
        return st;
    }
    case P_UPDATE:
        if (!(st = kt_coll_word("update", update_words, v, n, &w))) q->early = w == 0;
        return st;
    case P_CA:
        if (!(st = kt_coll_word("ca", ca_words, v, n, &w))) q->id.platform_ca = w == 1;
        return st;
    case P_ENCODING:
        if (!(st = kt_coll_word("encoding", encoding_words, v, n, &w))) q->crl_pem = w == 1;
        return st;
    case P_EVAL: { /* decimal, no sign, no leading zero */
        uint64_t x = 0;
        char text[16];
        if (n == 0 || n > 10 || v[0] == '0')
            return bad("tcbEvaluationDataNumber must be a decimal number 1..2147483647 without "
                       "leading zeros, not",
                       v, n);
        memcpy(text, v, n);
        text[n] = '\0';
        if (kt_decimal_parse(text, 2147483647, &x) || x == 0)
            return bad("tcbEvaluationDataNumber must be a decimal number 1..2147483647 without "
                       "leading zeros, not",
                       v, n);
        q->id.eval_number = (uint32_t)x;
        return KT_OK;
    }
    case P_PLATFORM:
        if (!(st = kt_coll_word("platform", platform_words, v, n, &w))) q->platform = w;
        return st;
    }
    return kt_fail(KT_ERR_MALFORMED, "parameter");
}

/* The words a query's key and its upstream path are both made of, from one place. */
typedef struct {
    const char *tee, *ca;
    char fmspc[13], qeid[33], cpusvn[33], pcesvn[5], pceid[5];
    char key_eval[24];      /* the key's end: "-eval<N>", "-early" or nothing */
    char upstream_eval[48]; /* the same as upstream is asked: tcbEvaluationDataNumber or update */
} words;

static void words_of(const kt_coll_query *q, words *w)
{
    w->tee = q->id.tee == KT_TEE_TDX ? "tdx" : "sgx";
    w->ca = q->id.platform_ca ? "platform" : "processor";
    kt_hex_encode(q->id.fmspc, 6, w->fmspc, sizeof w->fmspc);
    kt_hex_encode(q->qeid, 16, w->qeid, sizeof w->qeid);
    kt_hex_encode(q->cpusvn, 16, w->cpusvn, sizeof w->cpusvn);
    kt_hex_encode(q->pcesvn, 2, w->pcesvn, sizeof w->pcesvn);
    kt_hex_encode(q->pceid, 2, w->pceid, sizeof w->pceid);
    if (q->id.eval_number) {
        snprintf(w->key_eval, sizeof w->key_eval, "-eval%u", q->id.eval_number);
        snprintf(w->upstream_eval, sizeof w->upstream_eval, "tcbEvaluationDataNumber=%u",
                 q->id.eval_number);
    } else {
        snprintf(w->key_eval, sizeof w->key_eval, "%s", q->early ? "-early" : "");
        snprintf(w->upstream_eval, sizeof w->upstream_eval, "update=%s",
                 q->early ? "early" : "standard");
    }
}

static void make_key(kt_coll_query *q)
{
    words w;
    words_of(q, &w);
    char *k = q->key;
    size_t cap = sizeof q->key;
    if (q->route == KT_COLL_FMSPCS) {
        snprintf(k, cap, "fmspcs");
        return;
    }
    if (q->route == KT_COLL_PCKCERTS) {
        snprintf(k, cap, "pckcerts-%s", w.pceid);
        return;
    }
    if (q->route == KT_COLL_PLATFORMS || q->route == KT_COLL_REFRESH) {
        snprintf(k, cap, q->route == KT_COLL_PLATFORMS ? "platforms" : "refresh");
        return;
    }
    switch (q->id.kind) {
    case KT_PCS_ROOT_CRL:
        snprintf(k, cap, "rootcacrl");
        break;
    case KT_PCS_TCB_EVAL:
        snprintf(k, cap, "%s-tcbeval", w.tee);
        break;
    case KT_PCS_PCK_CRL:
        snprintf(k, cap, "pckcrl-%s", w.ca);
        break;
    case KT_PCS_TCB: /* v3's is another document (version 2): its own item */
        snprintf(k, cap, "%s-tcb-%s%s%s", w.tee, w.fmspc, w.key_eval, q->api == 3 ? "-v3" : "");
        break;
    case KT_PCS_QE_IDENTITY:
        snprintf(k, cap, "%s-qe%s", w.tee, w.key_eval);
        break;
    case KT_PCS_QVE_IDENTITY:
        snprintf(k, cap, "sgx-qve%s", w.key_eval);
        break;
    case KT_PCS_PCK_CERT:
        snprintf(k, cap, "pckcert-%s-%s-%s%s", w.qeid, w.pceid, w.cpusvn, w.pcesvn);
        break;
    }
}

kt_status kt_coll_query_parse(const char *raw, size_t n, kt_coll_query *q)
{
    if (!raw || !q) return kt_fail(KT_ERR_INVALID_ARGUMENT, "query: NULL argument");
    memset(q, 0, sizeof *q);
    if (n > 1024) return kt_fail(KT_ERR_MALFORMED, "request target over 1024 bytes");
    const char *qm = memchr(raw, '?', n);
    size_t path_len = qm ? (size_t)(qm - raw) : n;
    size_t r;
    for (r = 0; r < sizeof routes / sizeof routes[0]; r++)
        if (is(raw, path_len, routes[r].path)) break;
    if (r == sizeof routes / sizeof routes[0]) {
        char why[256];
        bad("no such path", raw, path_len);
        snprintf(why, sizeof why, "%s", kt_last_error());
        return kt_fail(KT_ERR_NOT_FOUND, "%s", why);
    }
    q->id.kind = routes[r].kind;
    q->id.tee = routes[r].tee;
    q->route = routes[r].route;
    q->api = routes[r].api == 3 ? 3 : 4;
    q->crl_pem = routes[r].kind == KT_PCS_PCK_CRL; /* Intel PCS sends PEM unless asked for DER */
    unsigned seen = 0;
    const char *at = qm ? qm + 1 : raw + n, *end = raw + n;
    if (qm && at == end) return kt_fail(KT_ERR_MALFORMED, "empty query after '?'");
    while (at < end) {
        const char *amp = memchr(at, '&', (size_t)(end - at));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(at, '=', (size_t)(stop - at));
        if (stop == at) return kt_fail(KT_ERR_MALFORMED, "empty parameter in the query");
        if (!eq) return bad("parameter without a value:", at, (size_t)(stop - at));
        size_t nl = (size_t)(eq - at), p;
        for (p = 0; p < sizeof params / sizeof params[0]; p++)
            if (is(at, nl, params[p].name)) break;
        if (p == sizeof params / sizeof params[0] || !(routes[r].allowed & params[p].p))
            return bad("unknown parameter", at, nl);
        if (seen & params[p].p) return bad("parameter given twice:", at, nl);
        seen |= params[p].p;
        kt_status st = value(q, params[p].p, eq + 1, (size_t)(stop - eq - 1));
        if (st) return st;
        at = amp ? amp + 1 : end;
        if (amp && at == end) return kt_fail(KT_ERR_MALFORMED, "empty parameter in the query");
    }
    if (q->route == KT_COLL_REFRESH && (seen & P_FMSPC) && q->refresh != KT_COLL_REFRESH_CERTS &&
        q->refresh != KT_COLL_REFRESH_TCBINFO)
        return kt_fail(KT_ERR_MALFORMED, "fmspc is taken with type=certs or type=tcbinfo only");
    if ((seen & P_UPDATE) && (seen & P_EVAL))
        return kt_fail(KT_ERR_MALFORMED,
                       "update and tcbEvaluationDataNumber cannot be used together");
    unsigned missing = routes[r].required & ~seen;
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++)
        if (missing & params[p].p)
            return kt_fail(KT_ERR_MALFORMED, "missing parameter '%s'", params[p].name);
    make_key(q);
    return KT_OK;
}

kt_status kt_coll_key_parse(const char *key, kt_coll_query *q)
{
    char uri[256];
    const char *k = key;
    size_t n = key ? strnlen(key, KT_COLL_KEY_MAX) : KT_COLL_KEY_MAX;
    if (n >= KT_COLL_KEY_MAX) return kt_fail(KT_ERR_MALFORMED, "item key too long");
    size_t pre = !strncmp(k, "platform-", 9) ? 9 : 0;
    if (pre && n == pre + 32 + 1 + 4 && k[pre + 32] == '-') {
        /* a registration (held or queued): the platform's QE ID and PCE ID, lower-case
         * hex as written */
        char qe[33], pce[5];
        memset(q, 0, sizeof *q);
        memcpy(qe, k + pre, 32), memcpy(pce, k + pre + 33, 4);
        qe[32] = pce[4] = '\0';
        for (size_t i = pre; i < n; i++)
            if (i != pre + 32 && !((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
                return bad("unknown item key", k, n);
        if (kt_hex_decode(qe, q->qeid, 16) || kt_hex_decode(pce, q->pceid, 2))
            return bad("unknown item key", k, n);
        q->route = KT_COLL_PLATFORM;
        memcpy(q->key, k, n + 1);
        return KT_OK;
    }
    /* the evaluation asked for: "-early" or "-eval<N>" at the end */
    const char *dash = strrchr(k, '-');
    char upd[48] = "";
    size_t base = n;
    if (n > 6 && !strcmp(k + n - 6, "-early"))
        base = n - 6, snprintf(upd, sizeof upd, "update=early");
    else if (dash && !strncmp(dash, "-eval", 5) && dash[5] && strlen(dash + 5) <= 10)
        base = (size_t)(dash - k),
        snprintf(upd, sizeof upd, "tcbEvaluationDataNumber=%s", dash + 5);
    bool early = base != n;
    int len;
    if (!strcmp(k, "rootcacrl"))
        len = snprintf(uri, sizeof uri, "/sgx/certification/v4/rootcacrl");
    else if (!strncmp(k, "pckcrl-", 7))
        len = snprintf(uri, sizeof uri, "/sgx/certification/v4/pckcrl?ca=%s&encoding=der", k + 7);
    else if (!strncmp(k, "sgx-tcb-", 8) && n == 23 && !strcmp(k + 20, "-v3"))
        len = snprintf(uri, sizeof uri, "/sgx/certification/v3/tcb?fmspc=%.12s", k + 8);
    else if ((!strncmp(k, "sgx-tcb-", 8) || !strncmp(k, "tdx-tcb-", 8)) && base == 20)
        len = snprintf(uri, sizeof uri, "/%.3s/certification/v4/tcb?fmspc=%.12s%s%s", k, k + 8,
                       early ? "&" : "", upd);
    else if ((!strncmp(k, "sgx-qe", 6) || !strncmp(k, "tdx-qe", 6)) && base == 6)
        len = snprintf(uri, sizeof uri, "/%.3s/certification/v4/qe/identity%s%s", k,
                       early ? "?" : "", upd);
    else if (!strncmp(k, "pckcert-", 8) && n == 8 + 32 + 1 + 4 + 1 + 36 && k[40] == '-' &&
             k[45] == '-')
        len =
            snprintf(uri, sizeof uri,
                     "/sgx/certification/v4/pckcert?qeid=%.32s&pceid=%.4s&cpusvn=%.32s&pcesvn=%.4s",
                     k + 8, k + 41, k + 46, k + 78);
    else if ((!strcmp(k, "sgx-tcbeval") || !strcmp(k, "tdx-tcbeval")))
        len = snprintf(uri, sizeof uri, "/%.3s/certification/v4/tcbevaluationdatanumbers", k);
    else if (!strncmp(k, "sgx-qve", 7) && base == 7)
        len = snprintf(uri, sizeof uri, "/sgx/certification/v4/qve/identity%s%s", early ? "?" : "",
                       upd);
    else
        return bad("unknown item key", k, n);
    kt_status st = kt_coll_query_parse(uri, (size_t)len, q);
    if (st || strcmp(q->key, k) || q->route != KT_COLL_ITEM) return bad("unknown item key", k, n);
    q->crl_pem = false;
    return KT_OK;
}

void kt_coll_upstream_path(const kt_coll_query *q, bool pcs, char *out, size_t cap)
{
    words w;
    words_of(q, &w);
    if (q->route != KT_COLL_ITEM) {
        if (q->route == KT_COLL_FMSPCS)
            snprintf(out, cap, "/sgx/certification/v4/fmspcs");
        else
            snprintf(out, cap, "/sgx/certification/v4/pckcerts?encrypted_ppid=%s&pceid=%s", q->ppid,
                     w.pceid);
        return;
    }
    switch (q->id.kind) {
    case KT_PCS_ROOT_CRL:
        snprintf(out, cap, "/sgx/certification/v4/rootcacrl");
        break;
    case KT_PCS_TCB_EVAL:
        snprintf(out, cap, "/%s/certification/v4/tcbevaluationdatanumbers", w.tee);
        break;
    case KT_PCS_PCK_CRL:
        snprintf(out, cap, "/sgx/certification/v4/pckcrl?ca=%s&encoding=der", w.ca);
        break;
    case KT_PCS_TCB:
        if (q->api == 3)
            snprintf(out, cap, "/sgx/certification/v3/tcb?fmspc=%s", w.fmspc);
        else
            snprintf(out, cap, "/%s/certification/v4/tcb?fmspc=%s&%s", w.tee, w.fmspc,
                     w.upstream_eval);
        break;
    case KT_PCS_QE_IDENTITY:
        snprintf(out, cap, "/%s/certification/v4/qe/identity?%s", w.tee, w.upstream_eval);
        break;
    case KT_PCS_QVE_IDENTITY:
        snprintf(out, cap, "/sgx/certification/v4/qve/identity?%s", w.upstream_eval);
        break;
    case KT_PCS_PCK_CERT: {
        /* Intel PCS takes no qeid; encrypted_ppid only when it was given */
        char ppid[KT_COLL_PPID_HEX + 24] = "", qeid[48] = "";
        if (q->ppid[0]) snprintf(ppid, sizeof ppid, "encrypted_ppid=%s&", q->ppid);
        if (!pcs) snprintf(qeid, sizeof qeid, "qeid=%s&", w.qeid);
        snprintf(out, cap, "/sgx/certification/v4/pckcert?%s%scpusvn=%s&pcesvn=%s&pceid=%s", ppid,
                 qeid, w.cpusvn, w.pcesvn, w.pceid);
        break;
    }
    }
}
