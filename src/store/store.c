/* kt_store: the backend chosen by URL, and the argument checks every backend relies on. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

kt_status kt_store_open(const char *url, kt_store **out)
{
    return kt_store_open_with(url, NULL, out);
}

static bool set(const char *s)
{
    return s && *s;
}

kt_status kt_store_open_with(const char *url, const kt_store_options *o, kt_store **out)
{
    if (!url || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store open: NULL argument");
    *out = NULL;
    char esc[256];
    kt_escape(url, strlen(url), esc, sizeof esc);
    if (!strncmp(url, "fs:", 3)) {
        if (o && (set(o->tls_ca) || set(o->tls_cert) || set(o->tls_key) || set(o->server_name) || o->insecure ||
                  set(o->user) || set(o->password_file)))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "store %s: TLS, insecure and user settings are for etcd; an fs store takes none", esc);
        if (!url[3])
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "store %s: fs: needs a directory (fs:/dir)",
                           esc);
        return kt_store_fs_open(url + 3, o ? o->holder : NULL, out); /* its reasons name fs:<dir> */
    }
    if (!strncmp(url, "etcd:", 5)) return kt_store_etcd_open(url, o, out); /* names the URL */
    return kt_fail(KT_ERR_UNSUPPORTED,
                   "store %s: unknown backend (known: fs:/dir, etcd://host:port/namespace)", esc);
}

void kt_store_free(kt_store *s)
{
    if (!s) return;
    s->ops->close(s->impl);
    free(s);
}

static kt_status check_key(const kt_store *s, const char *key)
{
    if (!s || !key) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: NULL argument");
    return kt_store_key_check(key, strlen(key));
}

kt_status kt_store_revision(kt_store *s, uint64_t *rev)
{
    if (!s || !rev) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: NULL argument");
    return s->ops->revision(s->impl, rev);
}

static kt_status check_put(const kt_store *s, const char *key, const void *value, size_t n,
                           uint64_t expected_version)
{
    kt_status st = check_key(s, key);
    if (st) return st;
    if (n && !value) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store put %s: NULL value", key);
    if (n > KT_STORE_VALUE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "store put %s: %zu bytes is over the limit of %d", key, n,
                       KT_STORE_VALUE_MAX);
    if (expected_version == KT_STORE_ANY_VERSION)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store put %s: a put names the version it replaces",
                       key);
    return KT_OK;
}

kt_status kt_store_put(kt_store *s, const char *key, const void *value, size_t n,
                       uint64_t expected_version, uint64_t *rev)
{
    kt_status st = check_put(s, key, value, n, expected_version);
    return st ? st : s->ops->put(s->impl, key, value, n, expected_version, rev);
}

/* The batch's first failed item i: its status, kt_last_error() naming it. */
static kt_status batch_failed(const kt_store_put_item *items, size_t i, size_t n)
{
    return kt_fail_context(items[i].status, "store put batch: put %zu of %zu", i + 1, n);
}

kt_status kt_store_put_batch(kt_store *s, kt_store_put_item *items, size_t n)
{
    if (!s || (n && !items)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store put batch: NULL argument");
    if (n < 1 || n > KT_STORE_BATCH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store put batch: %zu puts is outside 1..%d", n,
                       KT_STORE_BATCH_MAX);
    for (size_t i = 0; i < n; i++)
        items[i].status = KT_ERR_CANCELLED, items[i].revision = 0;
    for (size_t i = 0; i < n; i++) {
        kt_status st = check_put(s, items[i].key, items[i].value, items[i].n, items[i].expected_version);
        for (size_t j = 0; !st && j < i; j++)
            if (!strcmp(items[j].key, items[i].key))
                st = kt_fail(KT_ERR_INVALID_ARGUMENT,
                             "store put batch: %s is put twice (puts %zu and %zu); one batch puts a key once",
                             items[i].key, j + 1, i + 1);
        if (st) {
            items[i].status = st;
            return batch_failed(items, i, n);
        }
    }
    if (s->ops->put_batch) {
        kt_status st = s->ops->put_batch(s->impl, items, n);
        if (!st) return KT_OK;
        for (size_t i = 0; i < n; i++) /* the first failed one names the failure */
            if (items[i].status != KT_OK) return batch_failed(items, i, n);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        kt_store_put_item *it = &items[i];
        it->status = s->ops->put(s->impl, it->key, it->value, it->n, it->expected_version, &it->revision);
        if (it->status) return batch_failed(items, i, n);
    }
    return KT_OK;
}

kt_status kt_store_create(kt_store *s, const char *key, const void *value, size_t n, uint64_t *rev)
{
    return kt_store_put(s, key, value, n, 0, rev);
}

void kt_store_object_free(kt_store_object *o)
{
    if (o) kt_buf_free(&o->value);
}

kt_status kt_store_get(kt_store *s, const char *key, kt_store_object *out)
{
    kt_status st = check_key(s, key);
    if (st) return st;
    if (!out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store get: NULL argument");
    return s->ops->get(s->impl, key, out);
}

kt_status kt_store_delete(kt_store *s, const char *key, uint64_t expected_version, uint64_t *rev)
{
    kt_status st = check_key(s, key);
    if (st) return st;
    if (expected_version == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store delete %s: expected version 0 (absent) cannot be deleted", key);
    return s->ops->del(s->impl, key, expected_version, rev);
}

static kt_status check_range(const kt_store *s, const char *prefix, size_t limit, const void *out)
{
    if (!s || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: NULL argument");
    if (limit < 1 || limit > 1000)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: limit %zu is outside 1..1000", limit);
    return kt_store_prefix_check(prefix);
}

void kt_store_list_result_free(kt_store_list_result *r)
{
    if (!r) return;
    free(r->entries);
    memset(r, 0, sizeof *r);
}

kt_status kt_store_list(kt_store *s, const char *prefix, const char *after, size_t limit,
                        kt_store_list_result *out)
{
    kt_status st = check_range(s, prefix, limit, out);
    if (st) return st;
    if (after && *after) {
        if ((st = kt_store_key_check(after, strlen(after))))
            return kt_fail_context(st, "store list: continuation");
        if (!kt_store_in_prefix(after, prefix))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "store list: continuation %s is not under the prefix %s", after, prefix);
    }
    return s->ops->list(s->impl, prefix, after, limit, out);
}

void kt_store_changes_result_free(kt_store_changes_result *r)
{
    if (!r) return;
    free(r->events);
    memset(r, 0, sizeof *r);
}

kt_status kt_store_changes(kt_store *s, const char *prefix, uint64_t after, size_t limit,
                           kt_store_changes_result *out)
{
    kt_status st = check_range(s, prefix, limit, out);
    if (st) return st;
    return s->ops->changes(s->impl, prefix, after, limit, out);
}

void kt_store_lock_state(kt_store *s, kt_store_lock_info *out)
{
    memset(out, 0, sizeof *out);
    if (s) s->ops->lock_state(s->impl, out);
}

kt_status kt_store_wait(kt_store *s, uint64_t after, unsigned timeout_ms)
{
    if (!s) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: NULL argument");
    return s->ops->wait(s->impl, after, timeout_ms);
}
