/* The etcd backend of kt_store: etcd's v3 gRPC API (proto/etcd_kv.proto) through kt_rpc.
 *
 *   put/create   Txn: compare version(key) == expected; success put, failure range
 *   delete       Txn: compare version(key) == expected (> 0 for any); success delete
 *   get          Range of the key
 *   list         Range [ns+prefix, ns+prefix+1) in key order, limit, continued after a key
 *   revision     Range count_only: the header's revision
 *   changes      Watch from after+1 over the whole keyspace, up to the revision read first
 *   wait         Watch from after+1 until the first event or the deadline
 *
 * Every kt_store key lives under "<namespace>/" in etcd. Revisions are etcd's: they
 * count every change in the cluster, so other tenants' changes leave gaps. */
#include "backend.h"

#include "etcd_kv.pb-c.h"

#include <kubetee/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_DEFAULT "kubetee"
#define CALL_MS 5000    /* one unary call */
#define WATCH_MS 10000  /* catching up a changes() watch */
#define SCAN_MAX 100000 /* events a changes() call reads before it returns */
#define ETCD_KEY_MAX (KT_STORE_KEY_MAX + 1 + KT_STORE_KEY_MAX + 1)

typedef struct {
    kt_rpc_client *rpc;
    char where[448];               /* "store etcd://host:port/ns" for messages */
    char ns[KT_STORE_KEY_MAX + 2]; /* "<namespace>/" */
    size_t ns_len;
} etcd_store;

/* ---- keys ---- */

/* ns + key (+ suffix byte when extra is not 0) into out, as a bytes field. */
static ProtobufCBinaryData ekey(const etcd_store *e, const char *key, char extra,
                                char out[ETCD_KEY_MAX + 1])
{
    size_t n = strlen(key);
    memcpy(out, e->ns, e->ns_len);
    memcpy(out + e->ns_len, key, n);
    n += e->ns_len;
    if (extra) out[n++] = extra;
    out[n] = '\0';
    return (ProtobufCBinaryData){n, (uint8_t *)out};
}

/* The end of the range of keys that begin with p: p with its last byte + 1 (every byte
 * of a store key or namespace is ASCII, so no carry). */
static ProtobufCBinaryData range_end(ProtobufCBinaryData p, char out[ETCD_KEY_MAX + 1])
{
    memcpy(out, p.data, p.len);
    out[p.len - 1]++;
    return (ProtobufCBinaryData){p.len, (uint8_t *)out};
}

/* A key etcd returned, back to a store key: it must lie under the namespace and follow
 * the store's rules (something other than kt_store may have written it). */
static kt_status store_key(const etcd_store *e, ProtobufCBinaryData k,
                           char out[KT_STORE_KEY_MAX + 1])
{
    char esc[4 * 64 + 1];
    if (k.len <= e->ns_len || memcmp(k.data, e->ns, e->ns_len) ||
        kt_store_key_check(k.data + e->ns_len, k.len - e->ns_len)) {
        kt_escape(k.data, k.len < 64 ? k.len : 64, esc, sizeof esc);
        return kt_fail(KT_ERR_MALFORMED,
                       "%s: etcd holds key '%s' in the namespace, which kt_store never writes "
                       "(another client wrote it)",
                       e->where, esc);
    }
    memcpy(out, k.data + e->ns_len, k.len - e->ns_len);
    out[k.len - e->ns_len] = '\0';
    return KT_OK;
}

/* ---- calls ---- */

static kt_status call(etcd_store *e, const char *method, const void *req, void *res)
{
    kt_status st = kt_rpc_call(e->rpc, method, req, res, CALL_MS);
    return st ? kt_fail_context(st, "%s", e->where) : KT_OK;
}

static kt_status etcd_revision(void *impl, uint64_t *rev)
{
    etcd_store *e = impl;
    char end[ETCD_KEY_MAX + 1];
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    req.key = (ProtobufCBinaryData){e->ns_len, (uint8_t *)e->ns};
    req.range_end = range_end(req.key, end);
    req.count_only = true;
    kt_status st = call(e, "/etcdserverpb.KV/Range", &req, &res);
    if (!st && (!res.header || res.header->revision < 0))
        st = kt_fail(KT_ERR_MALFORMED, "%s: a Range answer without a revision", e->where);
    if (!st) *rev = (uint64_t)res.header->revision;
    kt_message_clear(&res);
    return st;
}

/* A Txn on one key: compare its version (== expected, or > 0 when any), then `op` or,
 * failing the compare, read the key for the reason. */
static kt_status txn(etcd_store *e, const char *key, uint64_t expected, bool any,
                     Etcdserverpb__RequestOp *op, uint64_t *rev)
{
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT, *cmps[1] = {&cmp};
    cmp.key = ekey(e, key, 0, k);
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
    cmp.result = any ? ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER
                     : ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
    cmp.version = any ? 0 : (int64_t)expected;
    Etcdserverpb__RangeRequest read = ETCDSERVERPB__RANGE_REQUEST__INIT;
    read.key = cmp.key;
    read.keys_only = true;
    Etcdserverpb__RequestOp other = ETCDSERVERPB__REQUEST_OP__INIT, *success[1] = {op},
                            *failure[1] = {&other};
    other.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    other.request_range = &read;
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = 1;
    req.compare = cmps;
    req.n_success = 1;
    req.success = success;
    req.n_failure = 1;
    req.failure = failure;
    Etcdserverpb__TxnResponse res = ETCDSERVERPB__TXN_RESPONSE__INIT;
    kt_status st = call(e, "/etcdserverpb.KV/Txn", &req, &res);
    if (st) return st;
    if (!res.header || res.header->revision <= 0) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: a Txn answer without a revision", e->where);
    } else if (res.succeeded) {
        if (rev) *rev = (uint64_t)res.header->revision;
    } else {
        const Etcdserverpb__ResponseOp *r = res.n_responses == 1 ? res.responses[0] : NULL;
        if (!r || r->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE ||
            !r->response_range || r->response_range->n_kvs > 1)
            st = kt_fail(KT_ERR_MALFORMED, "%s: a failed Txn without the key's state", e->where);
        else
            st = kt_store_version_check(
                key, r->response_range->n_kvs == 1,
                r->response_range->n_kvs ? (uint64_t)r->response_range->kvs[0]->version : 0,
                expected, any);
        if (!st) /* the compare failed, yet the state read says it held: a race we lost */
            st = kt_fail(KT_ERR_STATE, "store: %s changed under the compare; try again", key);
    }
    kt_message_clear(&res);
    return st;
}

static kt_status etcd_put(void *impl, const char *key, const void *value, size_t n,
                          uint64_t expected, uint64_t *rev)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = ekey(e, key, 0, k);
    put.value = (ProtobufCBinaryData){n, (uint8_t *)value};
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op.request_put = &put;
    return txn(e, key, expected, false, &op, rev);
}

static kt_status etcd_del(void *impl, const char *key, uint64_t expected, uint64_t *rev)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = ekey(e, key, 0, k);
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op.request_delete_range = &del;
    return txn(e, key, expected, expected == KT_STORE_ANY_VERSION, &op, rev);
}

static kt_status counters(const etcd_store *e, const Etcdserverpb__KeyValue *kv)
{
    if (kv->version <= 0 || kv->create_revision <= 0 || kv->mod_revision < kv->create_revision)
        return kt_fail(KT_ERR_MALFORMED, "%s: etcd sent a key with impossible counters", e->where);
    return KT_OK;
}

static kt_status etcd_get(void *impl, const char *key, kt_store_object *out)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1];
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    req.key = ekey(e, key, 0, k);
    kt_status st = call(e, "/etcdserverpb.KV/Range", &req, &res);
    if (st) return st;
    if (res.n_kvs == 0) {
        st = kt_fail(KT_ERR_NOT_FOUND, "store: %s does not exist", key);
    } else if (res.n_kvs > 1 || res.kvs[0]->key.len != req.key.len ||
               memcmp(res.kvs[0]->key.data, req.key.data, req.key.len)) {
        st = kt_fail(KT_ERR_MALFORMED, "%s: etcd answered a get of %s with another key", e->where,
                     key);
    } else if (res.kvs[0]->value.len > KT_STORE_VALUE_MAX) {
        st = kt_fail(KT_ERR_TOO_LARGE, "%s: %s holds %zu bytes, over the limit of %d", e->where,
                     key, res.kvs[0]->value.len, KT_STORE_VALUE_MAX);
    } else if (!(st = counters(e, res.kvs[0]))) {
        out->value.len = 0; /* the caller's buffer is reused, as fs does */
        st = kt_buf_append(&out->value, res.kvs[0]->value.data, res.kvs[0]->value.len);
        out->version = (uint64_t)res.kvs[0]->version;
        out->create_revision = (uint64_t)res.kvs[0]->create_revision;
        out->mod_revision = (uint64_t)res.kvs[0]->mod_revision;
    }
    kt_message_clear(&res);
    return st;
}

/* One Range page. Values come with the keys (a list reports their sizes), so a page of
 * large values can pass the client's message limit: then the page is halved and asked
 * again, down to one key (which always fits). */
static kt_status etcd_list(void *impl, const char *prefix, const char *after, size_t limit,
                           kt_store_list_result *out)
{
    etcd_store *e = impl;
    char k[ETCD_KEY_MAX + 1], p[ETCD_KEY_MAX + 1], end[ETCD_KEY_MAX + 1];
    memset(out, 0, sizeof *out);
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.range_end = range_end(ekey(e, prefix, 0, p), end);
    /* after "a/x": from "a/x\0", the least key past it */
    req.key = after && *after ? ekey(e, after, 0, k) : ekey(e, prefix, 0, k);
    if (after && *after) req.key.len++; /* the NUL ekey wrote */
    Etcdserverpb__RangeResponse res = ETCDSERVERPB__RANGE_RESPONSE__INIT;
    kt_status st;
    for (req.limit = (int64_t)limit;; req.limit /= 2) {
        st = kt_rpc_call(e->rpc, "/etcdserverpb.KV/Range", &req, &res, CALL_MS);
        if (st != KT_ERR_NO_MEMORY && st != KT_ERR_TOO_LARGE) break;
        if (req.limit == 1) break;
    }
    if (st) return kt_fail_context(st, "%s: list", e->where);
    if (!res.header || res.header->revision < 0 || res.n_kvs > limit)
        st = kt_fail(KT_ERR_MALFORMED, "%s: a bad Range answer to a list", e->where);
    if (!st && res.n_kvs && !(out->entries = calloc(res.n_kvs, sizeof *out->entries)))
        st = kt_fail(KT_ERR_NO_MEMORY, "store: list");
    for (size_t i = 0; !st && i < res.n_kvs; i++) {
        kt_store_entry *en = &out->entries[i];
        if ((st = store_key(e, res.kvs[i]->key, en->key)) || (st = counters(e, res.kvs[i]))) break;
        if (!kt_store_in_prefix(en->key, prefix) ||
            (i && strcmp(out->entries[i - 1].key, en->key) >= 0)) {
            st = kt_fail(KT_ERR_MALFORMED, "%s: etcd listed keys out of order or range", e->where);
            break;
        }
        en->version = (uint64_t)res.kvs[i]->version;
        en->create_revision = (uint64_t)res.kvs[i]->create_revision;
        en->mod_revision = (uint64_t)res.kvs[i]->mod_revision;
        en->value_len = res.kvs[i]->value.len;
        out->count++;
    }
    if (!st) {
        out->revision = (uint64_t)res.header->revision;
        out->more = res.more && out->count > 0;
        if (out->more) strcpy(out->next, out->entries[out->count - 1].key);
    }
    kt_message_clear(&res);
    if (st) kt_store_list_result_free(out);
    return st;
}

/* ---- watch ---- */

typedef struct {
    etcd_store *e;
    const char *prefix;
    uint64_t upto; /* changes(): the revision read before the watch; wait(): 0 */
    size_t limit;
    kt_store_changes_result *out;
    uint64_t last; /* revision of the last event read */
    size_t scanned;
    bool done, compacted;
    int64_t compact_revision;
} watch_ctx;

static kt_status on_watch(void *ctx, const ProtobufCMessage *msg)
{
    watch_ctx *w = ctx;
    const Etcdserverpb__WatchResponse *r = (const Etcdserverpb__WatchResponse *)msg;
    char esc[200];
    if (r->canceled) {
        if (r->compact_revision > 0) {
            w->compacted = true;
            w->compact_revision = r->compact_revision;
            return KT_ERR_CANCELLED; /* ends the call; watch() reads the flags */
        }
        kt_escape(r->cancel_reason, strlen(r->cancel_reason), esc, sizeof esc);
        return kt_fail(KT_ERR_IO, "%s: etcd cancelled the watch: %s", w->e->where, esc);
    }
    for (size_t i = 0; i < r->n_events; i++) {
        const Etcdserverpb__Event *ev = r->events[i];
        if (!ev->kv || ev->kv->mod_revision <= 0 || (uint64_t)ev->kv->mod_revision < w->last)
            return kt_fail(KT_ERR_MALFORMED, "%s: a watch event out of order", w->e->where);
        uint64_t rev = (uint64_t)ev->kv->mod_revision;
        if (!w->out) { /* wait(): any change will do */
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        if (rev > w->upto) {
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        w->last = rev;
        w->scanned++;
        /* only the store's namespace, and in it the prefix */
        const Etcdserverpb__KeyValue *kv = ev->kv;
        if (kv->key.len <= w->e->ns_len || memcmp(kv->key.data, w->e->ns, w->e->ns_len)) continue;
        kt_store_event se = {0};
        kt_status st = store_key(w->e, kv->key, se.key);
        if (st) return st;
        if (!kt_store_in_prefix(se.key, w->prefix)) continue;
        if (w->out->count == w->limit) {
            w->out->next = w->out->events[w->limit - 1].revision;
            w->done = true;
            return KT_ERR_CANCELLED;
        }
        se.type = ev->type == ETCDSERVERPB__EVENT__EVENT_TYPE__DELETE ? KT_STORE_EVENT_DELETE
                                                                      : KT_STORE_EVENT_PUT;
        se.revision = rev;
        se.version = se.type == KT_STORE_EVENT_DELETE ? 0 : (uint64_t)kv->version;
        w->out->events[w->out->count++] = se;
    }
    /* the end of a response (not a fragment of one) never splits a revision: past upto,
     * or past the scan budget, stop there */
    if (w->out && r->n_events && !r->fragment && (w->last >= w->upto || w->scanned >= SCAN_MAX)) {
        w->out->next = w->last;
        w->done = true;
        return KT_ERR_CANCELLED;
    }
    return KT_OK;
}

/* Watches every key from revision `from` until on_watch has enough. The whole keyspace,
 * because every etcd revision then carries an event, so the revision read first is
 * sure to arrive. */
static kt_status watch(etcd_store *e, uint64_t from, int timeout_ms, watch_ctx *w)
{
    static char zero[1] = {0};
    Etcdserverpb__WatchCreateRequest create = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    create.key = (ProtobufCBinaryData){1, (uint8_t *)zero};
    create.range_end = (ProtobufCBinaryData){1, (uint8_t *)zero};
    create.start_revision = (int64_t)from;
    create.fragment = true; /* answers cut to etcd's request size, under the client's 4 MiB */
    Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
    req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &create;
    kt_status st =
        kt_rpc_call_stream(e->rpc, "/etcdserverpb.Watch/Watch", &req,
                           &etcdserverpb__watch_response__descriptor, on_watch, w, timeout_ms);
    if (w->done || w->compacted) return KT_OK;
    if (!st) return kt_fail(KT_ERR_IO, "%s: etcd ended the watch", e->where);
    return kt_fail_context(st, "%s: watch", e->where);
}

static kt_status etcd_changes(void *impl, const char *prefix, uint64_t after, size_t limit,
                              kt_store_changes_result *out)
{
    etcd_store *e = impl;
    uint64_t now;
    memset(out, 0, sizeof *out);
    kt_status st = etcd_revision(e, &now);
    if (st) return st;
    if (after > now)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: revision %llu is in the future (now %llu)",
                       (unsigned long long)after, (unsigned long long)now);
    out->next = now;
    if (after == now || now <= 1) return KT_OK; /* revision 1 is etcd's empty start */
    if (!(out->events = calloc(limit, sizeof *out->events)))
        return kt_fail(KT_ERR_NO_MEMORY, "store: changes");
    watch_ctx w = {.e = e, .prefix = prefix, .upto = now, .limit = limit, .out = out};
    st = watch(e, after + 1, WATCH_MS, &w);
    if (!st && w.compacted)
        st = kt_fail(KT_ERR_STATE,
                     "store: changes after revision %llu are compacted (etcd keeps those after "
                     "%lld); list again and continue from the list's revision",
                     (unsigned long long)after, (long long)w.compact_revision - 1);
    if (st) kt_store_changes_result_free(out);
    return st;
}

static kt_status etcd_wait(void *impl, uint64_t after, unsigned timeout_ms)
{
    etcd_store *e = impl;
    uint64_t now;
    kt_status st = etcd_revision(e, &now);
    if (st || now > after) return st;
    if (timeout_ms > 0) {
        watch_ctx w = {.e = e};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = watch(e, after + 1, (int)(timeout_ms > 0x7fffffffu ? 0x7fffffffu : timeout_ms), &w);
        if (!st) return KT_OK; /* an event, or history compacted past after: it moved on */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* the deadline ends the call from either side: etcd may report its own end of
         * the context (not DEADLINE_EXCEEDED) when it notices first */
        if (st != KT_ERR_TIMEOUT && (st == KT_ERR_UNAVAILABLE || ms < (double)timeout_ms - 1))
            return st;
    }
    return kt_fail(KT_ERR_TIMEOUT, "store: no change after revision %llu in %u ms",
                   (unsigned long long)after, timeout_ms);
}

static void etcd_close(void *impl)
{
    etcd_store *e = impl;
    if (!e) return;
    kt_rpc_client_free(e->rpc);
    free(e);
}

static const kt_store_ops etcd_ops = {etcd_put,     etcd_get,  etcd_del,      etcd_list,
                                      etcd_changes, etcd_wait, etcd_revision, etcd_close};

/* ---- open ---- */

static bool host_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

/* "host:port[/namespace]" after "etcd://": a DNS name or IPv4 address (or [IPv6]), a
 * decimal port, and a namespace that follows the store's key rules. */
static kt_status parse_url(const char *rest, const char *esc, char host[300],
                           char ns[KT_STORE_KEY_MAX + 1])
{
    const char *slash = strchr(rest, '/');
    size_t hp = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *colon = NULL;
    for (size_t i = 0; i < hp; i++)
        if (rest[i] == ':') colon = rest + i;
    bool v6 = rest[0] == '[';
    bool ok = hp > 0 && hp < 300 && colon && colon > rest;
    for (const char *c = rest + v6; ok && c < colon - v6; c++)
        ok = v6 ? (host_byte(*c) || *c == ':') : host_byte(*c);
    if (ok && v6) ok = colon[-1] == ']';
    char port[8] = "";
    uint64_t pn = 0;
    size_t pl = ok ? hp - (size_t)(colon + 1 - rest) : 0;
    if (ok && (pl == 0 || pl >= sizeof port)) ok = false;
    if (ok) {
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
        ok = !kt_decimal_parse(port, 65535, &pn) && pn > 0;
    }
    if (!ok)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store %s: etcd needs host:port (a DNS name, IPv4 or [IPv6] address and a "
                       "port 1..65535), as etcd://127.0.0.1:2379/namespace",
                       esc);
    memcpy(host, rest, hp);
    host[hp] = '\0';
    const char *n = slash && slash[1] ? slash + 1 : NS_DEFAULT;
    if (kt_store_key_check(n, strlen(n)))
        return kt_fail_context(KT_ERR_INVALID_ARGUMENT, "store %s: namespace", esc);
    if (strlen(n) > KT_STORE_KEY_MAX - 1)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: namespace too long", esc);
    strcpy(ns, n);
    return KT_OK;
}

kt_status kt_store_etcd_open(const char *url, kt_store **out)
{
    char esc[256], host[300], ns[KT_STORE_KEY_MAX + 1];
    kt_escape(url, strlen(url), esc, sizeof esc);
    if (strncmp(url, "etcd://", 7))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: etcd URLs begin etcd://", esc);
    kt_status st = parse_url(url + 7, esc, host, ns);
    if (st) return st;
    etcd_store *e = calloc(1, sizeof *e);
    kt_store *s = calloc(1, sizeof *s);
    if (!e || !s) {
        free(e);
        free(s);
        return kt_fail(KT_ERR_NO_MEMORY, "store etcd: open");
    }
    snprintf(e->where, sizeof e->where, "store etcd://%s/%s", host, ns);
    e->ns_len = (size_t)snprintf(e->ns, sizeof e->ns, "%s/", ns);
    st = kt_rpc_client_new(host, NULL, &e->rpc);
    uint64_t rev;
    if (!st) st = etcd_revision(e, &rev); /* reachable, and speaking etcd's API */
    if (st) {
        etcd_close(e);
        free(s);
        return st;
    }
    s->ops = &etcd_ops;
    s->impl = e;
    *out = s;
    return KT_OK;
}
