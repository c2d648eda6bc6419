/* kubetee store: the AECS host's object store (host only, never in an enclave).
 *
 * The host keeps only objects the AECS enclave has already sealed: values are opaque
 * bytes here, authenticated by the enclave (name, service and version in the AAD). This
 * layer adds what a host can: exact names, versions with compare-and-set, a global
 * revision, crash-safe writes and detection of on-disk corruption (a SHA-256 over each
 * object file; integrity against accidents, not against a hostile host).
 *
 * The interface follows etcd's v3 KV model, so the etcd backend maps onto it directly:
 *   revision         one counter for the whole store, +1 for every change
 *   create_revision  the revision that created the key (since it last did not exist)
 *   mod_revision     the revision of the key's last change
 *   version          changes since creation (1 after create); 0 means "does not exist",
 *                    so "expected version 0" is etcd's txn compare version(key) == 0
 *
 * Keys: segments of [A-Za-z0-9._-] separated by '/', no empty segment, no "." or "..",
 * 1..KT_STORE_KEY_MAX bytes. Anything else is refused with the reason.
 *
 * Backends by URL: "fs:/absolute/dir" (embedded default) and
 * "etcd://host:port[,host:port...][/namespace]" (etcd's v3 API, plaintext to loopback or
 * TLS, see kt_store_open_with; keys live under "<namespace>/", default "kubetee";
 * docs/operations.md "Store backends"). With etcd the revisions are the cluster's: other
 * tenants' changes leave gaps between a store's revisions, but never move its own. One
 * kt_store may be used by several threads at once.
 */
#ifndef KUBETEE_STORE_H
#define KUBETEE_STORE_H

#include <kubetee/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_STORE_KEY_MAX 125             /* bytes of a key */
#define KT_STORE_VALUE_MAX (1024 * 1024) /* bytes of a value (etcd's default is 1.5 MiB) */
#define KT_STORE_ANY_VERSION UINT64_MAX  /* kt_store_delete: whatever the version */

typedef struct kt_store kt_store;

/* Opens (creating if missing) the store at url. A store directory is held by one process:
 * a second open, from another process or this one, fails with KT_ERR_UNAVAILABLE. Bad
 * on-disk state (a truncated, edited or swapped object, an unknown file) fails the open
 * with KT_ERR_MALFORMED or KT_ERR_VERIFY naming the file. */
kt_status kt_store_open(const char *url, kt_store **out);
void kt_store_free(kt_store *s);

/* How the store reaches a remote backend (etcd; fs takes none: every field must be
 * unset). TLS is on when tls_ca is set: etcd's server certificate must chain to it (and
 * name the endpoint's host, or server_name); tls_cert and tls_key (both or neither) are
 * the client certificate an etcd with --client-cert-auth asks for. Without TLS only
 * loopback endpoints are reached, unless insecure says plaintext over the network is
 * wanted (logged at open as store.etcd.plaintext). With user set, the store logs in to
 * etcd's auth as that user with the password in password_file (its first line), and
 * again whenever etcd refuses the token; over plaintext only to loopback, as above. */
typedef struct {
    const char *tls_ca, *tls_cert, *tls_key, *server_name; /* PEM files; NULL or "": unset */
    bool insecure;
    const char *user, *password_file; /* etcd auth; NULL or "": none */
    /* The store's one holder (docs/operations.md "One AECS host per store"). holder:
     * printable text naming this process (host, pid, start, address), shown to a second
     * one refused: fs keeps it in the lock file after the pid (fs holds its directory
     * whether or not it is set); etcd holds the namespace only when it is set, by a lease
     * of lock_ttl_ms (0: 10 s; etcd's own minimum may round it up), which a thread of the
     * store renews every third of it, and the key "<namespace>/#lock" bound to that lease,
     * created only if absent: while another holds it the open fails with
     * KT_ERR_UNAVAILABLE naming the holder and its lease's time left. Every write then
     * also compares that the lock key is still the one this store created and never
     * modified (its mod_revision), so a store whose lease expired (the process paused or
     * cut off for a TTL) cannot write over the next holder's: once lost (a write fenced,
     * etcd saying the lease is gone, the key gone, another's or rewritten, or no renewal
     * confirmed for four fifths of the TTL, counted on CLOCK_BOOTTIME from the renewal's
     * send), every write fails with KT_ERR_UNAVAILABLE saying so, and lock_lost (if set)
     * is called once, from the thread that saw it, with the reason. Each of the lock's
     * calls takes at most a fifth of the TTL (3 s at most), and no call of the store (a
     * read or write too) goes past that deadline.
     * kt_store_free deletes the lock key if this store created it and revokes the lease
     * (3 s at most with etcd unreachable): the next holder may start at once. */
    const char *holder;
    unsigned lock_ttl_ms;
    void (*lock_lost)(void *ctx, const char *why);
    void *lock_ctx;
} kt_store_options;
/* kt_store_open with options (NULL: none). */
kt_status kt_store_open_with(const char *url, const kt_store_options *o, kt_store **out);

/* The store's hold on its backend, for readiness and metrics. */
typedef struct {
    bool held;               /* fs: always while open; etcd: a lock taken and not lost */
    bool lost;               /* etcd: the lock was lost (see holder above; the deadline is
                              * checked by the clock at each kt_store_lock_state) */
    int64_t lease;           /* etcd: the lock's lease ID (0: none) */
    unsigned ttl_ms;         /* etcd: the lease's TTL, as granted */
    uint64_t renewals;       /* etcd: renewals etcd confirmed */
    uint64_t renew_failures; /* etcd: renewals that failed (etcd unreachable, refused) */
} kt_store_lock_info;
void kt_store_lock_state(kt_store *s, kt_store_lock_info *out);

/* Checks n bytes of a key against the rules above (a NUL byte is refused like every other
 * control byte); the reason says which rule. The functions below take NUL-terminated keys
 * and check them the same way: check bytes from outside with this one first. */
kt_status kt_store_key_check(const void *key, size_t n);

/* The store's revision: the revision of the last change (0 for a new store). */
kt_status kt_store_revision(kt_store *s, uint64_t *rev);

/* Writes key when its current version is expected_version (0: it must not exist).
 * KT_ERR_EXISTS: expected 0 and the key exists; KT_ERR_NOT_FOUND: expected > 0 and it
 * does not; KT_ERR_STATE: another version (the reason names both). On success *rev (if
 * not NULL) is the revision of this change, and the key's version is expected + 1. */
kt_status kt_store_put(kt_store *s, const char *key, const void *value, size_t n,
                       uint64_t expected_version, uint64_t *rev);
/* kt_store_put with expected version 0: create-if-absent. */
kt_status kt_store_create(kt_store *s, const char *key, const void *value, size_t n, uint64_t *rev);

/* ---- batches of puts ---- */
#define KT_STORE_BATCH_MAX 64 /* puts in one batch */
typedef struct {
    const char *key; /* in: as for kt_store_put */
    const void *value;
    size_t n;
    uint64_t expected_version;
    kt_status status;  /* out: KT_OK (applied), its failure, or KT_ERR_CANCELLED (not tried) */
    uint64_t revision; /* out, on KT_OK: the revision of this put */
} kt_store_put_item;
/* The puts of items[0..n) (1..KT_STORE_BATCH_MAX, no key twice), in order, each exactly
 * as kt_store_put: its own compare-and-set with its expected version, its own revision,
 * the same errors, and when its status is KT_OK it is durable, as an acknowledged put.
 * The batch stops at the first put that fails: those before it applied, those after it are
 * KT_ERR_CANCELLED and wrote nothing (the outcome of the puts one by one, stopping at the
 * first error). Returns KT_OK when every put applied, else the failed put's status, with
 * kt_last_error() naming it ("put i of n: <key>: ..."). Arguments are checked first: a bad
 * key, value or size, or a key named twice, fails that item and cancels every other (none
 * is written). A put failing with KT_ERR_IO may or may not have applied, as for
 * kt_store_put. A crash during a batch leaves each of its objects old or new, whole.
 * fs makes the batch's objects durable together (their files written and fsynced side by
 * side, then renamed, then one fsync of the directory); etcd does the puts one by one. */
kt_status kt_store_put_batch(kt_store *s, kt_store_put_item *items, size_t n);

typedef struct {
    kt_buf value;
    uint64_t version, create_revision, mod_revision;
} kt_store_object;
void kt_store_object_free(kt_store_object *o);

/* Reads key (KT_ERR_NOT_FOUND if absent). An object whose bytes on disk are not what
 * this store wrote fails with KT_ERR_VERIFY or KT_ERR_MALFORMED naming the file. */
kt_status kt_store_get(kt_store *s, const char *key, kt_store_object *out);

/* Removes key when its version is expected_version (or KT_STORE_ANY_VERSION). Errors as
 * for put: KT_ERR_NOT_FOUND, KT_ERR_STATE. */
kt_status kt_store_delete(kt_store *s, const char *key, uint64_t expected_version, uint64_t *rev);

typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t version, create_revision, mod_revision;
    size_t value_len;
} kt_store_entry;

typedef struct {
    kt_store_entry *entries; /* in byte order of their keys */
    size_t count;
    bool more;                       /* more keys under the prefix follow */
    char next[KT_STORE_KEY_MAX + 1]; /* if more: pass as `after` for the next page */
    uint64_t revision;               /* the store's revision when listed */
} kt_store_list_result;
void kt_store_list_result_free(kt_store_list_result *r);

/* The keys that begin with prefix, in order, after `after` (NULL or "" for the first
 * page), at most limit (1..1000) of them. prefix is a whole namespace: it ends in '/'
 * ("svc/a/" never lists "svc/ab/x"), or is "" for every key. */
kt_status kt_store_list(kt_store *s, const char *prefix, const char *after, size_t limit,
                        kt_store_list_result *out);

/* ---- watch: the changes after a revision ---- */
typedef enum { KT_STORE_EVENT_PUT = 1, KT_STORE_EVENT_DELETE = 2 } kt_store_event_type;
typedef struct {
    kt_store_event_type type;
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t revision; /* the change's revision (the key's mod_revision for a put) */
    uint64_t version;  /* the key's version after the change (0 after a delete) */
} kt_store_event;

typedef struct {
    kt_store_event *events; /* in revision order */
    size_t count;
    uint64_t next; /* pass as `after` for the next call */
} kt_store_changes_result;
void kt_store_changes_result_free(kt_store_changes_result *r);

/* The changes with revision > after under prefix (as for list), at most limit. The
 * store keeps a bounded history (fs: the changes since open, at most KT_STORE_HISTORY of
 * them; etcd: what its compaction left): asking for older ones fails with KT_ERR_STATE
 * saying "compacted"; the caller lists again and continues from the list's revision. */
#define KT_STORE_HISTORY 4096
kt_status kt_store_changes(kt_store *s, const char *prefix, uint64_t after, size_t limit,
                           kt_store_changes_result *out);
/* Waits until the store's revision is past `after`, up to timeout_ms: KT_OK or
 * KT_ERR_TIMEOUT. */
kt_status kt_store_wait(kt_store *s, uint64_t after, unsigned timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
