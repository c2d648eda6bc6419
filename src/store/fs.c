/* The fs backend: one file per object under <root>/objects, a revision file and a lock
 * file under <root>. A put (or a batch of them) writes the revision file and the objects'
 * temporary files side by side (fs_write.c), each fsynced, the revision file renamed and
 * <root> fsynced; only then are the objects renamed into place and objects/ fsynced once,
 * so no object on disk is ever newer than the revision file, and a put is acknowledged
 * only once its object is durable. A delete writes the revision file, then unlinks. Opening verifies every file and keeps an index in memory;
 * reads verify the file again. One mutex serialises the operations of a process; the
 * lock file (flock) keeps other processes out. */
#define _GNU_SOURCE
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char root[PATH_MAX];
    int root_fd, obj_fd, lock_fd;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    bool have_rev;      /* the revision file exists (while opening) */
    const char *holder; /* for the lock file (while opening; NULL: the pid alone) */
    bool broken;        /* an I/O failure left the disk in a state this process cannot vouch for */
    uint64_t rev;
    kt_store_entry *index; /* sorted by key */
    size_t count, cap;
    kt_store_event *hist; /* ring of the last KT_STORE_HISTORY changes */
    size_t hist_start, hist_count;
    uint64_t floor; /* changes after this revision are all in hist */
} fs_store;

static kt_status fs_fail_file(kt_status st, const fs_store *f, const char *dir, const char *name)
{
    char esc[4 * NAME_MAX + 1];
    kt_escape(name, strlen(name), esc, sizeof esc);
    return kt_fail_context(st, "store fs:%s: %s%s", f->root, dir, esc);
}

/* First index entry whose key is >= key. */
static size_t lower_bound(const fs_store *f, const char *key)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(f->index[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static kt_store_entry *find(fs_store *f, const char *key)
{
    size_t i = lower_bound(f, key);
    return i < f->count && strcmp(f->index[i].key, key) == 0 ? &f->index[i] : NULL;
}

static kt_status index_insert(fs_store *f, const kt_store_entry *e)
{
    if (f->count == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        kt_store_entry *n = realloc(f->index, cap * sizeof *n);
        if (!n) return kt_fail(KT_ERR_NO_MEMORY, "store: index");
        f->index = n, f->cap = cap;
    }
    size_t i = lower_bound(f, e->key);
    memmove(&f->index[i + 1], &f->index[i], (f->count - i) * sizeof *e);
    f->index[i] = *e;
    f->count++;
    return KT_OK;
}

static void record(fs_store *f, kt_store_event_type type, const kt_store_entry *e, uint64_t rev)
{
    size_t slot;
    if (f->hist_count == KT_STORE_HISTORY) {
        f->floor = f->hist[f->hist_start].revision; /* the oldest change leaves the window */
        slot = f->hist_start;
        f->hist_start = (f->hist_start + 1) % KT_STORE_HISTORY;
    } else {
        slot = (f->hist_start + f->hist_count++) % KT_STORE_HISTORY;
    }
    kt_store_event *ev = &f->hist[slot];
    ev->type = type;
    memcpy(ev->key, e->key, sizeof ev->key);
    ev->revision = rev;
    ev->version = type == KT_STORE_EVENT_PUT ? e->version : 0;
    pthread_cond_broadcast(&f->changed);
}

/* Takes the next revision and makes it durable before anything carries it. */
static kt_status next_revision(fs_store *f)
{
    f->rev++; /* never reused, even if the write below fails */
    uint8_t rec[KT_STORE_REV_LEN];
    kt_store_rev_encode(f->rev, rec);
    kt_status st =
        kt_file_write_atomic_at(f->root_fd, "revision", "revision.tmp", rec, sizeof rec, 0600);
    if (st) f->broken = true;
    return st;
}

static kt_status check_usable(const fs_store *f)
{
    if (f->broken)
        return kt_fail(KT_ERR_STATE, "store fs:%s: an earlier write failed; reopen the store",
                       f->root);
    return KT_OK;
}

static kt_status check_version(const fs_store *f, const char *key, const kt_store_entry *e,
                               uint64_t expected, bool any)
{
    (void)f;
    return kt_store_version_check(key, e != NULL, e ? e->version : 0, expected, any);
}

/* A batch's item on its way to disk. */
typedef struct {
    char name[KT_STORE_FS_NAME_MAX + 1], tmp[KT_STORE_FS_NAME_MAX + 1];
    kt_store_entry ne; /* its index entry once written */
    kt_buf rec;        /* its file's bytes */
} fs_item;

/* items[i] failed with st, the reason why (the batch stops there). */
static void item_failed(kt_store_put_item *items, size_t i, kt_status st, const char *why, char *reason,
                        size_t cap)
{
    items[i].status = st;
    snprintf(reason, cap, "%s", why);
}

/* The first k items (checked) go to disk together: the revision file (at the batch's last
 * revision) and their temporary files written and fsynced side by side, then the objects
 * renamed in order and objects/ fsynced once. A write that fails stops the batch there: the
 * objects before it are renamed (they are whole and their revisions on disk), the rest
 * removed. Mutex held. */
static void write_batch(fs_store *f, kt_store_put_item *items, fs_item *it, size_t k,
                        kt_store_fs_write *w, char *reason, size_t cap)
{
    uint8_t revrec[KT_STORE_REV_LEN];
    kt_store_rev_encode(f->rev, revrec);
    w[0] = (kt_store_fs_write){.dir = f->root_fd, .name = "revision", .tmp = "revision.tmp",
                               .data = revrec, .n = sizeof revrec};
    for (size_t j = 0; j < k; j++)
        w[1 + j] = (kt_store_fs_write){.dir = f->obj_fd, .tmp = it[j].tmp, .data = it[j].rec.data,
                                       .n = it[j].rec.len};
    kt_store_fs_write_all(w, k + 1);
    size_t m = 0; /* objects renamed */
    kt_status st = w[0].st;
    if (st) {
        f->broken = true;
        kt_fail(st, "%s", w[0].why);
        item_failed(items, 0, st, kt_last_error(), reason, cap);
    } else {
        for (; m < k && !w[1 + m].st; m++)
            if (renameat(f->obj_fd, it[m].tmp, f->obj_fd, it[m].name) != 0) {
                w[1 + m].st = kt_fail(KT_ERR_IO, "%s: rename: %s", it[m].name, strerror(errno));
                snprintf(w[1 + m].why, sizeof w[1 + m].why, "%s", kt_last_error());
                break;
            }
        if (m < k) {
            f->broken = true;
            kt_fail(w[1 + m].st, "%s", w[1 + m].why);
            fs_fail_file(w[1 + m].st, f, "objects/", it[m].name);
            item_failed(items, m, w[1 + m].st, kt_last_error(), reason, cap);
        }
    }
    for (size_t j = m; j < k; j++) /* written but not renamed: removed (a failed write removed its own) */
        unlinkat(f->obj_fd, it[j].tmp, 0);
    if (m && fsync(f->obj_fd) != 0) {
        int e = errno;
        f->broken = true;
        kt_fail(KT_ERR_IO, "fsync of the directory: %s (whether the puts renamed into it applied is unknown)",
                strerror(e));
        fs_fail_file(KT_ERR_IO, f, "objects/", it[0].name);
        for (size_t j = 0; j < m; j++)
            items[j].status = KT_ERR_IO;
        item_failed(items, 0, KT_ERR_IO, kt_last_error(), reason, cap);
        m = 0;
    }
    for (size_t j = 0; j < m; j++) {
        kt_store_entry *e = find(f, it[j].ne.key);
        if (e) {
            *e = it[j].ne;
        } else if ((st = index_insert(f, &it[j].ne))) { /* on disk, not in the index */
            f->broken = true;
            item_failed(items, j, st, kt_last_error(), reason, cap);
            continue;
        }
        record(f, KT_STORE_EVENT_PUT, &it[j].ne, it[j].ne.mod_revision);
        items[j].status = KT_OK;
        items[j].revision = it[j].ne.mod_revision;
    }
}

static kt_status fs_put_batch(void *impl, kt_store_put_item *items, size_t n)
{
    fs_store *f = impl;
    char reason[1024] = "";
    for (size_t i = 0; i < n; i++)
        items[i].status = KT_ERR_CANCELLED;
    fs_item *it = calloc(n, sizeof *it);
    kt_store_fs_write *w = calloc(n + 1, sizeof *w);
    kt_status st = it && w ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "store: batch");
    if (st) {
        item_failed(items, 0, st, kt_last_error(), reason, sizeof reason);
        goto done;
    }
    pthread_mutex_lock(&f->mu);
    /* the puts that pass their checks, up to the first that does not */
    size_t k = 0;
    if ((st = check_usable(f))) item_failed(items, 0, st, kt_last_error(), reason, sizeof reason);
    for (; !st && k < n; k++) {
        const kt_store_put_item *p = &items[k];
        const kt_store_entry *e = find(f, p->key);
        if ((st = kt_store_fs_name(p->key, it[k].name)) ||
            (st = check_version(f, p->key, e, p->expected_version, false))) {
            item_failed(items, k, st, kt_last_error(), reason, sizeof reason);
            break;
        }
        memcpy(it[k].tmp, it[k].name, sizeof it[k].tmp);
        it[k].tmp[0] = 't'; /* "t." + the same encoded key: unique, as one write per key runs at once */
        kt_store_entry *ne = &it[k].ne;
        ne->version = p->expected_version + 1;
        ne->mod_revision = f->rev + 1 + k; /* taken below, never reused even if the write fails */
        ne->create_revision = e ? e->create_revision : ne->mod_revision;
        ne->value_len = p->n;
        memcpy(ne->key, p->key, strlen(p->key) + 1);
        kt_status est = kt_store_obj_encode(p->key, ne->version, ne->create_revision, ne->mod_revision,
                                            p->value, p->n, &it[k].rec);
        if (est) {
            st = est;
            item_failed(items, k, st, kt_last_error(), reason, sizeof reason);
            break;
        }
    }
    if (k) {
        f->rev += k;
        write_batch(f, items, it, k, w, reason, sizeof reason);
    }
    pthread_mutex_unlock(&f->mu);
done:
    st = KT_OK;
    for (size_t i = 0; i < n && !st; i++) /* the first not applied: the batch's failure */
        if (items[i].status != KT_OK) {
            st = items[i].status;
            for (size_t j = i + 1; j < n; j++) /* not tried, but for those on disk (or perhaps) */
                if (items[j].status != KT_OK && items[j].status != KT_ERR_IO) items[j].status = KT_ERR_CANCELLED;
            kt_fail(st, "%s", reason);
        }
    for (size_t i = 0; it && i < n; i++)
        kt_buf_free(&it[i].rec);
    free(it);
    free(w);
    return st;
}

static kt_status fs_put(void *impl, const char *key, const void *value, size_t n, uint64_t expected,
                        uint64_t *rev)
{
    kt_store_put_item item = {.key = key, .value = value, .n = n, .expected_version = expected};
    kt_status st = fs_put_batch(impl, &item, 1);
    if (!st && rev) *rev = item.revision;
    return st;
}

/* Reads and verifies the object file of index entry e into out (mutex held). */
static kt_status read_object(fs_store *f, const kt_store_entry *e, kt_store_object *out)
{
    char name[KT_STORE_FS_NAME_MAX + 1];
    kt_status st = kt_store_fs_name(e->key, name);
    if (st) return st;
    kt_buf raw = {0};
    kt_store_obj_view v;
    if ((st = kt_file_read_at(f->obj_fd, name, KT_STORE_OBJ_MAX, &raw)) == KT_ERR_NOT_FOUND) {
        st = kt_fail(KT_ERR_VERIFY, "gone, where this store wrote version %llu at revision %llu",
                     (unsigned long long)e->version, (unsigned long long)e->mod_revision);
        goto fail;
    }
    if (st || (st = kt_store_obj_decode(raw.data, raw.len, &v))) goto fail;
    if (strcmp(v.key, e->key) != 0) {
        char esc[4 * KT_STORE_KEY_MAX + 1];
        kt_escape(v.key, strlen(v.key), esc, sizeof esc);
        st = kt_fail(KT_ERR_VERIFY, "holds key %s, not %s (a file was moved)", esc, e->key);
        goto fail;
    }
    if (v.version != e->version || v.mod_revision != e->mod_revision ||
        v.create_revision != e->create_revision) {
        st = kt_fail(KT_ERR_VERIFY,
                     "holds version %llu at revision %llu, where this store wrote version %llu at "
                     "revision %llu (the file was replaced)",
                     (unsigned long long)v.version, (unsigned long long)v.mod_revision,
                     (unsigned long long)e->version, (unsigned long long)e->mod_revision);
        goto fail;
    }
    out->value.len = 0;
    if ((st = kt_buf_append(&out->value, v.value, v.value_len))) goto fail;
    out->version = v.version;
    out->create_revision = v.create_revision;
    out->mod_revision = v.mod_revision;
    kt_buf_free(&raw);
    return KT_OK;
fail:
    kt_buf_free(&raw);
    return fs_fail_file(st, f, "objects/", name);
}

static kt_status fs_get(void *impl, const char *key, kt_store_object *out)
{
    fs_store *f = impl;
    pthread_mutex_lock(&f->mu);
    kt_store_entry *e = find(f, key);
    kt_status st =
        e ? read_object(f, e, out) : kt_fail(KT_ERR_NOT_FOUND, "store: %s does not exist", key);
    pthread_mutex_unlock(&f->mu);
    return st;
}

static kt_status fs_del(void *impl, const char *key, uint64_t expected, uint64_t *rev)
{
    fs_store *f = impl;
    char name[KT_STORE_FS_NAME_MAX + 1];
    kt_status st = kt_store_fs_name(key, name);
    if (st) return st;
    pthread_mutex_lock(&f->mu);
    kt_store_entry *e = find(f, key);
    if ((st = check_usable(f)) ||
        (st = check_version(f, key, e, expected, expected == KT_STORE_ANY_VERSION)) ||
        (st = next_revision(f)))
        goto out;
    if (unlinkat(f->obj_fd, name, 0) != 0 || fsync(f->obj_fd) != 0) {
        f->broken = true;
        st = fs_fail_file(kt_fail(KT_ERR_IO, "delete: %s", strerror(errno)), f, "objects/", name);
        goto out;
    }
    kt_store_entry old = *e;
    size_t i = (size_t)(e - f->index);
    memmove(&f->index[i], &f->index[i + 1], (f->count - i - 1) * sizeof *e);
    f->count--;
    record(f, KT_STORE_EVENT_DELETE, &old, f->rev);
    if (rev) *rev = f->rev;
out:
    pthread_mutex_unlock(&f->mu);
    return st;
}

static kt_status fs_list(void *impl, const char *prefix, const char *after, size_t limit,
                         kt_store_list_result *out)
{
    fs_store *f = impl;
    memset(out, 0, sizeof *out);
    out->entries = calloc(limit, sizeof *out->entries);
    if (!out->entries) return kt_fail(KT_ERR_NO_MEMORY, "store: list");
    pthread_mutex_lock(&f->mu);
    size_t i = lower_bound(f, after && *after ? after : prefix);
    if (after && *after && i < f->count && strcmp(f->index[i].key, after) == 0) i++;
    for (; i < f->count && kt_store_in_prefix(f->index[i].key, prefix); i++) {
        if (out->count == limit) {
            out->more = true;
            memcpy(out->next, out->entries[limit - 1].key, sizeof out->next);
            break;
        }
        out->entries[out->count++] = f->index[i];
    }
    out->revision = f->rev;
    pthread_mutex_unlock(&f->mu);
    return KT_OK;
}

static kt_status fs_changes(void *impl, const char *prefix, uint64_t after, size_t limit,
                            kt_store_changes_result *out)
{
    fs_store *f = impl;
    memset(out, 0, sizeof *out);
    out->events = calloc(limit, sizeof *out->events);
    if (!out->events) return kt_fail(KT_ERR_NO_MEMORY, "store: changes");
    kt_status st = KT_OK;
    pthread_mutex_lock(&f->mu);
    if (after < f->floor) {
        st = kt_fail(KT_ERR_STATE,
                     "store: changes after revision %llu are compacted (this store keeps those "
                     "after %llu); list again and continue from the list's revision",
                     (unsigned long long)after, (unsigned long long)f->floor);
    } else if (after > f->rev) {
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "store: revision %llu is in the future (now %llu)",
                     (unsigned long long)after, (unsigned long long)f->rev);
    } else {
        out->next = f->rev;
        for (size_t j = 0; j < f->hist_count; j++) {
            const kt_store_event *ev = &f->hist[(f->hist_start + j) % KT_STORE_HISTORY];
            if (ev->revision <= after || !kt_store_in_prefix(ev->key, prefix)) continue;
            if (out->count == limit) {
                out->next = out->events[limit - 1].revision;
                break;
            }
            out->events[out->count++] = *ev;
        }
    }
    pthread_mutex_unlock(&f->mu);
    if (st) kt_store_changes_result_free(out);
    return st;
}

static kt_status fs_wait(void *impl, uint64_t after, unsigned timeout_ms)
{
    fs_store *f = impl;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    kt_status st = KT_OK;
    pthread_mutex_lock(&f->mu);
    while (f->rev <= after) {
        if (pthread_cond_timedwait(&f->changed, &f->mu, &until) == ETIMEDOUT && f->rev <= after) {
            st = kt_fail(KT_ERR_TIMEOUT, "store: no change after revision %llu in %u ms",
                         (unsigned long long)after, timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

static kt_status fs_revision(void *impl, uint64_t *rev)
{
    fs_store *f = impl;
    pthread_mutex_lock(&f->mu);
    *rev = f->rev;
    pthread_mutex_unlock(&f->mu);
    return KT_OK;
}

static void fs_close(void *impl)
{
    fs_store *f = impl;
    if (!f) return;
    if (f->obj_fd >= 0) close(f->obj_fd);
    if (f->root_fd >= 0) close(f->root_fd);
    if (f->lock_fd >= 0) close(f->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->changed);
    free(f->index);
    free(f->hist);
    free(f);
}

static void fs_lock_state(void *impl, kt_store_lock_info *out)
{
    (void)impl;
    out->held = true; /* the flock, from open to close */
}

static const kt_store_ops fs_ops = {fs_put,  fs_get,      fs_del,   fs_list,       fs_changes,
                                    fs_wait, fs_revision, fs_close, fs_lock_state, fs_put_batch};

/* ---- open ---- */

/* The lock file: flock held while open, and who holds it: "<pid>\n" and the holder's
 * words (a line) for a second one refused to name. */
#define LOCK_TEXT_MAX 600
static kt_status take_lock(fs_store *f)
{
    f->lock_fd = openat(f->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f->lock_fd < 0)
        return kt_fail(KT_ERR_IO, "store fs:%s: lock: %s", f->root, strerror(errno));
    if (flock(f->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e != EWOULDBLOCK)
            return kt_fail(KT_ERR_IO, "store fs:%s: lock: %s", f->root, strerror(e));
        char text[LOCK_TEXT_MAX + 1] = "";
        ssize_t r = pread(f->lock_fd, text, LOCK_TEXT_MAX, 0);
        text[r > 0 ? r : 0] = '\0';
        char *holder = strchr(text, '\n');
        if (holder) *holder++ = '\0';
        if (holder) holder[strcspn(holder, "\n")] = '\0';
        char pid[96], who[4 * LOCK_TEXT_MAX + 1];
        kt_escape(text, strlen(text), pid, sizeof pid);
        kt_escape(holder ? holder : "", holder ? strlen(holder) : 0, who, sizeof who);
        return kt_fail(
            KT_ERR_UNAVAILABLE,
            "store fs:%s is in use: %s/lock is held (by pid %s%s%s); one process opens a "
            "store at a time",
            f->root, f->root, *pid ? pid : "?", *who ? ": " : "", who);
    }
    char text[LOCK_TEXT_MAX + 32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (f->holder) {
        size_t hl = strcspn(f->holder, "\n");
        if (hl > LOCK_TEXT_MAX - 32) hl = LOCK_TEXT_MAX - 32;
        n += snprintf(text + n, sizeof text - (size_t)n, "%.*s\n", (int)hl, f->holder);
    }
    if (ftruncate(f->lock_fd, 0) != 0 || pwrite(f->lock_fd, text, (size_t)n, 0) != n)
        return kt_fail(KT_ERR_IO, "store fs:%s: lock: %s", f->root, strerror(errno));
    return KT_OK;
}

/* The root holds lock, revision, objects/ and perhaps revision.tmp (an interrupted write,
 * removed); anything else is refused. */
static kt_status scan_root(fs_store *f, bool *have_rev, bool *have_objects)
{
    int fd = dup(f->root_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return kt_fail(KT_ERR_IO, "store fs:%s: %s", f->root, strerror(errno));
    }
    rewinddir(d);
    kt_status st = KT_OK;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "lock")) continue;
        if (!strcmp(n, "revision"))
            *have_rev = true;
        else if (!strcmp(n, "objects"))
            *have_objects = true;
        else if (!strcmp(n, "revision.tmp")) {
            if (unlinkat(f->root_fd, n, 0) != 0)
                st = fs_fail_file(kt_fail(KT_ERR_IO, "%s", strerror(errno)), f, "", n);
        } else {
            st = fs_fail_file(kt_fail(KT_ERR_MALFORMED, "unknown file in the store directory"), f,
                              "", n);
        }
    }
    closedir(d);
    return st;
}

static kt_status load_object(fs_store *f, const char *name)
{
    kt_store_entry e = {0};
    kt_buf raw = {0};
    kt_store_obj_view v;
    struct stat sb;
    kt_status st;
    if (fstatat(f->obj_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
        st = kt_fail(KT_ERR_MALFORMED, "not a regular file");
    } else if (!(st = kt_store_fs_key(name, e.key)) &&
               !(st = kt_file_read_at(f->obj_fd, name, KT_STORE_OBJ_MAX, &raw)) &&
               !(st = kt_store_obj_decode(raw.data, raw.len, &v))) {
        if (strcmp(v.key, e.key) != 0) {
            char esc[4 * KT_STORE_KEY_MAX + 1];
            kt_escape(v.key, strlen(v.key), esc, sizeof esc);
            st = kt_fail(KT_ERR_VERIFY, "holds key %s, not %s (a file was moved)", esc, e.key);
        } else if (f->have_rev && v.mod_revision > f->rev) {
            st = kt_fail(KT_ERR_VERIFY, "revision %llu is past the store's revision %llu",
                         (unsigned long long)v.mod_revision, (unsigned long long)f->rev);
        } else {
            e.version = v.version;
            e.create_revision = v.create_revision;
            e.mod_revision = v.mod_revision;
            e.value_len = v.value_len;
            st = index_insert(f, &e);
        }
    }
    kt_buf_free(&raw);
    return st ? fs_fail_file(st, f, "objects/", name) : KT_OK;
}

/* objects/ holds "o." files (each verified and indexed) and perhaps "t." files
 * (interrupted writes, never acknowledged: removed); anything else is refused. */
static kt_status scan_objects(fs_store *f)
{
    int fd = dup(f->obj_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return kt_fail(KT_ERR_IO, "store fs:%s: objects: %s", f->root, strerror(errno));
    }
    rewinddir(d);
    kt_status st = KT_OK;
    size_t removed = 0;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        if (!strncmp(n, "o.", 2)) {
            st = load_object(f, n);
        } else if (!strncmp(n, "t.", 2)) {
            if (unlinkat(f->obj_fd, n, 0) != 0)
                st = fs_fail_file(kt_fail(KT_ERR_IO, "%s", strerror(errno)), f, "objects/", n);
            removed++;
        } else {
            st = fs_fail_file(kt_fail(KT_ERR_MALFORMED, "unknown file in the objects directory"), f,
                              "objects/", n);
        }
    }
    closedir(d);
    if (!st && removed) {
        if (fsync(f->obj_fd) != 0)
            return kt_fail(KT_ERR_IO, "store fs:%s: objects: fsync: %s", f->root, strerror(errno));
        char num[24];
        snprintf(num, sizeof num, "%zu", removed);
        kt_log(KT_LOG_INFO, "store.interrupted_writes_removed", "root", f->root, "files", num,
               NULL);
    }
    return st;
}

static kt_status load(fs_store *f)
{
    bool have_rev = false, have_objects = false;
    kt_status st;
    if ((st = take_lock(f)) || (st = scan_root(f, &have_rev, &have_objects))) return st;
    f->have_rev = have_rev;
    if (have_rev) {
        kt_buf raw = {0};
        st = kt_file_read_at(f->root_fd, "revision", 4096, &raw);
        if (!st) st = kt_store_rev_decode(raw.data, raw.len, &f->rev);
        kt_buf_free(&raw);
        if (st) return fs_fail_file(st, f, "", "revision");
    }
    if (!have_objects && mkdirat(f->root_fd, "objects", 0700) != 0)
        return kt_fail(KT_ERR_IO, "store fs:%s: objects: %s", f->root, strerror(errno));
    f->obj_fd = openat(f->root_fd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (f->obj_fd < 0)
        return kt_fail(KT_ERR_IO, "store fs:%s: objects: %s", f->root, strerror(errno));
    if (!have_objects && fsync(f->root_fd) != 0)
        return kt_fail(KT_ERR_IO, "store fs:%s: fsync: %s", f->root, strerror(errno));
    if ((st = scan_objects(f))) return st;
    if (!have_rev && f->count)
        return kt_fail(KT_ERR_MALFORMED, "store fs:%s: %zu objects but no revision file", f->root,
                       f->count);
    f->floor = f->rev;
    return KT_OK;
}

kt_status kt_store_fs_open(const char *dir, const char *holder, kt_store **out)
{
    char esc[128];
    kt_escape(dir, strlen(dir), esc, sizeof esc);
    if (dir[0] != '/')
        return kt_fail(KT_ERR_INVALID_ARGUMENT,
                       "store fs:%s: the directory must be an absolute path", esc);
    if (strlen(dir) >= PATH_MAX - NAME_MAX - 16)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "store fs: directory path too long");
    fs_store *f = calloc(1, sizeof *f);
    kt_store *s = calloc(1, sizeof *s);
    if (!f || !s || !(f->hist = calloc(KT_STORE_HISTORY, sizeof *f->hist))) {
        free(s);
        if (f) free(f->hist);
        free(f);
        return kt_fail(KT_ERR_NO_MEMORY, "store fs: open");
    }
    strcpy(f->root, dir);
    f->root_fd = f->obj_fd = f->lock_fd = -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->changed, &ca);
    pthread_condattr_destroy(&ca);
    kt_status st = kt_mkdirs(dir, 0700);
    if (!st) {
        f->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f->root_fd < 0) st = kt_fail(KT_ERR_IO, "store fs:%s: %s", dir, strerror(errno));
    }
    f->holder = holder;
    if (!st) st = load(f);
    f->holder = NULL;
    if (st) {
        fs_close(f);
        free(s);
        return st;
    }
    s->ops = &fs_ops;
    s->impl = f;
    *out = s;
    return KT_OK;
}
