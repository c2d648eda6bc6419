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
    KT_COLL_PLATFORM,  /* a stored platform registration ("platform-<qeid>-<pceid>"): held,
                          or queued waiting for its collateral */
    KT_COLL_PLATFORMS, /* admin: GET /platforms, the registered platforms */
    KT_COLL_REFRESH,   /* admin: GET or POST /refresh */
} kt_coll_route;

#define KT_COLL_FMSPC_LIST 64 /* FMSPCs in a source=[...] or fmspc=[...] list at most */

typedef struct {
    kt_pcs_item_id id;
    kt_coll_route route;
    unsigned api;              /* 4, or 3: a v3 path (its TCB Info is an item of its own) */
    unsigned platform;         /* fmspcs: 0 all, 1 client, 2 E3, 3 E5 */
    bool early;                /* update=early: the early TCB evaluation data set */
    bool crl_pem;              /* pckcrl without encoding=der: PEM, Intel PCS's default */
    char key[KT_COLL_KEY_MAX]; /* the cache key, e.g. "sgx-tcb-00a067110000" */
    /* pckcert: the platform (QE ID, PCE ID) and its raw TCB (CPUSVN, PCESVN as sent:
     * little-endian) */
    uint8_t qeid[16], cpusvn[16], pcesvn[2], pceid[2];
    char ppid[KT_COLL_PPID_HEX + 1]; /* encrypted_ppid when given, for upstream only */
    /* admin: platforms' source (0 reg, 1 reg_na, 2 the FMSPC list), refresh's type (PCCS's
     * certs, or all the collateral, or a kind of it) and the FMSPCs listed ([] and none:
     * all) */
    unsigned source;
    enum {
        KT_COLL_REFRESH_ALL,
        KT_COLL_REFRESH_CERTS,
        KT_COLL_REFRESH_CRLS,
        KT_COLL_REFRESH_TCBINFO,
        KT_COLL_REFRESH_IDENTITIES,
    } refresh;
    bool listed;
    uint8_t fmspcs[KT_COLL_FMSPC_LIST][6];
    unsigned fmspc_count;
} kt_coll_query;

/* Parses a request target as sent ("/sgx/certification/v4/tcb?fmspc=..."): the path
 * exactly, and only the parameters that path takes, each at most once, each value in its
 * exact form (hex of exact length, either case; enumerations in lower case). Fails with
 * KT_ERR_NOT_FOUND for a path that is not served and KT_ERR_MALFORMED for a bad query,
 * the reason naming the parameter (escaped). */
kt_status kt_coll_query_parse(const char *raw_uri, size_t n, kt_coll_query *q);
/* Whether a request target is an admin path (the admin token judges it, not the user's). */
bool kt_coll_admin_path(const char *raw_uri);
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
    char admin_token[256], user_token[256]; /* empty: none (the environment's, then the files') */
} kt_coll_config;

/* The settings table (config.c) read by kt_settings_load (kubetee/svc.h): defaults, the
 * YAML file (--config or KT_COLLATERAL_CONFIG), the environment (KT_COLLATERAL_<NAME>),
 * flags; then the checks between settings and the key and token files read. argv[first..]
 * are the options; --help sets *help (the usage printed). */
kt_status kt_coll_config_load(int argc, char **argv, int first, kt_coll_config *c, bool *help);
void kt_coll_config_usage(FILE *f);
/* The settings in effect, one log line (tokens and the API key never in it). */
void kt_coll_config_log(const kt_coll_config *c);

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
 * sent), the encrypted PPID (hex, as sent; empty when a platform manifest stands for it)
 * and the platform manifest of a multi-package platform (hex, as sent; empty: none). */
#define KT_COLL_MANIFEST_HEX 65536
typedef struct {
    uint8_t qeid[16], pceid[2], cpusvn[16], pcesvn[2];
    bool has_tcb; /* cpu_svn and pce_svn were given (platformcollateral may leave them empty) */
    char ppid[KT_COLL_PPID_HEX + 1];
    kt_buf manifest;
} kt_coll_platform;

/* Strict: a JSON object of exactly PCCS's keys (qe_id, pce_id, cpu_svn, pce_svn, enc_ppid,
 * platform_manifest), each once, hex of the exact length; enc_ppid or platform_manifest
 * (or both); cpu_svn and pce_svn both empty when tcb_optional. Fails naming the key. */
kt_status kt_coll_platform_parse(const uint8_t *json, size_t n, bool tcb_optional,
                                 kt_coll_platform *out);
void kt_coll_platform_clear(kt_coll_platform *pl);
/* The registration as PCCS's GET /platforms lists it: one JSON object. */
kt_status kt_coll_platform_json(const kt_coll_platform *pl, kt_buf *out);
/* Intel PCS's pckcerts answer: a JSON array of {tcb, tcbm, cert}; cert URL-encoded PEM or
 * "Not available" (pem empty). */
typedef struct kt_coll_pckcert {
    uint8_t tcbm[18]; /* CPUSVN then PCESVN (little-endian), as tcbm says */
    kt_buf pem;
} kt_coll_pckcert;
kt_status kt_coll_pckcerts_parse(const uint8_t *json, size_t n, kt_coll_pckcert **out,
                                 size_t *count);
/* The same from parsed JSON (jansson's), and one object of registration keys: keys those
 * allowed, cpu_svn and pce_svn empty when tcb_optional (platforms.c). */
struct json_t;
kt_status kt_coll_pckcerts_of(struct json_t *a, kt_coll_pckcert **out, size_t *count);
kt_status kt_coll_platform_of(struct json_t *o, const char *const *keys, bool tcb_optional,
                              kt_coll_platform *pl);
/* A request body parsed (jansson's; a duplicate key refused) into *out, which the caller
 * frees; refused, with NULL, naming what is wrong: "body is not JSON: ..." */
kt_status kt_coll_json_body(const uint8_t *json, size_t n, struct json_t **out);
/* encodeURIComponent's output back (a bad %-escape refused). */
kt_status kt_coll_url_decode(const char *s, size_t n, kt_buf *out);
void kt_coll_pckcerts_free(kt_coll_pckcert *certs, size_t count);
/* REQ mode's (and lazy mode's) registration: fetches the platform's PCK certificates
 * (Intel PCS: all of them; another PCCS: the one for its raw TCB) and the collateral its
 * quotes need, each verified and stored; the platform is then found by its encrypted PPID. */
kt_status kt_coll_proxy_register(kt_coll_proxy *p, const kt_coll_platform *pl);
/* Offline mode's registration, and one upstream could not serve: queued (stored) for an
 * admin to list (GET /platforms) and answer (PUT /platformcollateral). */
kt_status kt_coll_proxy_queue(kt_coll_proxy *p, const kt_coll_platform *pl);
/* GET /platforms: the queued registrations (source reg), or the platforms held whose
 * certificates are of the FMSPCs listed (all when none are), as a JSON array; *count. */
kt_status kt_coll_proxy_platforms(kt_coll_proxy *p, const kt_coll_query *q, kt_buf *out,
                                  size_t *count);
/* /refresh: every item of collateral held fetched again now (the root CA CRL first), or
 * those of one kind (CRLs, TCB Info of the FMSPCs listed, enclave identities), or every
 * platform's PCK certificates (of the FMSPCs listed). What fails is said in why; what was
 * held stays. */
kt_status kt_coll_proxy_refresh_now(kt_coll_proxy *p, const kt_coll_query *q, char *why,
                                    size_t cap);

/* PUT /platformcollateral (platformcollateral.c): PCCS's body, parsed strictly. */
typedef struct {
    kt_coll_query q; /* what the item is */
    kt_buf chain, body;
} kt_coll_put_item;
typedef struct {
    kt_coll_platform *platforms; /* the "platforms" list: registrations (raw TCBs) */
    size_t platform_count;
    /* "pck_certs": per platform, its certificates and their issuer chain (by CA type) */
    struct kt_coll_put_certs {
        kt_coll_platform platform;
        struct kt_coll_pckcert *certs;
        size_t count;
    } * pck;
    size_t pck_count;
    kt_buf pck_chain[2];     /* PROCESSOR, PLATFORM */
    kt_coll_put_item *items; /* the collateral, the CRLs first */
    size_t item_count;
} kt_coll_put;
/* api 4: v4's body ("version": 4; tcbinfos' sgx_tcbinfo, or tcbinfo, and tdx_tcbinfo); api
 * 3: v3's (no version; tcbinfos' tcbinfo, PCS v3's TCB Info, held as v3's item). */
kt_status kt_coll_put_parse(const uint8_t *json, size_t n, unsigned api, kt_coll_put *out);
void kt_coll_put_free(kt_coll_put *put);
/* Verifies everything the body holds (a scratch trust: nothing held changes), then holds
 * and stores it all; a body with one item that does not verify stores nothing. */
kt_status kt_coll_proxy_put(kt_coll_proxy *p, const kt_coll_put *put);

/* The admin and registration handlers (admin.c). */
bool kt_coll_admin_admit(void *ctx, kt_http_reply *r);
void kt_coll_admin_body(void *ctx, const char *method, const char *raw_uri, const uint8_t *body,
                        size_t n, kt_http_reply *r);
void kt_coll_admin_get(kt_coll_proxy *p, const kt_coll_query *q, kt_http_reply *r);
/* want is held by got, compared in constant time. */
bool kt_coll_token_holds(const char *want, const char *got);
const kt_coll_config *kt_coll_proxy_config(const kt_coll_proxy *p);

/* Everything stored, as an export. */
kt_status kt_coll_proxy_export(kt_coll_proxy *p, kt_buf *out);

#endif
