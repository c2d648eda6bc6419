/* Inside an enclave: collateral for a peer's quote, asked of the host through the
 * untrusted function kt.attest.Collateral. The bundle is untrusted bytes; it is read here
 * and kept by its SHA-256 (the last few), so the same collateral is read once and a warm
 * handshake pays an OCALL and a hash. Entries in use are never freed under their users. */
#include "internal.h"
#include "tff.pb-c.h"

#include <kubetee/trusted.h>
#include <string.h>

#define SLOTS 4

typedef struct {
    kt_collateral *c;
    uint8_t hash[32];
    unsigned users;
    unsigned long used_at; /* for eviction: the least recently used unused entry goes */
} slot;

static kt_mutex lock = KT_MUTEX_INIT;
static slot slots[SLOTS];
static unsigned long clock_ticks;

static slot *find(const uint8_t hash[32])
{
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].c && !memcmp(slots[i].hash, hash, 32)) return &slots[i];
    return NULL;
}

kt_status kt_collateral_for_quote(const uint8_t *quote, size_t n, const kt_collateral **out)
{
    if (!quote || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "collateral: NULL argument");
    *out = NULL;
    Kubetee__Tff__Blob req = KUBETEE__TFF__BLOB__INIT, res = KUBETEE__TFF__BLOB__INIT;
    req.data.data = (uint8_t *)quote;
    req.data.len = n;
    kt_status st = kt_ocall("kt.attest.Collateral", &req, &res);
    if (st) return kt_fail_context(st, "collateral from the host");
    uint8_t hash[32];
    if ((st = kt_sha256(res.data.data, res.data.len, hash))) return st;
    kt_mutex_lock(&lock);
    slot *s = find(hash);
    if (s) {
        s->users++;
        s->used_at = ++clock_ticks;
        *out = s->c;
    }
    kt_mutex_unlock(&lock);
    if (s) return KT_OK;

    kt_collateral *c = NULL;
    if ((st = kt_collateral_from_bundle(res.data.data, res.data.len, &c)))
        return kt_fail_context(st, "collateral from the host");
    kt_collateral *evicted = NULL;
    kt_mutex_lock(&lock);
    if ((s = find(hash))) { /* another thread read the same bundle meanwhile */
        evicted = c;
    } else {
        /* an empty slot, else the least recently used one nobody is using */
        for (unsigned i = 0; i < SLOTS; i++) {
            if (slots[i].users) continue;
            if (!slots[i].c) {
                s = &slots[i];
                break;
            }
            if (!s || slots[i].used_at < s->used_at) s = &slots[i];
        }
        if (s) {
            evicted = s->c;
            s->c = c;
            memcpy(s->hash, hash, 32);
        }
    }
    if (s) {
        s->users++;
        s->used_at = ++clock_ticks;
        *out = s->c;
    }
    kt_mutex_unlock(&lock);
    kt_collateral_free(evicted);
    /* every slot in use: this caller's collateral is its own, freed when released */
    if (!s) *out = c;
    return KT_OK;
}

/* The enclave is unloaded (sim): what it kept goes with it. */
__attribute__((destructor)) static void forget_all(void)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        kt_collateral_free(slots[i].c);
        slots[i].c = NULL;
    }
}

void kt_collateral_release(const kt_collateral *c)
{
    if (!c) return;
    bool kept = false;
    kt_mutex_lock(&lock);
    for (unsigned i = 0; i < SLOTS && !kept; i++)
        if (slots[i].c == c) {
            slots[i].users--;
            kept = true;
        }
    kt_mutex_unlock(&lock);
    if (!kept) kt_collateral_free((kt_collateral *)c);
}

/* The enclave's own clock, when it has one (kt_attest_set_time_source): set once. */
static kt_status (*time_source)(int64_t *);

kt_status kt_attest_set_time_source(kt_status (*source)(int64_t *))
{
    if (!source) return kt_fail(KT_ERR_INVALID_ARGUMENT, "time source: NULL");
    kt_mutex_lock(&lock);
    bool taken = time_source && time_source != source;
    if (!taken) time_source = source;
    kt_mutex_unlock(&lock);
    if (taken) return kt_fail(KT_ERR_INVALID_ARGUMENT, "time source: already set to another; there is one clock");
    return KT_OK;
}

kt_status kt_attest_host_time(time_t *now)
{
    if (!now) return kt_fail(KT_ERR_INVALID_ARGUMENT, "time: NULL argument");
    kt_mutex_lock(&lock);
    kt_status (*source)(int64_t *) = time_source;
    kt_mutex_unlock(&lock);
    if (source) {
        int64_t t;
        kt_status st = source(&t);
        if (st) return kt_fail_context(st, "time from the enclave's clock");
        *now = (time_t)t;
        return KT_OK;
    }
    Kubetee__Tff__Empty req = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Blob res = KUBETEE__TFF__BLOB__INIT;
    kt_status st = kt_ocall("kt.attest.Time", &req, &res);
    if (st) return kt_fail_context(st, "time from the host");
    if (res.data.len != 8)
        return kt_fail(KT_ERR_MALFORMED, "time from the host: %zu bytes, not 8", res.data.len);
    *now = (time_t)kt_le64(res.data.data);
    return KT_OK;
}
