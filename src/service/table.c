/* The enclave service's session table: where each session stands, the limits, and the
 * refusal counts. One lock; sessions found by id through a chained hash (ids are random,
 * so their first 8 bytes spread well). */
#include <kubetee/service.h>
#include <kubetee/svc.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONE SIZE_MAX

typedef struct {
    bool used, bound, established, removed, busy;
    uint8_t id[KT_SERVICE_ID_LEN], peer[KT_SERVICE_PEER_ID_LEN];
    uint64_t opened, last;
    uint64_t next_ticket, serving; /* calls in order: a ticket each, served in turn */
    size_t waiters;
    size_t hnext;
} slot;

struct kt_service_table {
    kt_service_limits lim;
    pthread_mutex_t lock;
    pthread_cond_t turn;
    slot *slots;
    size_t *free_list, n_free;
    size_t *buckets, nbuckets;
    size_t open, established;
    uint64_t counts[KT_SERVICE_REASON_COUNT];
};

static const char *const reason_names[KT_SERVICE_REASON_COUNT] = {
    "too_large", "sessions", "peer_sessions", "unknown_session", "not_established", "handshake_timeout", "idle",
};

const char *kt_service_reason_name(kt_service_reason r)
{
    return r < KT_SERVICE_REASON_COUNT ? reason_names[r] : "unknown";
}

uint64_t kt_service_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

kt_status kt_service_table_new(const kt_service_limits *l, kt_service_table **out)
{
    if (!l || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: NULL argument");
    *out = NULL;
    if (!l->max_message || !l->max_sessions || !l->max_per_peer || !l->handshake_ms || !l->idle_ms)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: every limit must be set (max_message, max_sessions, "
                                                "max_per_peer, handshake_ms, idle_ms)");
    if (l->max_sessions > (1u << 20))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: max_sessions %zu is over %u", l->max_sessions, 1u << 20);
    kt_service_table *t = calloc(1, sizeof *t);
    if (!t) return kt_fail(KT_ERR_NO_MEMORY, "service: out of memory");
    t->lim = *l;
    t->nbuckets = 1;
    while (t->nbuckets < 2 * l->max_sessions) t->nbuckets <<= 1;
    t->slots = calloc(l->max_sessions, sizeof *t->slots);
    t->free_list = calloc(l->max_sessions, sizeof *t->free_list);
    t->buckets = malloc(t->nbuckets * sizeof *t->buckets);
    if (!t->slots || !t->free_list || !t->buckets) {
        kt_service_table_free(t);
        return kt_fail(KT_ERR_NO_MEMORY, "service: out of memory for %zu sessions", l->max_sessions);
    }
    for (size_t i = 0; i < t->nbuckets; i++) t->buckets[i] = NONE;
    for (size_t i = 0; i < l->max_sessions; i++) t->free_list[i] = l->max_sessions - 1 - i;
    t->n_free = l->max_sessions;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->turn, NULL);
    *out = t;
    return KT_OK;
}

void kt_service_table_free(kt_service_table *t)
{
    if (!t) return;
    if (t->slots) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->turn);
    }
    free(t->slots);
    free(t->free_list);
    free(t->buckets);
    free(t);
}

static size_t bucket(const kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN])
{
    return (size_t)(kt_le64(id) & (t->nbuckets - 1));
}

/* The slot of a bound session with that id, removed ones included; NONE if none. */
static size_t find(const kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN])
{
    for (size_t i = t->buckets[bucket(t, id)]; i != NONE; i = t->slots[i].hnext)
        if (memcmp(t->slots[i].id, id, KT_SERVICE_ID_LEN) == 0) return i;
    return NONE;
}

static void unlink_slot(kt_service_table *t, size_t i)
{
    size_t *p = &t->buckets[bucket(t, t->slots[i].id)];
    while (*p != i) p = &t->slots[*p].hnext;
    *p = t->slots[i].hnext;
}

static void free_slot(kt_service_table *t, size_t i)
{
    slot *s = &t->slots[i];
    if (s->bound) unlink_slot(t, i);
    if (s->established) t->established--;
    t->open--;
    memset(s, 0, sizeof *s);
    t->free_list[t->n_free++] = i;
}

static kt_status refuse(kt_service_table *t, kt_service_reason r, kt_status st, const char *why)
{
    t->counts[r]++;
    return kt_fail(st, "service: %s (%s)", why, reason_names[r]);
}

void kt_service_count(kt_service_table *t, kt_service_reason r)
{
    if (r >= KT_SERVICE_REASON_COUNT) return;
    pthread_mutex_lock(&t->lock);
    t->counts[r]++;
    pthread_mutex_unlock(&t->lock);
}

kt_status kt_service_check_size(kt_service_table *t, size_t n)
{
    if (n <= t->lim.max_message) return KT_OK;
    pthread_mutex_lock(&t->lock);
    t->counts[KT_SERVICE_TOO_LARGE]++;
    pthread_mutex_unlock(&t->lock);
    return kt_fail(KT_ERR_TOO_LARGE, "service: a message of %zu bytes is over the limit of %zu (too_large)", n,
                   t->lim.max_message);
}

kt_status kt_service_open(kt_service_table *t, uint64_t now, size_t *out)
{
    pthread_mutex_lock(&t->lock);
    kt_status st = KT_OK;
    if (!t->n_free) {
        st = refuse(t, KT_SERVICE_SESSIONS, KT_ERR_TOO_LARGE, "every session place is taken");
    } else {
        size_t i = t->free_list[--t->n_free];
        slot *s = &t->slots[i];
        s->used = true;
        s->opened = s->last = now;
        s->hnext = NONE;
        t->open++;
        *out = i;
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

kt_status kt_service_bind(kt_service_table *t, size_t i, const uint8_t id[KT_SERVICE_ID_LEN])
{
    pthread_mutex_lock(&t->lock);
    kt_status st = KT_OK;
    if (i >= t->lim.max_sessions || !t->slots[i].used || t->slots[i].bound) {
        st = kt_fail(KT_ERR_STATE, "service: bind of a place that is not a fresh one");
    } else if (find(t, id) != NONE) {
        st = kt_fail(KT_ERR_EXISTS, "service: a session with that id is already open");
    } else {
        slot *s = &t->slots[i];
        memcpy(s->id, id, KT_SERVICE_ID_LEN);
        size_t b = bucket(t, id);
        s->hnext = t->buckets[b];
        t->buckets[b] = i;
        s->bound = true;
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

void kt_service_release(kt_service_table *t, size_t i)
{
    pthread_mutex_lock(&t->lock);
    if (i < t->lim.max_sessions && t->slots[i].used && !t->slots[i].bound) free_slot(t, i);
    pthread_mutex_unlock(&t->lock);
}

/* A live session by id: bound and not removed. */
static size_t live(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN])
{
    size_t i = find(t, id);
    return i != NONE && !t->slots[i].removed ? i : NONE;
}

kt_status kt_service_establish(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN],
                               const uint8_t peer[KT_SERVICE_PEER_ID_LEN], uint64_t now)
{
    pthread_mutex_lock(&t->lock);
    kt_status st = KT_OK;
    size_t i = live(t, id);
    if (i == NONE) {
        st = refuse(t, KT_SERVICE_UNKNOWN_SESSION, KT_ERR_NOT_FOUND, "no open session has that id");
    } else if (t->slots[i].established) {
        st = kt_fail(KT_ERR_STATE, "service: the session is already established");
    } else {
        size_t same = 0;
        for (size_t j = 0; j < t->lim.max_sessions; j++) {
            const slot *o = &t->slots[j];
            if (o->used && o->established && !o->removed && memcmp(o->peer, peer, KT_SERVICE_PEER_ID_LEN) == 0)
                same++;
        }
        if (same >= t->lim.max_per_peer) {
            st = refuse(t, KT_SERVICE_PEER_SESSIONS, KT_ERR_TOO_LARGE, "the peer has every session it may have");
        } else {
            slot *s = &t->slots[i];
            memcpy(s->peer, peer, KT_SERVICE_PEER_ID_LEN);
            s->established = true;
            s->last = now;
            t->established++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

kt_status kt_service_call_begin(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN], uint64_t now,
                                size_t *call)
{
    pthread_mutex_lock(&t->lock);
    kt_status st = KT_OK;
    size_t i = live(t, id);
    if (i == NONE) {
        st = refuse(t, KT_SERVICE_UNKNOWN_SESSION, KT_ERR_NOT_FOUND, "no open session has that id");
    } else if (!t->slots[i].established) {
        st = refuse(t, KT_SERVICE_NOT_ESTABLISHED, KT_ERR_STATE, "a call before the handshake ended");
    } else {
        slot *s = &t->slots[i];
        uint64_t ticket = s->next_ticket++;
        s->waiters++;
        while (s->serving != ticket && !s->removed) pthread_cond_wait(&t->turn, &t->lock);
        s->waiters--;
        if (s->removed) {
            /* hand the turn on, so the calls queued behind this one see the removal too */
            if (s->serving == ticket) s->serving++;
            st = kt_fail(KT_ERR_NOT_FOUND, "service: the session ended while the call waited");
            if (!s->waiters && !s->busy) free_slot(t, i);
            pthread_cond_broadcast(&t->turn);
        } else {
            s->busy = true;
            s->last = now;
            *call = i;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

void kt_service_call_end(kt_service_table *t, size_t i, uint64_t now)
{
    pthread_mutex_lock(&t->lock);
    if (i < t->lim.max_sessions && t->slots[i].used && t->slots[i].busy) {
        slot *s = &t->slots[i];
        s->busy = false;
        s->serving++;
        s->last = now;
        if (s->removed && !s->waiters) free_slot(t, i);
        pthread_cond_broadcast(&t->turn);
    }
    pthread_mutex_unlock(&t->lock);
}

static void remove_locked(kt_service_table *t, size_t i)
{
    slot *s = &t->slots[i];
    if (s->busy || s->waiters) {
        s->removed = true; /* freed by the last call that leaves */
        pthread_cond_broadcast(&t->turn);
    } else {
        free_slot(t, i);
    }
}

kt_status kt_service_remove(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN])
{
    pthread_mutex_lock(&t->lock);
    size_t i = live(t, id);
    if (i != NONE) remove_locked(t, i);
    pthread_mutex_unlock(&t->lock);
    return i == NONE ? kt_fail(KT_ERR_NOT_FOUND, "service: no open session has that id") : KT_OK;
}

size_t kt_service_expire(kt_service_table *t, uint64_t now,
                         void (*ended)(void *ctx, const uint8_t id[KT_SERVICE_ID_LEN]), void *ctx)
{
    kt_buf ids = {0};
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->lim.max_sessions; i++) {
        slot *s = &t->slots[i];
        /* an unbound place belongs to a Hello still in the enclave: its thread binds or
         * releases it; a session in a call is not idle */
        if (!s->used || !s->bound || s->removed || s->busy || s->waiters) continue;
        kt_service_reason r;
        if (!s->established && now - s->opened >= t->lim.handshake_ms)
            r = KT_SERVICE_HANDSHAKE_TIMEOUT;
        else if (s->established && now - s->last >= t->lim.idle_ms)
            r = KT_SERVICE_IDLE;
        else
            continue;
        t->counts[r]++;
        if (kt_buf_append(&ids, s->id, KT_SERVICE_ID_LEN) == KT_OK) n++;
        free_slot(t, i);
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t k = 0; ended && k < n; k++) ended(ctx, ids.data + k * KT_SERVICE_ID_LEN);
    kt_buf_free(&ids);
    return n;
}

size_t kt_service_open_count(kt_service_table *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->open;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t kt_service_waiting(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN])
{
    pthread_mutex_lock(&t->lock);
    size_t i = find(t, id), n = i == NONE ? 0 : t->slots[i].waiters;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void kt_service_metrics(kt_service_table *t, kt_buf *out)
{
    pthread_mutex_lock(&t->lock);
    size_t open = t->open, est = t->established;
    uint64_t counts[KT_SERVICE_REASON_COUNT];
    memcpy(counts, t->counts, sizeof counts);
    pthread_mutex_unlock(&t->lock);
    kt_metric(out, "kubetee_enclave_sessions", "gauge", "Sessions open, by state", "state=\"handshaking\"",
              (double)(open - est));
    kt_metric(out, "kubetee_enclave_sessions", NULL, NULL, "state=\"established\"", (double)est);
    for (int r = 0; r < KT_SERVICE_REASON_COUNT; r++) {
        char label[64];
        snprintf(label, sizeof label, "reason=\"%s\"", reason_names[r]);
        kt_metric(out, "kubetee_enclave_refusals_total", r ? NULL : "counter",
                  r ? NULL : "Messages refused and sessions ended by the service, by reason", label,
                  (double)counts[r]);
    }
}

void kt_service_limits_default(kt_service_limits *l)
{
    *l = (kt_service_limits){.max_message = 1u << 20, .max_sessions = 64, .max_per_peer = 8, .handshake_ms = 10000,
                             .idle_ms = 300000};
}

kt_status kt_service_limits_parse(const char *spec, kt_service_limits *l)
{
    if (!l) return kt_fail(KT_ERR_INVALID_ARGUMENT, "service: NULL argument");
    if (!spec || !*spec) return KT_OK;
    static const char *const names[] = {"max_message", "max_sessions", "max_per_peer", "handshake_ms", "idle_ms"};
    bool seen[5] = {0};
    char buf[512];
    if (strlen(spec) >= sizeof buf) return kt_fail(KT_ERR_TOO_LARGE, "service limits: longer than %zu bytes", sizeof buf - 1);
    strcpy(buf, spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), esc[64];
        if (!eq) return kt_fail(KT_ERR_MALFORMED, "service limits: \"%s\" is not name=value", kt_escape(item, strlen(item), esc, sizeof esc));
        *eq = '\0';
        size_t k = 0;
        while (k < 5 && strcmp(item, names[k])) k++;
        if (k == 5) return kt_fail(KT_ERR_MALFORMED, "service limits: no limit named \"%s\"", kt_escape(item, strlen(item), esc, sizeof esc));
        if (seen[k]) return kt_fail(KT_ERR_MALFORMED, "service limits: %s given twice", names[k]);
        seen[k] = true;
        uint64_t v;
        if (kt_decimal_parse(eq + 1, k == 1 ? (1u << 20) : k == 0 ? (1u << 30) : UINT32_MAX, &v) || v == 0)
            return kt_fail(KT_ERR_MALFORMED, "service limits: %s=%s is not a number from 1 up to its maximum", names[k],
                           kt_escape(eq + 1, strlen(eq + 1), esc, sizeof esc));
        switch (k) {
        case 0: l->max_message = (size_t)v; break;
        case 1: l->max_sessions = (size_t)v; break;
        case 2: l->max_per_peer = (size_t)v; break;
        case 3: l->handshake_ms = v; break;
        default: l->idle_ms = v; break;
        }
    }
    return KT_OK;
}
