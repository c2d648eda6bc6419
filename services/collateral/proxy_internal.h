/* kubetee-collateral's proxy inside: the cache's entries, the platform registry and the
 * proxy's state, shared by proxy.c (serving, fetching, verifying) and admin_ops.c (what
 * the admin paths do). Internal to the service. */
#ifndef KT_COLLATERAL_PROXY_INTERNAL_H
#define KT_COLLATERAL_PROXY_INTERNAL_H

#include "collateral.h"

typedef struct {
    kt_coll_query q;
    kt_buf chain, body;
    kt_buf headers; /* the item's response headers, issuer chain URL-encoded */
    kt_pcs_validity v;
    time_t verified_at;
} coll_entry;

enum {
    R_BAD_REQUEST,
    R_NOT_FOUND,
    R_METHOD,
    R_NOT_CACHED,
    R_EXPIRED,
    R_UPSTREAM_UNAVAILABLE,
    R_UPSTREAM_UNVERIFIED,
    R_UPSTREAM_NOT_FOUND,
    R_STORE_UNVERIFIED,
    R_RATE,
    R_UNAUTHORIZED,
    R_COUNT
};

/* A platform registered (POST /platforms, PUT /platformcollateral): as registered, found by
 * its encrypted PPID's SHA-256 (pckcerts); queued while its collateral is not held. */
typedef struct {
    kt_coll_platform reg;
    uint8_t ppid_sha256[32];
    bool queued;
} coll_platform;

struct kt_coll_proxy {
    kt_coll_config cfg;
    kt_buf root_pem;          /* the pinned anchor: scratch trusts judge PUT bodies with it */
    coll_platform *platforms; /* under lock */
    size_t platform_count;
    bool registering; /* a registration is fetching (under fetch): req mode may fetch */
    kt_pcs_trust *trust;
    kt_coll_store *store;
    pthread_rwlock_t lock; /* entries */
    coll_entry **entries;
    size_t count, cap;
    pthread_mutex_t fetch; /* upstream fetches and verification, one at a time */
    bool need_platform_ca; /* the CA whose PCK CRL a PCK certificate needed */
    double tokens;         /* upstream fetches allowed now (under fetch) */
    bool rate_limited;     /* the last fetch was not made: over upstream_rate */
    struct timespec filled;
    uint8_t rid_prefix[8];
    atomic_ulong rid;
    atomic_ulong hits, misses, fetches, upstream_errors, grace_served, refreshes;
    atomic_ulong refusals[R_COUNT];
};

/* The CRLs that judge the other items, in the order they are loaded and refreshed. */
extern const char *const coll_judges[3];
bool coll_is_judge(const char *key);
/* Under p->lock. */
coll_entry *coll_find(kt_coll_proxy *p, const char *key);
/* Verifies an item now and caches it (and stores it). Under p->fetch. */
kt_status coll_admit(kt_coll_proxy *p, const kt_coll_query *q, const uint8_t *chain,
                     size_t chain_len, const uint8_t *body, size_t body_len, bool store);
/* One item from upstream, admitted; *code: upstream's HTTP status. Under p->fetch. */
kt_status coll_fetch_upstream(kt_coll_proxy *p, const kt_coll_query *q, long *code);
/* The root CA CRL valid now: held, or fetched. Under p->fetch. */
kt_status coll_ensure_root(kt_coll_proxy *p, time_t now);
/* Intel PCS's pckcerts for a platform fetched and held; pckcerts entries verified and held
 * (one bad entry holds none). Under p->fetch. */
kt_status coll_fetch_pckcerts(kt_coll_proxy *p, const kt_coll_platform *pl, const char *pceid);
kt_status coll_hold_pckcerts(kt_coll_proxy *p, const uint8_t qeid[16], const kt_coll_pckcert *certs,
                             size_t n, const kt_buf *chain, bool store);
/* A TCB Info's version must be want (v3's path serves version 2). */
kt_status coll_tcb_info_version(const uint8_t *body, size_t n, long long want);
/* The platform registry (admin_ops.c): known in memory; kept in storage too. */
kt_status coll_platform_set(kt_coll_proxy *p, const kt_coll_platform *reg, bool queued);
kt_status coll_platform_keep(kt_coll_proxy *p, const kt_coll_platform *reg, bool queued);

#endif
