/* The store's backends behind kt_store: a table of operations. kt_store (store.c) checks
 * every argument (keys, prefixes, sizes, limits) before a backend sees it. */
#ifndef KT_STORE_BACKEND_H
#define KT_STORE_BACKEND_H

#include <kubetee/store.h>

typedef struct {
    kt_status (*put)(void *impl, const char *key, const void *value, size_t n,
                     uint64_t expected_version, uint64_t *rev);
    kt_status (*get)(void *impl, const char *key, kt_store_object *out);
    kt_status (*del)(void *impl, const char *key, uint64_t expected_version, uint64_t *rev);
    kt_status (*list)(void *impl, const char *prefix, const char *after, size_t limit,
                      kt_store_list_result *out);
    kt_status (*changes)(void *impl, const char *prefix, uint64_t after, size_t limit,
                         kt_store_changes_result *out);
    kt_status (*wait)(void *impl, uint64_t after, unsigned timeout_ms);
    kt_status (*revision)(void *impl, uint64_t *rev);
    void (*close)(void *impl);
    void (*lock_state)(void *impl, kt_store_lock_info *out);
    /* items checked (keys, sizes, no key twice) and their status preset to
     * KT_ERR_CANCELLED; NULL: store.c does the puts one by one */
    kt_status (*put_batch)(void *impl, kt_store_put_item *items, size_t n);
} kt_store_ops;

struct kt_store {
    const kt_store_ops *ops;
    void *impl;
};

/* fs backend (fs.c): dir is an absolute path; holder (may be NULL) goes into the lock
 * file after the pid, for a second open refused to name. */
kt_status kt_store_fs_open(const char *dir, const char *holder, kt_store **out);
/* ---- fs: files written side by side (fs_write.c) ---- */
/* One file written durably, mode 0600: tmp created under dir, written and fsynced
 * (kt_file_write_synced_at); with name set, also renamed to it and dir fsynced
 * (kt_file_write_atomic_at). */
typedef struct {
    int dir;
    const char *name, *tmp;
    const void *data;
    size_t n;
    kt_status st;  /* out */
    char why[600]; /* out, when st: kt_last_error() of the write */
} kt_store_fs_write;
/* Every write of w[0..n), side by side on up to KT_STORE_FS_WRITERS threads (the caller's
 * one of them; fewer if threads cannot be had): a journaling file system commits fsyncs
 * that wait together in one go, so n files cost about what one does. */
#define KT_STORE_FS_WRITERS 16
void kt_store_fs_write_all(kt_store_fs_write *w, size_t n);

/* etcd backend (etcd.c): url is "etcd://host:port[,host:port...][/namespace]"; o may be
 * NULL (plaintext, loopback endpoints only). */
kt_status kt_store_etcd_open(const char *url, const kt_store_options *o, kt_store **out);

/* ---- etcd URLs (etcd_url.c) ---- */
#define KT_ETCD_ENDPOINTS_MAX 8
typedef struct {
    char host[254]; /* as written: a DNS name, dotted IPv4 or [IPv6] */
    uint16_t port;
    bool loopback;  /* 127.0.0.0/8, [::1] or localhost */
} kt_etcd_endpoint;
typedef struct {
    kt_etcd_endpoint ep[KT_ETCD_ENDPOINTS_MAX];
    size_t n;                      /* 1..KT_ETCD_ENDPOINTS_MAX, none named twice */
    char ns[KT_STORE_KEY_MAX + 1]; /* the namespace (default "kubetee") */
} kt_etcd_url;
kt_status kt_store_etcd_url_parse(const char *url, kt_etcd_url *out);
/* The URL u stands for, in its one canonical form (etcd://h:p,h:p/ns), into out (cut to
 * cap); returns the length it needs, as snprintf. */
size_t kt_store_etcd_url_format(const kt_etcd_url *u, char *out, size_t cap);

/* A put's or delete's expected version against the key's state (exists, its version):
 * KT_ERR_NOT_FOUND, KT_ERR_EXISTS or KT_ERR_STATE naming both versions; any: whatever
 * version, as long as the key exists. Every backend reports conflicts with it. */
kt_status kt_store_version_check(const char *key, bool exists, uint64_t version,
                                 uint64_t expected, bool any);

/* ---- names (key.c) ---- */
/* A prefix: "" or a key followed by '/'. */
kt_status kt_store_prefix_check(const char *prefix);
/* True when key lies in the namespace prefix. */
bool kt_store_in_prefix(const char *key, const char *prefix);

/* fs file names: "o." then the key with '_' written "__" and '/' written "_s" (every
 * other allowed byte as itself). The code is prefix-free, so the mapping is injective
 * and decodes back; at most 2 + 2 * KT_STORE_KEY_MAX = 252 bytes, under NAME_MAX. */
#define KT_STORE_FS_NAME_MAX (2 + 2 * KT_STORE_KEY_MAX)
kt_status kt_store_fs_name(const char *key, char out[KT_STORE_FS_NAME_MAX + 1]);
/* The key an "o." file name stands for; a name this mapping never makes is refused. */
kt_status kt_store_fs_key(const char *name, char out[KT_STORE_KEY_MAX + 1]);

/* ---- on-disk records (object.c); see docs/formats.md "Store objects (fs)" ---- */
#define KT_STORE_OBJ_MAGIC "KTSTOBJ1"
#define KT_STORE_OBJ_FIXED 42 /* magic 8, key_len 2, version 8, create 8, mod 8, value_len 8 */
#define KT_STORE_OBJ_MAX (KT_STORE_OBJ_FIXED + KT_STORE_KEY_MAX + KT_STORE_VALUE_MAX + 32)
typedef struct {
    char key[KT_STORE_KEY_MAX + 1];
    uint64_t version, create_revision, mod_revision;
    const uint8_t *value; /* inside the decoded bytes */
    size_t value_len;
} kt_store_obj_view;
kt_status kt_store_obj_encode(const char *key, uint64_t version, uint64_t create_revision,
                              uint64_t mod_revision, const void *value, size_t n, kt_buf *out);
kt_status kt_store_obj_decode(const uint8_t *p, size_t n, kt_store_obj_view *out);

#define KT_STORE_REV_MAGIC "KTSTREV1"
#define KT_STORE_REV_LEN 48 /* magic 8, revision 8, SHA-256 of the first 16 bytes */
void kt_store_rev_encode(uint64_t rev, uint8_t out[KT_STORE_REV_LEN]);
kt_status kt_store_rev_decode(const uint8_t *p, size_t n, uint64_t *rev);

#endif
