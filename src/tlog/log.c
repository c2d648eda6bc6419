/* The log as a whole: verifying it against its signed head, and appending to it. An
 * entry is written and fsynced before the head that covers it is signed and renamed into
 * place, and kt_tlog_append returns only then. Appends that arrive together share one
 * fsync and one head (group commit): the first to sync covers every entry written so
 * far. A crash between the two leaves entries past the head, which the writer signs a
 * head for when it opens if they chain (anything else that does not verify stops it). */
#include <kubetee/tlog.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX (1ull << 30)
#define MARK_EVERY 256 /* a reader seeks to the mark before its entry, then reads lines */
#define LINE_MAX_BYTES 2048 /* longer than any entry kt_tlog_entry_format writes or parse reads */

/* Walks the entries: numbered, chained, each parsing. The last hash and count out. */
static kt_status walk(const uint8_t *log, size_t n, kt_tlog_each each, void *arg,
                      uint64_t *count, uint8_t last[32])
{
    uint64_t seq = 0;
    uint8_t prev[32] = {0};
    size_t off = 0;
    kt_status st = KT_OK;
    while (!st && off < n) {
        const uint8_t *nl = memchr(log + off, '\n', n - off);
        if (!nl) return kt_fail(KT_ERR_MALFORMED, "tlog: line %llu has no newline (cut short)",
                                (unsigned long long)seq + 1);
        kt_tlog_entry e;
        size_t len = (size_t)(nl - (log + off));
        if ((st = kt_tlog_entry_parse((const char *)log + off, len, &e)))
            return kt_fail_context(st, "tlog line %llu", (unsigned long long)seq + 1);
        if (e.seq != seq + 1)
            return kt_fail(KT_ERR_VERIFY, "tlog line %llu: holds entry %llu (an entry was "
                                          "removed, repeated or moved)",
                           (unsigned long long)seq + 1, (unsigned long long)e.seq);
        if (!kt_equal(e.prev, prev, 32))
            return kt_fail(KT_ERR_VERIFY, "tlog line %llu: does not chain to the entry before",
                           (unsigned long long)seq + 1);
        if (each && (st = each(arg, &e))) return st;
        memcpy(prev, e.hash, 32);
        seq = e.seq;
        off += len + 1;
    }
    *count = seq;
    memcpy(last, prev, 32);
    return KT_OK;
}

/* The hash of entry `seq` as a walk passes it. */
typedef struct {
    uint64_t seq;
    uint8_t hash[32];
    bool seen;
} hash_at;

static kt_status note_hash(void *arg, const kt_tlog_entry *e)
{
    hash_at *h = arg;
    if (e->seq == h->seq) {
        memcpy(h->hash, e->hash, 32);
        h->seen = true;
    }
    return KT_OK;
}

kt_status kt_tlog_verify(const uint8_t *log, size_t n, const uint8_t *head, size_t head_len,
                         const kt_key *pub, kt_tlog_each each, void *arg, kt_tlog_head *out)
{
    if (!pub || (n && !log) || !head) return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: NULL argument");
    kt_tlog_head h;
    kt_status st = kt_tlog_head_parse(head, head_len, pub, &h);
    if (st) return st;
    uint64_t count = 0;
    uint8_t last[32];
    if ((st = walk(log, n, each, arg, &count, last))) return st;
    if (count != h.entries || !kt_equal(last, h.hash, 32))
        return kt_fail(KT_ERR_VERIFY, "tlog: the signed head covers %llu entries, the log holds "
                                      "%llu%s",
                       (unsigned long long)h.entries, (unsigned long long)count,
                       count == h.entries ? " with another last hash" : "");
    if (out) *out = h;
    return KT_OK;
}

struct kt_tlog {
    pthread_mutex_t lock; /* entries, last, broken: the lines written */
    int fd;
    char head_path[512];
    const kt_key *key;
    uint64_t entries;
    uint8_t last[32];
    bool broken;               /* a write failed part-way: nothing more is appended */
    uint64_t size;             /* bytes of the entries written */
    uint64_t *marks;           /* marks[k]: where entry k * MARK_EVERY + 1 starts */
    size_t nmarks, cap_marks;
    pthread_mutex_t sync_lock; /* synced: the entries fsynced and under a signed head */
    uint64_t synced;
};

static kt_status write_head_at(kt_tlog *t, uint64_t entries, const uint8_t last[32])
{
    kt_tlog_head h = {entries, (uint64_t)time(NULL), {0}};
    memcpy(h.hash, last, 32);
    kt_buf b = {0};
    kt_status st = kt_tlog_head_format(&h, t->key, &b);
    if (!st) st = kt_file_write_atomic(t->head_path, b.data, b.len, 0644);
    kt_buf_free(&b);
    return st;
}

static kt_status write_head(kt_tlog *t)
{
    return write_head_at(t, t->entries, t->last);
}

/* Entry seq starts at off: remembered when it begins a stretch of MARK_EVERY. Locked. */
static kt_status mark(kt_tlog *t, uint64_t seq, uint64_t off)
{
    if ((seq - 1) % MARK_EVERY) return KT_OK;
    if (t->nmarks == t->cap_marks) {
        size_t cap = t->cap_marks ? t->cap_marks * 2 : 64;
        uint64_t *m = realloc(t->marks, cap * sizeof *m);
        if (!m) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        t->marks = m;
        t->cap_marks = cap;
    }
    t->marks[t->nmarks++] = off;
    return KT_OK;
}

/* The marks and size of a log that walked cleanly. */
static kt_status mark_all(kt_tlog *t, const uint8_t *log, size_t n)
{
    uint64_t seq = 0;
    kt_status st = KT_OK;
    for (size_t off = 0; !st && off < n;) {
        const uint8_t *nl = memchr(log + off, '\n', n - off);
        st = mark(t, ++seq, off);
        off = (size_t)(nl - log) + 1;
    }
    t->size = n;
    return st;
}

kt_status kt_tlog_open(const char *path, const char *head_path, const kt_key *key, kt_tlog **out)
{
    if (!path || !head_path || !key || !out || strlen(head_path) >= 512)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: bad argument");
    if (kt_key_type_of(key) != KT_KEY_P256 || !kt_key_has_private(key))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: the log key must be a P-256 private key");
    kt_tlog *t = calloc(1, sizeof *t);
    if (!t) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->sync_lock, NULL);
    t->key = key;
    snprintf(t->head_path, sizeof t->head_path, "%s", head_path);
    t->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    kt_buf log = {0}, head = {0};
    kt_status st = t->fd < 0 ? kt_fail(KT_ERR_IO, "tlog: cannot open the log: %s", strerror(errno))
                             : kt_file_read(path, LOG_MAX, &log);
    struct stat sb;
    bool have_head = stat(head_path, &sb) == 0;
    if (!st && !have_head && log.len)
        st = kt_fail(KT_ERR_VERIFY, "tlog: the log has entries but its head is missing");
    if (!st && have_head) st = kt_file_read(head_path, 4096, &head);
    kt_key *pub = NULL;
    uint8_t raw[64];
    size_t rl;
    if (!st) st = kt_key_public_raw(key, raw, sizeof raw, &rl);
    if (!st) st = kt_key_from_public_raw(KT_KEY_P256, raw, rl, &pub);
    if (!st && have_head) {
        st = kt_tlog_verify(log.data, log.len, head.data, head.len, pub, NULL, NULL, NULL);
        if (st) {
            /* entries past a head that covers a prefix of the log (a crash after they were
             * written, before the head that covers them replaced the old one) are fine */
            kt_tlog_head h;
            uint64_t count = 0;
            uint8_t last[32];
            char why[400];
            snprintf(why, sizeof why, "%s", kt_last_error());
            hash_at at = {0};
            bool prefix = !kt_tlog_head_parse(head.data, head.len, pub, &h) &&
                          (at.seq = h.entries, at.seen = h.entries == 0,
                           !walk(log.data, log.len, note_hash, &at, &count, last)) &&
                          count > h.entries && at.seen && kt_equal(at.hash, h.hash, 32);
            if (prefix) {
                char n[24];
                snprintf(n, sizeof n, "%llu", (unsigned long long)(count - h.entries));
                kt_log(KT_LOG_WARN, "tlog.head_behind", "entries", n, NULL);
                st = KT_OK;
            } else {
                st = kt_fail(KT_ERR_VERIFY, "%s", why);
            }
        }
    }
    if (!st) st = walk(log.data, log.len, NULL, NULL, &t->entries, t->last);
    if (!st) st = mark_all(t, log.data, log.len);
    if (!st) st = write_head(t);
    t->synced = t->entries;
    kt_key_free(pub);
    kt_buf_free(&log);
    kt_buf_free(&head);
    if (st) {
        kt_tlog_free(t);
        return st;
    }
    *out = t;
    return KT_OK;
}

/* Entries up to seq fsynced and under a signed head: done already by another append, or
 * done now for every entry written so far. */
static kt_status sync_to(kt_tlog *t, uint64_t seq)
{
    pthread_mutex_lock(&t->sync_lock);
    kt_status st = KT_OK;
    if (t->synced < seq) {
        pthread_mutex_lock(&t->lock);
        uint64_t upto = t->entries;
        uint8_t last[32];
        memcpy(last, t->last, 32);
        pthread_mutex_unlock(&t->lock);
        if (fsync(t->fd)) st = kt_fail(KT_ERR_IO, "tlog: fsync: %s", strerror(errno));
        if (!st) st = write_head_at(t, upto, last);
        if (!st) t->synced = upto;
    }
    pthread_mutex_unlock(&t->sync_lock);
    return st;
}

kt_status kt_tlog_append(kt_tlog *t, kt_tlog_entry *e)
{
    if (!t || !e) return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: NULL argument");
    pthread_mutex_lock(&t->lock);
    kt_buf line = {0};
    kt_status st = t->broken ? kt_fail(KT_ERR_IO, "tlog: a write failed earlier; the log "
                                                  "takes no more entries until restarted")
                             : KT_OK;
    if (!st) {
        e->seq = t->entries + 1;
        memcpy(e->prev, t->last, 32);
        st = kt_tlog_entry_format(e, &line);
    }
    if (!st) st = mark(t, e->seq, t->size);
    if (!st) {
        ssize_t w = write(t->fd, line.data, line.len);
        if (w != (ssize_t)line.len) {
            t->broken = w > 0; /* part of a line is in the file */
            st = kt_fail(KT_ERR_IO, "tlog: appending: %s", w < 0 ? strerror(errno) : "short write");
        }
    }
    if (!st) {
        t->entries = e->seq;
        t->size += line.len;
        memcpy(t->last, e->hash, 32);
    } else if ((e->seq - 1) % MARK_EVERY == 0 && t->nmarks && !t->broken) {
        t->nmarks--; /* the entry it marked was not written */
    }
    pthread_mutex_unlock(&t->lock);
    kt_buf_free(&line);
    return st ? st : sync_to(t, e->seq);
}

uint64_t kt_tlog_entries(kt_tlog *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->entries;
    pthread_mutex_unlock(&t->lock);
    return n;
}

kt_status kt_tlog_read(kt_tlog *t, uint64_t from, uint64_t upto, size_t cap, kt_buf *lines)
{
    if (!t || !lines || from == 0 || cap == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "tlog: bad argument (entries count from 1)");
    pthread_mutex_lock(&t->lock);
    if (upto > t->entries) upto = t->entries;
    uint64_t off = 0, end = t->size, seq = 0;
    if (from <= upto) {
        size_t k = (size_t)((from - 1) / MARK_EVERY);
        off = t->marks[k];
        seq = (uint64_t)k * MARK_EVERY; /* the entry before off */
    }
    pthread_mutex_unlock(&t->lock);
    if (from > upto) return KT_OK;
    /* what is wanted lies within MARK_EVERY lines of skipping and cap bytes of lines */
    uint64_t want = (uint64_t)MARK_EVERY * LINE_MAX_BYTES + cap + LINE_MAX_BYTES;
    size_t n = (size_t)(end - off < want ? end - off : want);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(t->fd, buf + got, n - got, (off_t)(off + got));
        if (r <= 0) {
            free(buf);
            return kt_fail(KT_ERR_IO, "tlog: reading: %s", r < 0 ? strerror(errno) : "the log is shorter than written");
        }
        got += (size_t)r;
    }
    size_t p = 0, start = 0, stop = 0;
    while (p < n && seq < upto) {
        const uint8_t *nl = memchr(buf + p, '\n', n - p);
        if (!nl) break;
        size_t next = (size_t)(nl - buf) + 1;
        if (++seq == from) start = p;
        if (seq >= from) {
            if (next - start > cap && stop > start) break;
            stop = next;
        }
        p = next;
    }
    kt_status st = stop > start ? kt_buf_append(lines, buf + start, stop - start) : KT_OK;
    if (!st && stop == start)
        st = kt_fail(KT_ERR_MALFORMED, "tlog: entry %llu is not where the log's marks say",
                     (unsigned long long)from);
    free(buf);
    return st;
}

void kt_tlog_free(kt_tlog *t)
{
    if (!t) return;
    free(t->marks);
    if (t->fd >= 0) close(t->fd);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->sync_lock);
    free(t);
}
