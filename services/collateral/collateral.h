/* kubetee-collateral: a PCCS-compatible cache of DCAP collateral (Intel PCS/PCCS API v4),
 * every item verified to a pinned root before it is cached and before it is served.
 * Internal to the service (and its tests and fuzz targets). */
#ifndef KT_COLLATERAL_H
#define KT_COLLATERAL_H

#include <kubetee/attest.h>
#include <kubetee/svc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* ---- queries (query.c) ---- */
#define KT_COLL_KEY_MAX 96
#define KT_COLL_PPID_HEX 768 /* encrypted_ppid: RSA-3072 */

/* What a request asks for: one item, or a list made of items held */
typedef enum {
    KT_COLL_ITEM,
    KT_COLL_PCKCERTS,
    KT_COLL_FMSPCS,
    KT_COLL_PLATFORM, /* a stored platform registration ("platform-<qeid>-<pceid>") */
} kt_coll_route;

typedef struct {
    kt_pcs_item_id id;
    kt_coll_route route;
    unsigned platform;         /* fmspcs: 0 all, 1 client, 2 E3, 3 E5 */
    bool early;                /* update=early: the early TCB evaluation data set */
    bool crl_pem;              /* pckcrl without encoding=der: PEM, Intel PCS's default */
    char key[KT_COLL_KEY_MAX]; /* the cache key, e.g. "sgx-tcb-00a067110000" */
    /* pckcert: the platform (QE ID, PCE ID) and its raw TCB (CPUSVN, PCESVN as sent:
     * little-endian) */
    uint8_t qeid[16], cpusvn[16], pcesvn[2], pceid[2];
    char ppid[KT_COLL_PPID_HEX + 1]; /* encrypted_ppid when given, for upstream only */
} kt_coll_query;

/* Parses a request target as sent ("/sgx/certification/v4/tcb?fmspc=..."): the path
 * exactly, and only the parameters that path takes, each at most once, each value in its
 * exact form (hex of exact length, either case; enumerations in lower case). Fails with
 * KT_ERR_NOT_FOUND for a path that is not served and KT_ERR_MALFORMED for a bad query,
 * the reason naming the parameter (escaped). */
kt_status kt_coll_query_parse(const char *raw_uri, size_t n, kt_coll_query *q);
/* v is one of words (a NULL-terminated list); *index says which. Fails naming `name` and
 * every word allowed. Queries and settings both use it. */
kt_status kt_coll_word(const char *name, const char *const *words, const char *v, size_t n,
                       unsigned *index);
/* A cache key back to what it names (an allow-list: records and imports use it). */
kt_status kt_coll_key_parse(const char *key, kt_coll_query *q);
/* The path and query to fetch the item from upstream: a PCCS's, or Intel PCS's (pcs:
 * pckcert without qeid). */
void kt_coll_upstream_path(const kt_coll_query *q, bool pcs, char *out, size_t cap);

/* ---- records (record.c): one item as stored and exported ----
 *   "KTCI1 <key> <verified at> <chain bytes> <body bytes>\n" <chain PEM> <body>
 * "verified at" (Unix seconds) is when it last verified: an item that has expired since
 * is verified at that time instead, to be known as expired (served only inside grace).
 * An export is "kubetee-collateral-export 1\n" followed by records. Strict: exact
 * spacing, decimal lengths without leading zeros, keys that kt_coll_key_parse accepts. */
#define KT_COLL_ITEM_MAX (1u << 20)

typedef struct {
    char key[KT_COLL_KEY_MAX];
    time_t verified_at;
    const uint8_t *chain, *body; /* views into the parsed bytes */
    size_t chain_len, body_len;
} kt_coll_record;

kt_status kt_coll_record_write(kt_buf *out, const char *key, time_t verified_at, const void *chain,
                               size_t chain_len, const void *body, size_t body_len);
/* Parses the record at *data, advancing it and *n past it. */
kt_status kt_coll_record_next(const uint8_t **data, size_t *n, kt_coll_record *r);
#define KT_COLL_EXPORT_MAGIC "kubetee-collateral-export 1\n"

/* ---- storage (store.c): items by key, behind one small interface ---- */
typedef struct kt_coll_store kt_coll_store;
typedef struct {
    kt_status (*put)(kt_coll_store *s, const char *key, const kt_buf *record);
    kt_status (*get)(kt_coll_store *s, const char *key, kt_buf *record);
    /* calls fn for every key held */
    kt_status (*list)(kt_coll_store *s, void (*fn)(void *arg, const char *key), void *arg);
    void (*free)(kt_coll_store *s);
} kt_coll_store_ops;
struct kt_coll_store {
    const kt_coll_store_ops *ops;
};
/* A directory: one file per item (<key>.item), written atomically. */
kt_status kt_coll_store_dir(const char *dir, kt_coll_store **out);
/* One SQLite file (table items: key, record). */
kt_status kt_coll_store_sqlite(const char *path, kt_coll_store **out);

/* ---- configuration (config.c) ---- */
typedef struct {
    char listen[64];
    char mode[16];          /* lazy | offline */
    char upstream_url[512]; /* another PCCS, or Intel PCS */
    char upstream_kind[8];  /* pccs | pcs */
    char api_key_file[512]; /* Intel PCS subscription key, one line */
    char root_ca[512];      /* the pinned trust anchor (PEM) */
    char root_crl_url[512]; /* pcs: where the root CA CRL is published */
    char storage[8];        /* dir | sqlite */
    char storage_dir[512];
    char storage_file[512];
    char tls_cert[512], tls_key[512]; /* PEM files: HTTPS on listen */
    char log_format[8];
    char metrics_address[64]; /* empty: the API's address */
    unsigned threads;
    unsigned per_address;   /* open connections from one client address at once */
    long long now;          /* testing: a fixed clock (0: the real one) */
    long long grace;        /* seconds an item may be served past its nextUpdate (0: never) */
    long long refresh;      /* refresh an item this many seconds before it expires (0: off) */
    unsigned refresh_every; /* seconds between refresh passes */
    unsigned upstream_rate; /* upstream fetches per second at most (a burst of as many) */
    unsigned drain_ms;
    char api_key[256];
    char admin_token_file[512], user_token_file[512];
    char admin_token[256], user_token[256]; /* empty: none */
} kt_coll_config;

/* Defaults, then the YAML file (--config or KT_COLLATERAL_CONFIG), then the environment
 * (KT_COLLATERAL_<NAME>), then flags. Unknown keys, flags and bad values fail naming
 * them. argv[first..] are the options. */
kt_status kt_coll_config_load(int argc, char **argv, int first, kt_coll_config *c);
void kt_coll_config_usage(FILE *f);

/* ---- the proxy (proxy.c) ---- */
typedef struct kt_coll_proxy kt_coll_proxy;

kt_status kt_coll_proxy_new(const kt_coll_config *c, kt_coll_proxy **out);
void kt_coll_proxy_free(kt_coll_proxy *p);
time_t kt_coll_now(const kt_coll_proxy *p);
void kt_coll_proxy_handle(void *ctx, const char *method, const char *raw_uri, kt_http_reply *r);
bool kt_coll_proxy_ready(void *ctx);
void kt_coll_proxy_metrics(void *ctx, kt_buf *out);
/* One pass of refresh-ahead: items within `refresh` seconds of expiry fetched again. */
void kt_coll_proxy_refresh(kt_coll_proxy *p);
/* Verifies an item and, when it holds, caches and stores it (import, fetch). */
kt_status kt_coll_proxy_admit(kt_coll_proxy *p, const kt_coll_query *q, const uint8_t *chain,
                              size_t chain_len, const uint8_t *body, size_t body_len, bool store);
/* Registers a platform's PCK certificate (OFFLINE, REQ): leaf and issuer chain (PEM) as
 * a quote carries them, under the platform's QE ID; verified like every item (the PCK
 * CRL of its CA must be held). */
kt_status kt_coll_proxy_register_pck(kt_coll_proxy *p, const uint8_t qeid[16], const char *leaf,
                                     size_t leaf_len, const char *chain, size_t chain_len,
                                     bool store);
/* A platform as PCCS's POST /sgx/certification/v4/platforms registers it (the PCK ID
 * retrieval tool's output): QE ID, PCE ID, raw TCB (CPUSVN; PCESVN little-endian, as
 * sent) and the encrypted PPID (hex, as sent). */
typedef struct {
    uint8_t qeid[16], pceid[2], cpusvn[16], pcesvn[2];
    char ppid[KT_COLL_PPID_HEX + 1];
} kt_coll_platform;

/* Strict: a JSON object of exactly PCCS's keys (qe_id, pce_id, cpu_svn, pce_svn, enc_ppid,
 * and platform_manifest only empty), each once, hex of the exact length. Fails naming the
 * key. */
kt_status kt_coll_platform_parse(const uint8_t *json, size_t n, kt_coll_platform *out);
/* Intel PCS's pckcerts answer: a JSON array of {tcb, tcbm, cert}; cert URL-encoded PEM or
 * "Not available" (pem empty). */
typedef struct {
    uint8_t tcbm[18]; /* CPUSVN then PCESVN (little-endian), as tcbm says */
    kt_buf pem;
} kt_coll_pckcert;
kt_status kt_coll_pckcerts_parse(const uint8_t *json, size_t n, kt_coll_pckcert **out,
                                 size_t *count);
void kt_coll_pckcerts_free(kt_coll_pckcert *certs, size_t count);
/* REQ mode's (and lazy mode's) registration: fetches the platform's PCK certificates
 * (Intel PCS: all of them; another PCCS: the one for its raw TCB) and the collateral its
 * quotes need, each verified and stored; the platform is then found by its encrypted PPID. */
kt_status kt_coll_proxy_register(kt_coll_proxy *p, const kt_coll_platform *pl);
/* The POST handler (platforms.c): the admin token, the body, the registration. */
void kt_coll_proxy_post(void *ctx, const uint8_t *body, size_t n, kt_http_reply *r);
/* want is held by got, compared in constant time. */
bool kt_coll_token_holds(const char *want, const char *got);
const kt_coll_config *kt_coll_proxy_config(const kt_coll_proxy *p);

/* Everything stored, as an export. */
kt_status kt_coll_proxy_export(kt_coll_proxy *p, kt_buf *out);

#endif
