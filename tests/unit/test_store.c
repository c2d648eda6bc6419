/* store: the conformance cases run on both backends, fs and etcd (a real etcd the test
 * starts): every operation and its refusals, compare-and-set races from two threads (one
 * wins), names refused with their reason, prefixes that never match part of a name,
 * watch by poll and wait. Then each backend's own: fs names mapped to files one to one, a
 * second process kept out, on-disk damage found and named, a failed write; etcd URLs,
 * namespaces kept apart, etcd restarted mid-run, a compacted revision, a key another
 * client wrote, a list of values too large for one answer. Batches of puts: store_batch.inc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/store/backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[64] = "/tmp/kt-store-XXXXXX";
static int dirs;

static int setup(void **state)
{
    (void)state;
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd);
}

/* A fresh store directory: its path in dir, its URL in url. */
static void fresh(char dir[128], char url[140])
{
    snprintf(dir, 128, "%s/s%d", base, dirs++);
    snprintf(url, 140, "fs:%s", dir);
}

/* The backend the conformance cases run on: fresh() gives the URL of a new, empty store. */
typedef struct {
    const char *name;
    void (*fresh)(char url[256]);
} backend;
static const backend *B;

static void fs_fresh(char url[256])
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/s%d", base, dirs++);
    snprintf(url, 256, "fs:%s", dir);
}
static const backend fs_backend = {"fs", fs_fresh};

static int etcd_port, etcd_peer_port;
static pid_t etcd_pid;

/* A namespace of its own on the test's etcd. */
static void etcd_fresh(char url[256])
{
    snprintf(url, 256, "etcd://127.0.0.1:%d/t%d", etcd_port, dirs++);
}
static const backend etcd_backend = {"etcd", etcd_fresh};

static kt_store *open_ok(const char *url)
{
    kt_store *s = NULL;
    kt_status st = kt_store_open(url, &s);
    if (st) fail_msg("open %s: %s", url, kt_last_error());
    return s;
}

static void put_str(kt_store *s, const char *key, const char *v, uint64_t expected)
{
    kt_status st = kt_store_put(s, key, v, strlen(v), expected, NULL);
    if (st) fail_msg("put %s: %s", key, kt_last_error());
}

static void test_urls(void **state)
{
    (void)state;
    kt_store *s;
    assert_fails_with(kt_store_open("s3://bucket", &s), KT_ERR_UNSUPPORTED, "unknown backend");
    assert_fails_with(kt_store_open("fs:", &s), KT_ERR_INVALID_ARGUMENT, "needs a directory");
    assert_fails_with(kt_store_open("fs:relative/dir", &s), KT_ERR_INVALID_ARGUMENT, "absolute");
    assert_fails_with(kt_store_open("\x01\n", &s), KT_ERR_UNSUPPORTED, "\\x01\\x0a");
}

static void test_operations(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t rev = 99, r1, r2, r3, b; /* b: the revision before; etcd starts at 1 */
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    if (B == &fs_backend) assert_int_equal(b, 0);

    assert_int_equal(kt_store_create(s, "svc/a/k1", "one", 3, &r1), KT_OK);
    assert_int_equal(r1, b + 1);
    assert_fails_with(kt_store_create(s, "svc/a/k1", "two", 3, NULL), KT_ERR_EXISTS,
                      "exists (version 1)");
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "svc/a/k1", &o), KT_OK);
    assert_int_equal(o.value.len, 3);
    assert_memory_equal(o.value.data, "one", 3);
    assert_int_equal(o.version, 1);
    assert_int_equal(o.create_revision, b + 1);
    assert_int_equal(o.mod_revision, b + 1);

    /* compare-and-set on the version */
    assert_int_equal(kt_store_put(s, "svc/a/k1", "uno", 3, 1, &r2), KT_OK);
    assert_int_equal(r2, b + 2);
    assert_fails_with(kt_store_put(s, "svc/a/k1", "x", 1, 1, NULL), KT_ERR_STATE,
                      "at version 2, not the expected 1");
    assert_fails_with(kt_store_put(s, "svc/a/k1", "x", 1, 0, NULL), KT_ERR_EXISTS, "exists");
    assert_fails_with(kt_store_put(s, "svc/a/nope", "x", 1, 3, NULL), KT_ERR_NOT_FOUND,
                      "does not exist");
    assert_fails_with(kt_store_put(s, "svc/a/k1", "x", 1, KT_STORE_ANY_VERSION, NULL),
                      KT_ERR_INVALID_ARGUMENT, "names the version");
    assert_int_equal(kt_store_get(s, "svc/a/k1", &o), KT_OK);
    assert_memory_equal(o.value.data, "uno", 3);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.create_revision, b + 1);
    assert_int_equal(o.mod_revision, b + 2);

    /* an empty value and a value over the limit */
    assert_int_equal(kt_store_create(s, "svc/a/empty", NULL, 0, NULL), KT_OK);
    assert_int_equal(kt_store_get(s, "svc/a/empty", &o), KT_OK);
    assert_int_equal(o.value.len, 0);
    uint8_t *big = calloc(1, KT_STORE_VALUE_MAX + 1);
    assert_fails_with(kt_store_create(s, "svc/a/big", big, KT_STORE_VALUE_MAX + 1, NULL),
                      KT_ERR_TOO_LARGE, "over the limit");
    assert_int_equal(kt_store_create(s, "svc/a/big", big, KT_STORE_VALUE_MAX, NULL), KT_OK);
    free(big);

    /* delete exact, with the expected version */
    assert_fails_with(kt_store_delete(s, "svc/a/k1", 1, NULL), KT_ERR_STATE, "not the expected 1");
    assert_fails_with(kt_store_delete(s, "svc/a/k1", 0, NULL), KT_ERR_INVALID_ARGUMENT,
                      "version 0");
    assert_fails_with(kt_store_delete(s, "svc/a/k", 1, NULL), KT_ERR_NOT_FOUND, "does not exist");
    assert_fails_with(kt_store_delete(s, "svc/a/k", KT_STORE_ANY_VERSION, NULL), KT_ERR_NOT_FOUND,
                      "does not exist");
    assert_int_equal(kt_store_delete(s, "svc/a/k1", 2, &r3), KT_OK);
    assert_int_equal(r3, b + 5);
    assert_fails_with(kt_store_get(s, "svc/a/k1", &o), KT_ERR_NOT_FOUND, "does not exist");
    /* created again: version 1 and a new create_revision, as etcd */
    assert_int_equal(kt_store_create(s, "svc/a/k1", "again", 5, NULL), KT_OK);
    assert_int_equal(kt_store_get(s, "svc/a/k1", &o), KT_OK);
    assert_int_equal(o.version, 1);
    assert_int_equal(o.create_revision, b + 6);
    assert_int_equal(kt_store_delete(s, "svc/a/empty", KT_STORE_ANY_VERSION, NULL), KT_OK);
    kt_store_free(s);

    /* everything survives a reopen, and the revision goes on from where it was */
    s = open_ok(url);
    assert_int_equal(kt_store_revision(s, &rev), KT_OK);
    assert_int_equal(rev, b + 7);
    assert_int_equal(kt_store_get(s, "svc/a/k1", &o), KT_OK);
    assert_memory_equal(o.value.data, "again", 5);
    assert_int_equal(o.mod_revision, b + 6);
    assert_fails_with(kt_store_get(s, "svc/a/empty", &o), KT_ERR_NOT_FOUND, "does not exist");
    assert_int_equal(kt_store_get(s, "svc/a/big", &o), KT_OK);
    assert_int_equal(o.value.len, KT_STORE_VALUE_MAX);
    assert_int_equal(kt_store_put(s, "svc/a/big", "s", 1, 1, &r1), KT_OK);
    assert_int_equal(r1, b + 8);
    kt_store_object_free(&o);
    kt_store_free(s);
}

static void test_names(void **state)
{
    (void)state;
    char long_key[KT_STORE_KEY_MAX + 2];
    memset(long_key, 'a', sizeof long_key);
    long_key[KT_STORE_KEY_MAX + 1] = '\0';
    struct {
        const char *key;
        size_t n;
        const char *reason;
    } bad[] = {
        {"../x", 4, "segment '..' at byte 0"},
        {"a//b", 4, "empty segment at byte 2"},
        {"a/./b", 5, "segment '.' at byte 2"},
        {"a/..", 4, "segment '..' at byte 2"},
        {"/a", 2, "empty segment at byte 0"},
        {"a/", 2, "empty segment at byte 2"},
        {"a\0b", 3, "control byte 0x00 at byte 1"},
        {"a\nb", 3, "control byte 0x0a at byte 1"},
        {"a\x7f", 2, "control byte 0x7f at byte 1"},
        {"a b", 3, "byte 0x20 at byte 1"},
        {"a\\b", 3, "byte 0x5c at byte 1"},
        {"caf\xc3\xa9", 5, "non-ASCII byte 0xc3 at byte 3"},
        {"", 0, "empty"},
        {long_key, KT_STORE_KEY_MAX + 1, "126 bytes is over the limit of 125"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_fails_with(kt_store_key_check(bad[i].key, bad[i].n), KT_ERR_INVALID_ARGUMENT,
                          bad[i].reason);
    assert_int_equal(kt_store_key_check(long_key, KT_STORE_KEY_MAX), KT_OK);
    assert_int_equal(kt_store_key_check("svc/A-b_c.d/v1", 14), KT_OK);
    assert_int_equal(kt_store_key_check("...", 3), KT_OK); /* only "." and ".." are special */

    /* every operation refuses them, and nothing reaches the disk */
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t b, rev;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    kt_store_object o = {0};
    kt_store_list_result l;
    assert_fails_with(kt_store_create(s, "../x", "v", 1, NULL), KT_ERR_INVALID_ARGUMENT, "'..'");
    assert_fails_with(kt_store_put(s, "a//b", "v", 1, 0, NULL), KT_ERR_INVALID_ARGUMENT,
                      "empty segment");
    assert_fails_with(kt_store_get(s, "a/./b", &o), KT_ERR_INVALID_ARGUMENT, "'.'");
    assert_fails_with(kt_store_delete(s, "a\nb", 1, NULL), KT_ERR_INVALID_ARGUMENT, "0x0a");
    assert_fails_with(kt_store_create(s, long_key, "v", 1, NULL), KT_ERR_INVALID_ARGUMENT,
                      "over the limit");
    assert_fails_with(kt_store_list(s, "svc/a", NULL, 10, &l), KT_ERR_INVALID_ARGUMENT,
                      "ends in '/'");
    assert_fails_with(kt_store_list(s, "svc//", NULL, 10, &l), KT_ERR_INVALID_ARGUMENT,
                      "empty segment");
    assert_fails_with(kt_store_list(s, "svc/../", NULL, 10, &l), KT_ERR_INVALID_ARGUMENT, "'..'");
    assert_fails_with(kt_store_list(s, "svc/", NULL, 0, &l), KT_ERR_INVALID_ARGUMENT, "limit 0");
    assert_int_equal(kt_store_revision(s, &rev), KT_OK);
    assert_int_equal(rev, b); /* nothing was written */
    kt_store_free(s);
}

/* Keys that a careless mapping would fold together get files of their own. */
static void test_name_mapping(void **state)
{
    (void)state;
    const char *keys[] = {"a_b",   "a/b",   "a_sb", "a__b", "a_/b", "a/_b",
                          "a_s/b", "a/s_b", "a_",   "a/_",  "A_b"};
    size_t n = sizeof keys / sizeof *keys;
    char names[16][KT_STORE_FS_NAME_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kt_store_fs_name(keys[i], names[i]), KT_OK);
        char back[KT_STORE_KEY_MAX + 1];
        assert_int_equal(kt_store_fs_key(names[i], back), KT_OK);
        assert_string_equal(back, keys[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(names[i], names[j]);
    }
    assert_string_equal(names[0], "o.a__b");
    assert_string_equal(names[1], "o.a_sb");
    char out[KT_STORE_KEY_MAX + 1];
    assert_fails_with(kt_store_fs_key("o.a_xb", out), KT_ERR_MALFORMED, "'_' not followed");
    assert_fails_with(kt_store_fs_key("o.a_", out), KT_ERR_MALFORMED, "'_' not followed");
    assert_fails_with(kt_store_fs_key("o.a_s_s", out), KT_ERR_MALFORMED, "empty segment");
    assert_fails_with(kt_store_fs_key("o._s_s..", out), KT_ERR_MALFORMED, "empty segment");
    assert_fails_with(kt_store_fs_key("o.a b", out), KT_ERR_MALFORMED, "0x20");
    assert_fails_with(kt_store_fs_key("o.a/b", out), KT_ERR_MALFORMED,
                      "raw '/'"); /* found by fuzz_store */
    /* the longest key fits a file name */
    char longest[KT_STORE_KEY_MAX + 1], name[KT_STORE_FS_NAME_MAX + 1];
    memset(longest, '_', KT_STORE_KEY_MAX);
    longest[KT_STORE_KEY_MAX] = '\0';
    assert_int_equal(kt_store_fs_name(longest, name), KT_OK);
    assert_int_equal(strlen(name), 252);
}

/* Keys that a careless mapping would fold together stay apart in a store. */
static void test_similar_keys_stay_apart(void **state)
{
    (void)state;
    const char *keys[] = {"a_b",   "a/b",   "a_sb", "a__b", "a_/b", "a/_b",
                          "a_s/b", "a/s_b", "a_",   "a/_",  "A_b"};
    size_t n = sizeof keys / sizeof *keys;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    for (size_t i = 0; i < n; i++)
        put_str(s, keys[i], keys[i], 0);
    kt_store_free(s);
    s = open_ok(url);
    kt_store_object o = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kt_store_get(s, keys[i], &o), KT_OK);
        assert_int_equal(o.value.len, strlen(keys[i]));
        assert_memory_equal(o.value.data, keys[i], o.value.len);
    }
    kt_store_object_free(&o);
    kt_store_free(s);
}

static void test_list(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t b;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    const char *keys[] = {"svc/ab/x", "svc/a/y",   "svc/a",   "svc/a/x",
                          "svc/a-/z", "svc/a/z/1", "svc/b/x", "svc/a.b/x"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_str(s, keys[i], "v", 0);
    kt_store_list_result l;
    assert_int_equal(kt_store_list(s, "svc/a/", NULL, 1000, &l), KT_OK);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.entries[0].key, "svc/a/x");
    assert_string_equal(l.entries[1].key, "svc/a/y");
    assert_string_equal(l.entries[2].key, "svc/a/z/1");
    assert_false(l.more);
    assert_int_equal(l.revision, b + 8);
    assert_int_equal(l.entries[0].version, 1);
    assert_int_equal(l.entries[0].mod_revision, b + 4);
    assert_int_equal(l.entries[0].value_len, 1);
    kt_store_list_result_free(&l);

    /* pages of one, continued by key */
    const char *want[] = {"svc/a/x", "svc/a/y", "svc/a/z/1"};
    char after[KT_STORE_KEY_MAX + 1] = "";
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(kt_store_list(s, "svc/a/", after, 1, &l), KT_OK);
        assert_int_equal(l.count, 1);
        assert_string_equal(l.entries[0].key, want[i]);
        assert_int_equal(l.more, i < 2);
        if (l.more) assert_string_equal(l.next, want[i]);
        strcpy(after, l.entries[0].key);
        kt_store_list_result_free(&l);
    }
    /* a continuation outside the prefix is refused, one past the end lists nothing */
    assert_fails_with(kt_store_list(s, "svc/a/", "svc/ab/x", 10, &l), KT_ERR_INVALID_ARGUMENT,
                      "not under the prefix");
    assert_int_equal(kt_store_list(s, "svc/a/", "svc/a/zz", 10, &l), KT_OK);
    assert_int_equal(l.count, 0);
    kt_store_list_result_free(&l);
    assert_int_equal(kt_store_list(s, "svc/c/", NULL, 10, &l), KT_OK);
    assert_int_equal(l.count, 0);
    kt_store_list_result_free(&l);
    /* "" lists every key, in byte order */
    assert_int_equal(kt_store_list(s, "", NULL, 1000, &l), KT_OK);
    assert_int_equal(l.count, 8);
    for (size_t i = 1; i < l.count; i++)
        assert_true(strcmp(l.entries[i - 1].key, l.entries[i].key) < 0);
    kt_store_list_result_free(&l);
    kt_store_free(s);
}

typedef struct {
    kt_store *s;
    pthread_barrier_t *bar;
    int rounds, wins, losses, other;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(r->bar);
        char v[32];
        int n = snprintf(v, sizeof v, "%p-%d", (void *)r, i);
        kt_status st = kt_store_put(r->s, "race/k", v, (size_t)n, (uint64_t)i + 1, NULL);
        if (st == KT_OK)
            r->wins++;
        else if (st == KT_ERR_STATE)
            r->losses++;
        else
            r->other++;
        pthread_barrier_wait(r->bar);
    }
    return NULL;
}

static void test_cas_race(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    put_str(s, "race/k", "start", 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    racer a = {s, &bar, 200, 0, 0, 0}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &a);
    pthread_create(&tb, NULL, race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    /* each round both put on version i+1: exactly one wins, the other sees a conflict */
    assert_int_equal(a.other + b.other, 0);
    assert_int_equal(a.wins + b.wins, 200);
    assert_int_equal(a.losses + b.losses, 200);
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "race/k", &o), KT_OK);
    assert_int_equal(o.version, 201);
    kt_store_object_free(&o);
    /* create-if-absent races the same way */
    int created = 0;
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "race/c%d", i);
        created += kt_store_create(s, key, "x", 1, NULL) == KT_OK;
        assert_fails_with(kt_store_create(s, key, "y", 1, NULL), KT_ERR_EXISTS, "exists");
    }
    assert_int_equal(created, 50);
    kt_store_free(s);
}

static void test_lock(void **state)
{
    (void)state;
    char dir[128], url[140];
    fresh(dir, url);
    kt_store *s = open_ok(url), *t = NULL;
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    assert_fails_with(kt_store_open(url, &t), KT_ERR_UNAVAILABLE, pid);
    assert_null(t);
    /* another process is refused with the same reason */
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        kt_store *c = NULL;
        kt_status st = kt_store_open(url, &c);
        _exit(st == KT_ERR_UNAVAILABLE && strstr(kt_last_error(), "is in use") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    put_str(s, "k", "v", 0); /* the refused opens did not disturb the holder */
    kt_store_free(s);
    s = open_ok(url); /* released on free */
    kt_store_free(s);
}

/* Writes raw bytes into a file of a closed store. */
static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void read_file(const char *path, kt_buf *b)
{
    kt_buf_free(b);
    assert_int_equal(kt_file_read(path, 1 << 22, b), KT_OK);
}

static void test_corruption(void **state)
{
    (void)state;
    char dir[128], url[140], a[200], b[200], p[200];
    fresh(dir, url);
    kt_store *s = open_ok(url), *t = NULL;
    put_str(s, "svc/x/a", "alpha-value", 0);
    put_str(s, "svc/x/b", "beta-value", 0);
    kt_store_free(s);
    snprintf(a, sizeof a, "%s/objects/o.svc_sx_sa", dir);
    snprintf(b, sizeof b, "%s/objects/o.svc_sx_sb", dir);
    kt_buf orig = {0}, other = {0}, tmp = {0};
    read_file(a, &orig);
    read_file(b, &other);

    /* truncated */
    write_file(a, orig.data, orig.len - 5);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED,
                      "objects/o.svc_sx_sa: store object: ");
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "truncated");
    assert_null(t);
    /* one byte of the value changed */
    kt_buf_append(&tmp, orig.data, orig.len);
    tmp.data[KT_STORE_OBJ_FIXED + 8] ^= 1;
    write_file(a, tmp.data, tmp.len);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_VERIFY,
                      "o.svc_sx_sa: store object: SHA-256 does not match");
    /* b's file put in a's place */
    write_file(a, other.data, other.len);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_VERIFY,
                      "o.svc_sx_sa: holds key svc/x/b, not svc/x/a");
    write_file(a, orig.data, orig.len);

    /* unknown files, in the objects directory and the root */
    snprintf(p, sizeof p, "%s/objects/notes.txt", dir);
    write_file(p, "hi", 2);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "objects/notes.txt: unknown file");
    unlink(p);
    snprintf(p, sizeof p, "%s/objects/o.a_xb", dir);
    write_file(p, orig.data, orig.len);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "objects/o.a_xb: object file name");
    unlink(p);
    snprintf(p, sizeof p, "%s/objects/o.bad\nname", dir);
    write_file(p, "", 0);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "objects/o.bad\\x0aname");
    unlink(p);
    snprintf(p, sizeof p, "%s/extra", dir);
    write_file(p, "", 0);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED,
                      "extra: unknown file in the store directory");
    unlink(p);
    snprintf(p, sizeof p, "%s/objects/o.sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "o.sub: not a regular file");
    rmdir(p);

    /* the revision file: edited, or gone while objects remain */
    snprintf(p, sizeof p, "%s/revision", dir);
    read_file(p, &tmp);
    tmp.data[8] ^= 1;
    write_file(p, tmp.data, tmp.len);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_VERIFY,
                      "revision: store revision file: SHA-256");
    unlink(p);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_MALFORMED, "2 objects but no revision file");
    /* a revision file older than its objects (the host rolled back only the counter) */
    uint8_t rec[KT_STORE_REV_LEN];
    kt_store_rev_encode(1, rec);
    write_file(p, rec, sizeof rec);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_VERIFY,
                      "revision 2 is past the store's revision 1");
    kt_store_rev_encode(2, rec);
    write_file(p, rec, sizeof rec);

    /* leftovers of interrupted writes are removed, the rest opens */
    snprintf(p, sizeof p, "%s/objects/t.svc_sx_sa", dir);
    write_file(p, "half", 4);
    s = open_ok(url);
    assert_int_equal(access(p, F_OK), -1);

    /* damage while open is found on read, never served */
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "svc/x/a", &o), KT_OK);
    write_file(a, orig.data, orig.len - 1);
    assert_fails_with(kt_store_get(s, "svc/x/a", &o), KT_ERR_MALFORMED,
                      "o.svc_sx_sa: store object");
    write_file(a, other.data, other.len);
    assert_fails_with(kt_store_get(s, "svc/x/a", &o), KT_ERR_VERIFY, "holds key svc/x/b");
    unlink(a);
    assert_fails_with(kt_store_get(s, "svc/x/a", &o), KT_ERR_VERIFY,
                      "o.svc_sx_sa: gone, where this store wrote version 1 at revision 1");
    /* an older version put back while open (a replay) */
    put_str(s, "svc/x/b", "beta-2", 1);
    write_file(b, other.data, other.len);
    assert_fails_with(
        kt_store_get(s, "svc/x/b", &o), KT_ERR_VERIFY,
        "holds version 1 at revision 2, where this store wrote version 2 at revision 3");
    kt_store_object_free(&o);
    kt_store_free(s);
    kt_buf_free(&orig), kt_buf_free(&other), kt_buf_free(&tmp);
}

/* A write that fails midway leaves the store refusing changes until it is reopened (it
 * cannot vouch for the disk), and the reopen reports what is in the way. */
static void test_write_failure(void **state)
{
    (void)state;
    char dir[128], url[140], p[200];
    fresh(dir, url);
    kt_store *s = open_ok(url), *t = NULL;
    put_str(s, "k/a", "v", 0);
    snprintf(p, sizeof p, "%s/objects/t.k_sb", dir);
    assert_int_equal(mkdir(p, 0700), 0); /* the temporary file's name is taken */
    assert_fails_with(kt_store_create(s, "k/b", "v", 1, NULL), KT_ERR_IO, "objects/o.k_sb: t.k_sb");
    assert_fails_with(kt_store_create(s, "k/c", "v", 1, NULL), KT_ERR_STATE, "reopen the store");
    assert_fails_with(kt_store_delete(s, "k/a", 1, NULL), KT_ERR_STATE, "reopen the store");
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "k/a", &o), KT_OK); /* reads still work */
    kt_store_free(s);
    assert_fails_with(kt_store_open(url, &t), KT_ERR_IO, "objects/t.k_sb");
    rmdir(p);
    s = open_ok(url);
    uint64_t rev;
    assert_int_equal(kt_store_revision(s, &rev), KT_OK);
    assert_int_equal(rev, 2); /* the failed change's revision is not reused */
    assert_fails_with(kt_store_get(s, "k/b", &o), KT_ERR_NOT_FOUND, "does not exist");
    assert_int_equal(kt_store_create(s, "k/b", "v", 1, &rev), KT_OK);
    assert_int_equal(rev, 3);
    kt_store_object_free(&o);
    kt_store_free(s);
}

static void *delayed_put(void *arg)
{
    usleep(50 * 1000);
    put_str(arg, "w/late", "v", 0);
    return NULL;
}

static void test_watch(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t b;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    put_str(s, "w/a", "1", 0);
    put_str(s, "x/b", "1", 0);
    put_str(s, "w/a", "2", 1);
    assert_int_equal(kt_store_delete(s, "w/a", 2, NULL), KT_OK);
    kt_store_changes_result c;
    assert_int_equal(kt_store_changes(s, "w/", b, 100, &c), KT_OK);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.events[0].type, KT_STORE_EVENT_PUT);
    assert_int_equal(c.events[0].revision, b + 1);
    assert_int_equal(c.events[0].version, 1);
    assert_int_equal(c.events[1].revision, b + 3);
    assert_int_equal(c.events[1].version, 2);
    assert_int_equal(c.events[2].type, KT_STORE_EVENT_DELETE);
    assert_int_equal(c.events[2].revision, b + 4);
    assert_int_equal(c.events[2].version, 0);
    assert_string_equal(c.events[2].key, "w/a");
    assert_int_equal(c.next, b + 4);
    kt_store_changes_result_free(&c);
    /* paged: the next call continues after the last event returned */
    assert_int_equal(kt_store_changes(s, "", b, 2, &c), KT_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.next, b + 2);
    kt_store_changes_result_free(&c);
    assert_int_equal(kt_store_changes(s, "", b + 2, 2, &c), KT_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.events[0].revision, b + 3);
    kt_store_changes_result_free(&c);
    /* nothing new: no events, and next stays */
    assert_int_equal(kt_store_changes(s, "", b + 4, 2, &c), KT_OK);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.next, b + 4);
    kt_store_changes_result_free(&c);
    assert_fails_with(kt_store_changes(s, "", b + 9, 2, &c), KT_ERR_INVALID_ARGUMENT,
                      "in the future");

    /* wait: times out with nothing new, wakes for a change from another thread */
    char why[64];
    snprintf(why, sizeof why, "no change after revision %llu", (unsigned long long)(b + 4));
    assert_fails_with(kt_store_wait(s, b + 4, 20), KT_ERR_TIMEOUT, why);
    assert_fails_with(kt_store_wait(s, b + 4, 0), KT_ERR_TIMEOUT, why);
    assert_int_equal(kt_store_wait(s, b + 3, 0), KT_OK);
    pthread_t th;
    pthread_create(&th, NULL, delayed_put, s);
    assert_int_equal(kt_store_wait(s, b + 4, 10000), KT_OK);
    pthread_join(th, NULL);
    assert_int_equal(kt_store_changes(s, "w/", b + 4, 10, &c), KT_OK);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.events[0].key, "w/late");
    assert_int_equal(c.events[0].revision, b + 5);
    kt_store_changes_result_free(&c);
    kt_store_free(s);
}

/* fs keeps the changes since it was opened, at most KT_STORE_HISTORY of them. */
static void test_fs_history(void **state)
{
    (void)state;
    char dir[128], url[140];
    fresh(dir, url);
    kt_store *s = open_ok(url);
    put_str(s, "w/a", "1", 0);
    put_str(s, "x/b", "1", 0);
    put_str(s, "w/a", "2", 1);
    assert_int_equal(kt_store_delete(s, "w/a", 2, NULL), KT_OK);
    put_str(s, "w/late", "v", 0);
    kt_store_free(s);

    /* history before this open is compacted; after it, it is kept */
    kt_store_changes_result c;
    s = open_ok(url);
    assert_fails_with(kt_store_changes(s, "", 3, 10, &c), KT_ERR_STATE, "compacted");
    assert_int_equal(kt_store_changes(s, "", 5, 10, &c), KT_OK);
    assert_int_equal(c.count, 0);
    kt_store_changes_result_free(&c);
    /* the window is bounded: past KT_STORE_HISTORY changes the oldest leave it */
    for (int i = 0; i < KT_STORE_HISTORY + 1; i++)
        assert_int_equal(kt_store_put(s, "w/n", "v", 1, (uint64_t)i, NULL), KT_OK);
    assert_fails_with(kt_store_changes(s, "", 5, 10, &c), KT_ERR_STATE, "compacted");
    assert_int_equal(kt_store_changes(s, "", 6, 10, &c), KT_OK);
    assert_int_equal(c.count, 10);
    assert_int_equal(c.events[0].revision, 7);
    kt_store_changes_result_free(&c);
    kt_store_free(s);
}

/* ---- etcd: a real etcd, started here on free ports with a data directory of its own ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts etcd (same ports and data directory every time, so a restart finds its data)
 * and waits until a store opens on it. */
static void etcd_start(void)
{
    char client[64], peer[64], cluster[80], data[128], log[128];
    snprintf(client, sizeof client, "http://127.0.0.1:%d", etcd_port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%d", etcd_peer_port);
    snprintf(cluster, sizeof cluster, "kt=%s", peer);
    snprintf(data, sizeof data, "%s/etcd", base);
    snprintf(log, sizeof log, "%s/etcd.log", base);
    fflush(NULL);
    etcd_pid = fork();
    assert_true(etcd_pid >= 0);
    if (etcd_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execlp("etcd", "etcd", "--name", "kt", "--data-dir", data, "--listen-client-urls", client,
               "--advertise-client-urls", client, "--listen-peer-urls", peer,
               "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    char url[256];
    snprintf(url, sizeof url, "etcd://127.0.0.1:%d/probe", etcd_port);
    for (int i = 0; i < 300; i++) {
        kt_store *s = NULL;
        if (kt_store_open(url, &s) == KT_OK) {
            kt_store_free(s);
            return;
        }
        int status;
        if (waitpid(etcd_pid, &status, WNOHANG) == etcd_pid)
            fail_msg("etcd exited (status %d); see %s", status, log);
        usleep(100 * 1000);
    }
    fail_msg("etcd did not come up in 30 s: %s; see %s", kt_last_error(), log);
}

static void etcd_stop(void)
{
    if (etcd_pid <= 0) return;
    kill(etcd_pid, SIGTERM);
    int status;
    waitpid(etcd_pid, &status, 0);
    etcd_pid = 0;
}

static int etcd_setup(void **state)
{
    (void)state;
    etcd_port = free_port();
    etcd_peer_port = free_port();
    while (etcd_peer_port == etcd_port)
        etcd_peer_port = free_port();
    etcd_start();
    B = &etcd_backend;
    return 0;
}

static int etcd_teardown(void **state)
{
    (void)state;
    etcd_stop();
    return 0;
}

static int fs_setup(void **state)
{
    (void)state;
    B = &fs_backend;
    return 0;
}

/* etcdctl, etcd's own client, as a second and independent writer */
static void etcdctl(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:%d %s >/dev/null 2>&1", etcd_port,
             args);
    if (system(cmd) != 0) fail_msg("etcdctl %s failed", args);
}

static void test_etcd_urls(void **state)
{
    (void)state;
    kt_store *s = NULL;
    const struct {
        const char *url, *why;
    } bad[] = {
        {"etcd://", "etcd needs host:port"},
        {"etcd://127.0.0.1", "etcd needs host:port"},
        {"etcd://127.0.0.1:0/ns", "etcd needs host:port"},
        {"etcd://127.0.0.1:65536/ns", "etcd needs host:port"},
        {"etcd://127.0.0.1:02379/ns", "etcd needs host:port"},
        {"etcd://a b:1/ns", "etcd needs host:port"},
        {"etcd:127.0.0.1:2379", "etcd URLs begin etcd://"},
        {"etcd://127.0.0.1:2379/a//b", "namespace: store key: empty segment"},
        {"etcd://127.0.0.1:2379/../x", "namespace"},
        {"etcd://127.0.0.1:2379/a\nb", "namespace"},
        {"etcd://127.0.0.1:2379,/ns", "etcd needs host:port"},
        {"etcd://,127.0.0.1:2379/ns", "etcd needs host:port"},
        {"etcd://127.0.0.1:2379,127.0.0.1:2379/ns", "endpoint 127.0.0.1:2379 is named twice"},
        {"etcd://Localhost:1,localhost:1", "endpoint localhost:1 is named twice"},
        {"etcd://h-.x:1/ns", "etcd needs host:port"},
        {"etcd://[::1:1/ns", "etcd needs host:port"},
        {"etcd://a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1/ns", "more than 8 etcd endpoints"},
        /* plaintext only on loopback */
        {"etcd://10.0.0.1:2379/ns", "endpoint 10.0.0.1:2379 is not on loopback"},
        {"etcd://127.0.0.1:2379,etcd.example:2379/ns", "endpoint etcd.example:2379 is not on loopback"},
        {"etcd://127.0.0.1.example:2379/ns", "is not on loopback"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kt_status st = kt_store_open(bad[i].url, &s);
        if (st != KT_ERR_INVALID_ARGUMENT || !strstr(kt_last_error(), bad[i].why))
            fail_msg("%s: expected '%s', got %s: %s", bad[i].url, bad[i].why, kt_status_name(st),
                     kt_last_error());
        assert_null(s);
    }
    /* the transport's settings: each conflict named */
    const struct {
        const char *url;
        kt_store_options o;
        const char *why;
    } opts[] = {
        {"etcd://127.0.0.1:2379", {.tls_cert = "/c.pem"}, "store_tls_cert and store_tls_key go together"},
        {"etcd://127.0.0.1:2379", {.tls_cert = "/c.pem", .tls_key = "/k.pem"}, "needs store_tls_ca"},
        {"etcd://127.0.0.1:2379", {.server_name = "etcd"}, "needs store_tls_ca"},
        {"etcd://127.0.0.1:2379", {.tls_ca = "/ca.pem", .insecure = true}, "store_insecure asks for plaintext"},
        {"etcd://127.0.0.1:2379", {.tls_ca = "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"},
        {"fs:/tmp/x", {.tls_ca = "/ca.pem"}, "an fs store takes none"},
        {"fs:/tmp/x", {.insecure = true}, "an fs store takes none"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        kt_status st = kt_store_open_with(opts[i].url, &opts[i].o, &s);
        if (!st || !strstr(kt_last_error(), opts[i].why))
            fail_msg("options %zu: expected '%s', got %s: %s", i, opts[i].why, kt_status_name(st), kt_last_error());
        assert_null(s);
    }
    /* nothing listens there: refused at open, naming the store */
    char url[256];
    snprintf(url, sizeof url, "etcd://127.0.0.1:%d/x", free_port());
    assert_fails_with(kt_store_open(url, &s), KT_ERR_UNAVAILABLE, "store etcd://127.0.0.1:");
    assert_null(s);
}

/* Two namespaces on one etcd never see each other's keys; the default one is "kubetee". */
static void test_etcd_namespaces_apart(void **state)
{
    (void)state;
    char a_url[256], b_url[256], d_url[256];
    snprintf(a_url, sizeof a_url, "etcd://127.0.0.1:%d/tenant-a", etcd_port);
    snprintf(b_url, sizeof b_url, "etcd://127.0.0.1:%d/tenant-a0", etcd_port);
    snprintf(d_url, sizeof d_url, "etcd://127.0.0.1:%d", etcd_port);
    kt_store *a = open_ok(a_url), *b = open_ok(b_url), *d = open_ok(d_url);
    put_str(a, "svc/k", "from a", 0);
    put_str(b, "svc/k", "from b", 0);
    put_str(d, "svc/k", "from the default", 0);
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(a, "svc/k", &o), KT_OK);
    assert_int_equal(o.value.len, 6);
    assert_memory_equal(o.value.data, "from a", 6);
    kt_store_list_result l;
    assert_int_equal(kt_store_list(a, "", NULL, 1000, &l), KT_OK);
    assert_int_equal(l.count, 1);
    kt_store_list_result_free(&l);
    assert_int_equal(kt_store_delete(b, "svc/k", 1, NULL), KT_OK);
    assert_int_equal(kt_store_get(a, "svc/k", &o), KT_OK);
    assert_fails_with(kt_store_get(b, "svc/k", &o), KT_ERR_NOT_FOUND, "does not exist");
    /* the default namespace is kubetee/, as etcdctl sees it */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:%d get --print-value-only "
             "kubetee/svc/k",
             etcd_port);
    FILE *p = popen(cmd, "r");
    char line[64] = "";
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    assert_string_equal(line, "from the default\n");
    /* changes in one namespace are not another's: they move neither its revision nor its
     * changes, and wake none of its waits; its watch reads none of their bytes (6 MiB
     * written next door, past the 4 MiB a unary answer may have) */
    uint64_t rev, again;
    assert_int_equal(kt_store_revision(a, &rev), KT_OK);
    put_str(b, "svc/other", "v", 0);
    uint8_t *big = malloc(KT_STORE_VALUE_MAX);
    assert_non_null(big);
    memset(big, 'n', KT_STORE_VALUE_MAX);
    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof key, "big/%d", i);
        assert_int_equal(kt_store_create(b, key, big, KT_STORE_VALUE_MAX, NULL), KT_OK);
    }
    free(big);
    etcdctl("put tenant-a-not-mine/x outside"); /* between the namespaces, written by etcdctl */
    assert_int_equal(kt_store_revision(a, &again), KT_OK);
    assert_int_equal(again, rev);
    kt_store_changes_result c;
    assert_int_equal(kt_store_changes(a, "", rev, 10, &c), KT_OK);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.next, rev);
    kt_store_changes_result_free(&c);
    assert_fails_with(kt_store_wait(a, rev, 300), KT_ERR_TIMEOUT, "no change after revision");
    /* and a's own change wakes it, and is its only event */
    uint64_t mine;
    assert_int_equal(kt_store_create(a, "svc/mine", "m", 1, &mine), KT_OK);
    assert_int_equal(kt_store_wait(a, rev, 300), KT_OK);
    assert_int_equal(kt_store_changes(a, "", rev, 10, &c), KT_OK);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.events[0].key, "svc/mine");
    assert_int_equal(c.events[0].revision, mine);
    assert_int_equal(c.next, mine);
    kt_store_changes_result_free(&c);
    kt_store_object_free(&o);
    kt_store_free(a), kt_store_free(b), kt_store_free(d);
}

/* etcd stops mid-run: calls fail naming the store (UNAVAILABLE), nothing is served stale;
 * it comes back on the same data: the store goes on with every acknowledged write. */
static void test_etcd_restarted(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    put_str(s, "k/a", "one", 0);
    put_str(s, "k/a", "two", 1);
    etcd_stop();
    kt_store_object o = {0};
    kt_status st = kt_store_get(s, "k/a", &o);
    if (st != KT_ERR_UNAVAILABLE && st != KT_ERR_TIMEOUT)
        fail_msg("get with etcd down: %s: %s", kt_status_name(st), kt_last_error());
    assert_non_null(strstr(kt_last_error(), "store etcd://127.0.0.1:"));
    st = kt_store_put(s, "k/a", "three", 5, 2, NULL);
    assert_true(st == KT_ERR_UNAVAILABLE || st == KT_ERR_TIMEOUT);
    etcd_start();
    /* the same kt_store reconnects by itself */
    for (int i = 0; i < 300 && (st = kt_store_get(s, "k/a", &o)) != KT_OK; i++)
        usleep(100 * 1000);
    if (st) fail_msg("after the restart: %s", kt_last_error());
    assert_int_equal(o.version, 2);
    assert_memory_equal(o.value.data, "two", 3);
    assert_int_equal(kt_store_put(s, "k/a", "three", 5, 2, NULL), KT_OK);
    assert_int_equal(kt_store_get(s, "k/a", &o), KT_OK);
    assert_int_equal(o.version, 3);
    kt_store_object_free(&o);
    kt_store_free(s);
}

/* History etcd compacted away is reported as the fs backend does: list again. */
static void test_etcd_compacted(void **state)
{
    (void)state;
    char url[256], args[64];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t b, now;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    for (int i = 0; i < 4; i++)
        put_str(s, "c/k", "v", (uint64_t)i);
    assert_int_equal(kt_store_revision(s, &now), KT_OK);
    assert_int_equal(now, b + 4);
    snprintf(args, sizeof args, "compact %llu", (unsigned long long)now);
    etcdctl(args);
    kt_store_changes_result c;
    char why[160];
    snprintf(why, sizeof why,
             "changes after revision %llu are compacted (etcd keeps those after %llu)",
             (unsigned long long)b, (unsigned long long)now - 1);
    assert_fails_with(kt_store_changes(s, "c/", b, 10, &c), KT_ERR_STATE, why);
    assert_int_equal(c.count, 0);
    assert_int_equal(kt_store_changes(s, "c/", now, 10, &c), KT_OK);
    assert_int_equal(c.count, 0);
    kt_store_changes_result_free(&c);
    /* the data itself survives the compaction, and watching goes on after it */
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "c/k", &o), KT_OK);
    assert_int_equal(o.version, 4);
    kt_store_object_free(&o);
    put_str(s, "c/k", "w", 4);
    assert_int_equal(kt_store_changes(s, "c/", now, 10, &c), KT_OK);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.events[0].version, 5);
    kt_store_changes_result_free(&c);
    assert_int_equal(kt_store_wait(s, now, 1000), KT_OK);
    kt_store_free(s);
}

/* A key in the namespace that kt_store would never write (another client's) is refused
 * by name in a list and in changes; it is never passed on as a store key. */
static void test_etcd_foreign_key(void **state)
{
    (void)state;
    char url[256], args[160];
    snprintf(url, sizeof url, "etcd://127.0.0.1:%d/foreign", etcd_port);
    kt_store *s = open_ok(url);
    put_str(s, "svc/ok", "v", 0);
    uint64_t b;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    etcdctl("put 'foreign/svc/bad key' x");
    /* the head deleted by another client: lists still answer, a write puts it back */
    etcdctl("del foreign/");
    kt_store_list_result hl;
    assert_int_equal(kt_store_list(s, "none/", NULL, 10, &hl), KT_OK); /* svc/ holds the bad key */
    kt_store_list_result_free(&hl);
    /* a foreign write moves no head: changes reach it once kt_store writes again */
    put_str(s, "other/x", "v", 0);
    kt_store_list_result l;
    assert_fails_with(kt_store_list(s, "svc/", NULL, 10, &l), KT_ERR_MALFORMED,
                      "etcd holds key 'foreign/svc/bad key' in the namespace, which kt_store "
                      "never writes");
    kt_store_changes_result c;
    assert_fails_with(kt_store_changes(s, "", b, 10, &c), KT_ERR_MALFORMED,
                      "'foreign/svc/bad key'");
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(s, "svc/ok", &o), KT_OK); /* exact keys still read */
    kt_store_object_free(&o);
    snprintf(args, sizeof args, "del 'foreign/svc/bad key'");
    etcdctl(args);
    assert_int_equal(kt_store_list(s, "svc/", NULL, 10, &l), KT_OK);
    assert_int_equal(l.count, 1);
    kt_store_list_result_free(&l);
    kt_store_free(s);
}

/* Values of 1 MiB: a page of them is more than one answer may carry (4 MiB), so the list
 * comes in smaller pages, and paging still returns every key once, in order; their
 * changes come through too. */
static void test_etcd_large_values_list(void **state)
{
    (void)state;
    char url[256];
    B->fresh(url);
    kt_store *s = open_ok(url);
    uint64_t b;
    assert_int_equal(kt_store_revision(s, &b), KT_OK);
    uint8_t *big = malloc(KT_STORE_VALUE_MAX);
    assert_non_null(big);
    memset(big, 'v', KT_STORE_VALUE_MAX);
    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof key, "big/%d", i);
        assert_int_equal(kt_store_create(s, key, big, KT_STORE_VALUE_MAX, NULL), KT_OK);
    }
    free(big);
    kt_store_list_result l;
    char after[KT_STORE_KEY_MAX + 1] = "";
    int seen = 0, pages = 0;
    do {
        if (kt_store_list(s, "big/", after, 1000, &l)) fail_msg("%s", kt_last_error());
        pages++;
        for (size_t i = 0; i < l.count; i++) {
            char want[16];
            snprintf(want, sizeof want, "big/%d", seen++);
            assert_string_equal(l.entries[i].key, want);
            assert_int_equal(l.entries[i].value_len, KT_STORE_VALUE_MAX);
        }
        if (l.more) strcpy(after, l.next);
        bool more = l.more;
        kt_store_list_result_free(&l);
        if (!more) break;
    } while (pages < 10);
    assert_int_equal(seen, 6);
    assert_true(pages >= 2);
    /* their changes too: etcd sends them in fragments, each under the client's limit */
    kt_store_changes_result c;
    if (kt_store_changes(s, "big/", b, 100, &c)) fail_msg("%s", kt_last_error());
    assert_int_equal(c.count, 6);
    assert_int_equal(c.events[5].revision, b + 6);
    assert_int_equal(c.next, b + 6);
    kt_store_changes_result_free(&c);
    kt_store_free(s);
}

#include "store_lock.inc"
#include "store_batch.inc"

/* Nested namespaces would overlap (the outer's "b/k" is the inner "b"'s "k", and the inner's
 * head breaks the outer's lists): opening one inside another kt_store namespace, or one
 * around it, is refused naming both, in either order, and the refused open writes nothing;
 * look-alike names and siblings open, as does a namespace another client left headless. */
static void test_etcd_nested_namespaces(void **state)
{
    (void)state;
    char url[256];
    kt_store *s = NULL;
#define NS_URL(ns) (snprintf(url, sizeof url, "etcd://127.0.0.1:%d/%s", etcd_port, ns), url)
    kt_store *outer = open_ok(NS_URL("nest"));
    put_str(outer, "b/k", "the outer's", 0);
    /* inside: the enclosing head found, at any depth */
    assert_fails_with(
        kt_store_open(NS_URL("nest/b"), &s), KT_ERR_EXISTS,
        "the namespace 'nest/b' lies inside the kt_store namespace 'nest' (its head, the etcd "
        "key 'nest/', exists)");
    assert_fails_with(kt_store_open(NS_URL("nest/x/y"), &s), KT_ERR_EXISTS,
                      "'nest/x/y' lies inside the kt_store namespace 'nest'");
    /* nothing written: the outer still lists its one key (an inner head would break it) */
    kt_store_list_result l;
    assert_int_equal(kt_store_list(outer, "", NULL, 100, &l), KT_OK);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.entries[0].key, "b/k");
    kt_store_list_result_free(&l);
    /* around: the inner opened first, one around it after, at any depth */
    kt_store *inner = open_ok(NS_URL("ring/a/b"));
    put_str(inner, "k", "the inner's", 0);
    assert_fails_with(
        kt_store_open(NS_URL("ring/a"), &s), KT_ERR_EXISTS,
        "the namespace 'ring/a' holds the kt_store namespace 'ring/a/b' (its head, the etcd key "
        "'ring/a/b/', exists)");
    assert_fails_with(kt_store_open(NS_URL("ring"), &s), KT_ERR_EXISTS,
                      "'ring' holds the kt_store namespace 'ring/a/b'");
    kt_store_object o = {0};
    assert_int_equal(kt_store_get(inner, "k", &o), KT_OK); /* the inner goes on */
    kt_store_object_free(&o);
    /* look-alikes and siblings are apart: they open, and reopening is no conflict */
    const char *apart[] = {"nest0", "nes", "nest-b", "ring/a0", "ring/b", "ring/a/c", "nest"};
    for (size_t i = 0; i < sizeof apart / sizeof *apart; i++)
        kt_store_free(open_ok(NS_URL(apart[i])));
    /* a namespace another client left without its head still opens, and gets it back */
    etcdctl("del nest/");
    kt_store *again = open_ok(NS_URL("nest"));
    assert_fails_with(kt_store_open(NS_URL("nest/b"), &s), KT_ERR_EXISTS,
                      "inside the kt_store namespace 'nest'");
    kt_store_free(again);
#undef NS_URL
    kt_store_free(inner);
    kt_store_free(outer);
}

int main(void)
{
    /* the same cases on each backend */
    const struct CMUnitTest conformance[] = {
        cmocka_unit_test(test_operations),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_similar_keys_stay_apart),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_cas_race),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_put_batch),
    };
    const struct CMUnitTest fs_only[] = {
        cmocka_unit_test(test_urls),       cmocka_unit_test(test_name_mapping),
        cmocka_unit_test(test_lock),       cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_fs_history), cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_fs_lock_holder), cmocka_unit_test(test_fs_batch_write_failure),
    };
    const struct CMUnitTest etcd_only[] = {
        cmocka_unit_test(test_etcd_urls),
        cmocka_unit_test(test_etcd_namespaces_apart),
        cmocka_unit_test(test_etcd_compacted),
        cmocka_unit_test(test_etcd_foreign_key),
        cmocka_unit_test(test_etcd_large_values_list),
        cmocka_unit_test(test_etcd_lock),
        cmocka_unit_test(test_etcd_restarted),
        cmocka_unit_test(test_etcd_nested_namespaces),
    };
    if (setup(NULL)) return 1;
    int failed = _cmocka_run_group_tests("fs", conformance,
                                         sizeof conformance / sizeof *conformance, fs_setup, NULL);
    failed += cmocka_run_group_tests_name("fs_only", fs_only, fs_setup, NULL);
    failed += _cmocka_run_group_tests("etcd", conformance, sizeof conformance / sizeof *conformance,
                                      etcd_setup, NULL);
    failed += cmocka_run_group_tests_name("etcd_only", etcd_only, NULL, etcd_teardown);
    teardown(NULL);
    return failed;
}
