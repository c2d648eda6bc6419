/* tlog: entries chain, the head is signed, and every way of changing a log after the
 * fact (an entry changed, removed, moved, the end cut off, the head re-signed with
 * another key) is found; the writer refuses to continue a log that does not verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/tlog.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[64] = "/tmp/kt-tlog-XXXXXX";
static char log_path[128], head_path[128];
static kt_key *key, *pub, *other;

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(log_path, sizeof log_path, "%s/log", dir);
    snprintf(head_path, sizeof head_path, "%s/head", dir);
    uint8_t raw[64];
    size_t n;
    return kt_key_generate(KT_KEY_P256, &key) || kt_key_generate(KT_KEY_P256, &other) ||
           kt_key_public_raw(key, raw, sizeof raw, &n) ||
           kt_key_from_public_raw(KT_KEY_P256, raw, n, &pub);
}

static int teardown(void **state)
{
    (void)state;
    kt_key_free(key), kt_key_free(pub), kt_key_free(other);
    return rm_tree(dir);
}

static kt_tlog_entry entry(uint16_t svn, const char *client)
{
    kt_tlog_entry e = {.time = 1700000000 + svn, .prodid = 1, .svn = svn};
    memset(e.mrenclave, svn, 32);
    memset(e.mrsigner, 0x5a, 32);
    strcpy(e.key, "release");
    strcpy(e.client, client);
    return e;
}

static kt_status verify_files(kt_tlog_head *h)
{
    kt_buf l = {0}, hd = {0};
    assert_int_equal(kt_file_read(log_path, 1 << 20, &l), KT_OK);
    assert_int_equal(kt_file_read(head_path, 4096, &hd), KT_OK);
    kt_status st = kt_tlog_verify(l.data, l.len, hd.data, hd.len, pub, NULL, NULL, h);
    kt_buf_free(&l), kt_buf_free(&hd);
    return st;
}

static void write_text(const char *p, const char *t, size_t n)
{
    assert_int_equal(kt_file_write_atomic(p, t, n, 0644), KT_OK);
}

static void test_append_chain_reopen(void **state)
{
    (void)state;
    kt_tlog *t;
    assert_int_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    kt_tlog_head h;
    assert_int_equal(verify_files(&h), KT_OK); /* an empty log has a signed head too */
    assert_int_equal(h.entries, 0);
    for (uint16_t i = 1; i <= 3; i++) {
        kt_tlog_entry e = entry(i, "ci");
        assert_int_equal(kt_tlog_append(t, &e), KT_OK);
        assert_int_equal(e.seq, i);
    }
    kt_tlog_free(t);
    assert_int_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    assert_int_equal(kt_tlog_entries(t), 3);
    kt_tlog_entry e = entry(4, "officer");
    assert_int_equal(kt_tlog_append(t, &e), KT_OK);
    kt_tlog_free(t);
    assert_int_equal(verify_files(&h), KT_OK);
    assert_int_equal(h.entries, 4);
    assert_memory_equal(h.hash, e.hash, 32);
    /* the writer will not continue a log under another key */
    assert_fails_with(kt_tlog_open(log_path, head_path, other, &t), KT_ERR_VERIFY,
                      "does not verify with the log key");
}

static void test_tampering_found(void **state)
{
    (void)state;
    kt_buf l = {0}, hd = {0};
    assert_int_equal(kt_file_read(log_path, 1 << 20, &l), KT_OK);
    assert_int_equal(kt_file_read(head_path, 4096, &hd), KT_OK);
    char *text = calloc(1, l.len + 1);
    memcpy(text, l.data, l.len);
    char *l2 = strchr(text, '\n') + 1, *l3 = strchr(l2, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
    kt_buf bad = {0};
    /* changed: entry 2's svn */
    char *copy = strdup(text);
    char *svn = strstr(copy + (l2 - text), " 1 2 0 ");
    assert_non_null(svn);
    svn[3] = '9';
    assert_fails_with(kt_tlog_verify((uint8_t *)copy, l.len, hd.data, hd.len, pub, NULL, NULL, NULL),
                      KT_ERR_VERIFY, "entry 2 does not hash");
    /* removed: entry 2 */
    assert_int_equal(kt_buf_append(&bad, text, (size_t)(l2 - text)), KT_OK);
    assert_int_equal(kt_buf_append(&bad, l3, l.len - (size_t)(l3 - text)), KT_OK);
    assert_fails_with(kt_tlog_verify(bad.data, bad.len, hd.data, hd.len, pub, NULL, NULL, NULL),
                      KT_ERR_VERIFY, "holds entry 3");
    /* cut off: the last entry */
    assert_fails_with(kt_tlog_verify(l.data, (size_t)(l4 - text), hd.data, hd.len, pub, NULL,
                                     NULL, NULL),
                      KT_ERR_VERIFY, "covers 4 entries, the log holds 3");
    /* cut inside a line */
    assert_fails_with(kt_tlog_verify(l.data, l.len - 1, hd.data, hd.len, pub, NULL, NULL, NULL),
                      KT_ERR_MALFORMED, "no newline");
    /* uppercase hex is not how kubetee writes an entry */
    char *up = strdup(text);
    for (char *p = up; p < up + (l2 - text); p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_fails_with(kt_tlog_verify((uint8_t *)up, l.len, hd.data, hd.len, pub, NULL, NULL, NULL),
                      KT_ERR_MALFORMED, "tlog line 1");
    /* a head re-signed by another key */
    kt_tlog_head h = {4, 1, {0}};
    kt_buf forged = {0};
    assert_int_equal(kt_tlog_head_format(&h, other, &forged), KT_OK);
    assert_fails_with(kt_tlog_verify(l.data, l.len, forged.data, forged.len, pub, NULL, NULL, NULL),
                      KT_ERR_VERIFY, "does not verify with the log key");
    /* the writer refuses a changed log */
    write_text(log_path, copy, l.len);
    kt_tlog *t = NULL;
    assert_fails_with(kt_tlog_open(log_path, head_path, key, &t), KT_ERR_VERIFY, "does not hash");
    assert_null(t);
    /* a head one entry behind (a crash between the two writes) is signed anew */
    write_text(log_path, text, l.len);
    kt_buf h3 = {0};
    kt_tlog_head behind = {3, 1, {0}};
    kt_tlog_entry e3;
    assert_int_equal(kt_tlog_entry_parse(l3, (size_t)(l4 - l3) - 1, &e3), KT_OK);
    memcpy(behind.hash, e3.hash, 32);
    assert_int_equal(kt_tlog_head_format(&behind, key, &h3), KT_OK);
    write_text(head_path, (char *)h3.data, h3.len);
    assert_int_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    assert_int_equal(kt_tlog_entries(t), 4);
    kt_tlog_free(t);
    assert_int_equal(verify_files(NULL), KT_OK);
    free(text), free(copy), free(up);
    kt_buf_free(&l), kt_buf_free(&hd), kt_buf_free(&bad), kt_buf_free(&forged), kt_buf_free(&h3);
}

static void test_names_and_fields(void **state)
{
    (void)state;
    kt_tlog_entry e = entry(1, "ci two");
    kt_buf line = {0};
    assert_fails_with(kt_tlog_entry_format(&e, &line), KT_ERR_INVALID_ARGUMENT, "[A-Za-z0-9._-]");
    e = entry(1, "ci");
    e.seq = 1;
    assert_int_equal(kt_tlog_entry_format(&e, &line), KT_OK);
    kt_tlog_entry back;
    assert_int_equal(kt_tlog_entry_parse((char *)line.data, line.len - 1, &back), KT_OK);
    assert_int_equal(back.svn, 1);
    assert_string_equal(back.client, "ci");
    /* two spaces, a leading zero, a trailing space */
    char t[1100];
    memcpy(t, line.data, line.len - 1);
    t[line.len - 1] = ' ';
    assert_fails_with(kt_tlog_entry_parse(t, line.len, &back), KT_ERR_MALFORMED, "13 fields");
    assert_fails_with(kt_tlog_entry_parse("v1 01 2", 7, &back), KT_ERR_MALFORMED, "13 fields");
    assert_fails_with(kt_tlog_entry_parse("", 0, &back), KT_ERR_MALFORMED, "13 fields");
    /* approvers: names joined by ',' */
    kt_buf_free(&line);
    strcpy(e.approvers, "officer,officer2");
    assert_int_equal(kt_tlog_entry_format(&e, &line), KT_OK);
    assert_non_null(strstr((char *)line.data, " ci officer,officer2 "));
    assert_int_equal(kt_tlog_entry_parse((char *)line.data, line.len - 1, &back), KT_OK);
    assert_string_equal(back.approvers, "officer,officer2");
    kt_buf_free(&line);
    const char *bad[] = {"officer,officer", ",officer", "officer,", "a,,b", "o fficer"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(e.approvers, bad[i]);
        assert_fails_with(kt_tlog_entry_format(&e, &line), KT_ERR_INVALID_ARGUMENT, "approver");
    }
    kt_buf_free(&line);
}

static void *append_many(void *arg)
{
    kt_tlog *t = arg;
    for (uint16_t i = 0; i < 25; i++) {
        kt_tlog_entry e = entry(i, "ci");
        if (kt_tlog_append(t, &e)) return (void *)1;
    }
    return NULL;
}

/* Appends from several threads share fsyncs and heads; the chain and head still hold,
 * and a head two entries behind (a crash inside a shared sync) is taken at open. */
static void test_concurrent_appends_group_commit(void **state)
{
    (void)state;
    snprintf(log_path, sizeof log_path, "%s/log2", dir);
    snprintf(head_path, sizeof head_path, "%s/head2", dir);
    kt_tlog *t;
    assert_int_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, append_many, t), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    assert_int_equal(kt_tlog_entries(t), 100);
    kt_tlog_free(t);
    kt_tlog_head h;
    assert_int_equal(verify_files(&h), KT_OK);
    assert_int_equal(h.entries, 100);
    /* a head at entry 98 */
    kt_buf l = {0};
    assert_int_equal(kt_file_read(log_path, 1 << 20, &l), KT_OK);
    const char *p = (const char *)l.data;
    for (int i = 0; i < 97; i++)
        p = strchr(p, '\n') + 1;
    kt_tlog_entry e98;
    assert_int_equal(kt_tlog_entry_parse(p, (size_t)(strchr(p, '\n') - p), &e98), KT_OK);
    assert_int_equal(e98.seq, 98);
    kt_tlog_head behind = {98, 1, {0}};
    memcpy(behind.hash, e98.hash, 32);
    kt_buf hb = {0};
    assert_int_equal(kt_tlog_head_format(&behind, key, &hb), KT_OK);
    write_text(head_path, (char *)hb.data, hb.len);
    assert_int_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    assert_int_equal(kt_tlog_entries(t), 100);
    kt_tlog_free(t);
    /* a head whose hash is not the log's at its count is refused */
    behind.hash[0] ^= 1;
    kt_buf_free(&hb);
    assert_int_equal(kt_tlog_head_format(&behind, key, &hb), KT_OK);
    write_text(head_path, (char *)hb.data, hb.len);
    t = NULL;
    assert_int_not_equal(kt_tlog_open(log_path, head_path, key, &t), KT_OK);
    assert_null(t);
    kt_buf_free(&l), kt_buf_free(&hb);
}

/* Where each line of the file text starts (starts[i] for line i, 1-based; starts[n + 1]
 * is the end). */
static void line_starts(const kt_buf *l, size_t *starts, uint64_t n)
{
    size_t p = 0;
    for (uint64_t k = 1; k <= n; k++) {
        starts[k] = p;
        const uint8_t *nl = memchr(l->data + p, '\n', l->len - p);
        assert_non_null(nl);
        p = (size_t)(nl - l->data) + 1;
    }
    starts[n + 1] = p;
}

/* A page is read from where the writer remembers its entry, not from the whole file:
 * every (from, upto, cap) gives exactly the lines a reading of the whole file gives,
 * before and after a reopen (which finds the marks again). */
static void check_pages(kt_tlog *t, const kt_buf *file, uint64_t n)
{
    size_t at[602];
    assert_true(n + 2 <= sizeof at / sizeof *at);
    line_starts(file, at, n);
    static const uint64_t froms[] = {1, 2, 255, 256, 257, 258, 512, 513, 514, 599, 600};
    static const size_t caps[] = {1, 700, 5000, 1 << 20};
    for (size_t i = 0; i < sizeof froms / sizeof *froms; i++)
        for (size_t j = 0; j < sizeof caps / sizeof *caps; j++)
            for (uint64_t upto = froms[i]; upto <= n; upto += n / 3 + 1) {
                kt_buf got = {0};
                assert_int_equal(kt_tlog_read(t, froms[i], upto, caps[j], &got), KT_OK);
                uint64_t k = froms[i] + 1; /* the first line always, then whole lines in cap */
                while (k <= upto && at[k + 1] - at[froms[i]] <= caps[j])
                    k++;
                size_t total = at[k] - at[froms[i]];
                assert_int_equal(got.len, total);
                assert_memory_equal(got.data, file->data + at[froms[i]], total);
                kt_buf_free(&got);
            }
    kt_buf none = {0};
    assert_int_equal(kt_tlog_read(t, n + 1, n + 5, 1 << 20, &none), KT_OK);
    assert_int_equal(none.len, 0);
    assert_int_equal(kt_tlog_read(t, 5, 4, 1 << 20, &none), KT_OK); /* past the head */
    assert_int_equal(none.len, 0);
    assert_fails_with(kt_tlog_read(t, 0, 5, 1 << 20, &none), KT_ERR_INVALID_ARGUMENT, "count from 1");
}

static void test_pages_read_from_marks(void **state)
{
    (void)state;
    char lp[160], hp[160];
    snprintf(lp, sizeof lp, "%s/paged", dir);
    snprintf(hp, sizeof hp, "%s/paged.head", dir);
    kt_tlog *t;
    assert_int_equal(kt_tlog_open(lp, hp, key, &t), KT_OK);
    const uint64_t n = 600;
    for (uint64_t i = 1; i <= n; i++) {
        kt_tlog_entry e = entry((uint16_t)i, i % 2 ? "ci" : "a-much-longer-client-name");
        assert_int_equal(kt_tlog_append(t, &e), KT_OK);
    }
    kt_buf file = {0};
    assert_int_equal(kt_file_read(lp, 1 << 20, &file), KT_OK);
    check_pages(t, &file, n);
    kt_tlog_free(t);
    assert_int_equal(kt_tlog_open(lp, hp, key, &t), KT_OK);
    check_pages(t, &file, n);
    kt_tlog_free(t);
    kt_buf_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_chain_reopen),
        cmocka_unit_test(test_tampering_found),
        cmocka_unit_test(test_names_and_fields),
        cmocka_unit_test(test_concurrent_appends_group_commit),
        cmocka_unit_test(test_pages_read_from_marks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
