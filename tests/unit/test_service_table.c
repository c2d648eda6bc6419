/* The enclave service's session table: each limit refused and counted by reason, calls
 * of a session in arrival order, idle and handshake expiry, the metrics text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/service.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const kt_service_limits limits = {
    .max_message = 1000, .max_sessions = 4, .max_per_peer = 2, .handshake_ms = 100, .idle_ms = 1000};

static kt_service_table *table(void)
{
    kt_service_table *t = NULL;
    assert_int_equal(kt_service_table_new(&limits, &t), KT_OK);
    return t;
}

static void id_of(uint8_t id[KT_SERVICE_ID_LEN], int n)
{
    memset(id, 0, KT_SERVICE_ID_LEN);
    id[0] = (uint8_t)n;
    id[15] = 0xa5;
}

static void peer_of(uint8_t p[KT_SERVICE_PEER_ID_LEN], int n)
{
    memset(p, n, KT_SERVICE_PEER_ID_LEN);
}

/* Opens, binds and (peer >= 0) establishes session n. */
static void session(kt_service_table *t, int n, int peer, uint64_t now)
{
    size_t slot;
    uint8_t id[KT_SERVICE_ID_LEN], p[KT_SERVICE_PEER_ID_LEN];
    id_of(id, n);
    assert_int_equal(kt_service_open(t, now, &slot), KT_OK);
    assert_int_equal(kt_service_bind(t, slot, id), KT_OK);
    if (peer >= 0) {
        peer_of(p, peer);
        assert_int_equal(kt_service_establish(t, id, p, now), KT_OK);
    }
}

/* The refusal counter of a reason as /metrics shows it. */
static double count_of(kt_service_table *t, const char *reason)
{
    kt_buf m = {0};
    kt_service_metrics(t, &m);
    assert_int_equal(kt_buf_append(&m, "", 1), KT_OK);
    char key[96];
    snprintf(key, sizeof key, "kubetee_enclave_refusals_total{reason=\"%s\"} ", reason);
    const char *at = strstr((const char *)m.data, key);
    if (!at) fail_msg("no %s in:\n%s", key, (const char *)m.data);
    double v = strtod(at + strlen(key), NULL);
    kt_buf_free(&m);
    return v;
}

static void test_limits_must_all_be_set(void **state)
{
    (void)state;
    kt_service_table *t = NULL;
    kt_service_limits l = limits;
    l.idle_ms = 0;
    assert_fails_with(kt_service_table_new(&l, &t), KT_ERR_INVALID_ARGUMENT, "every limit must be set");
    l = limits;
    l.max_sessions = (1u << 20) + 1;
    assert_fails_with(kt_service_table_new(&l, &t), KT_ERR_INVALID_ARGUMENT, "is over");
    assert_null(t);
}

static void test_message_size_and_open_sessions(void **state)
{
    (void)state;
    kt_service_table *t = table();
    assert_int_equal(kt_service_check_size(t, 1000), KT_OK);
    assert_fails_with(kt_service_check_size(t, 1001), KT_ERR_TOO_LARGE, "1001 bytes is over the limit of 1000");
    assert_true(count_of(t, "too_large") == 1);
    for (int i = 0; i < 4; i++) session(t, i, i, 0);
    size_t slot;
    assert_fails_with(kt_service_open(t, 0, &slot), KT_ERR_TOO_LARGE, "(sessions)");
    assert_true(count_of(t, "sessions") == 1);
    uint8_t id[KT_SERVICE_ID_LEN];
    id_of(id, 2);
    assert_int_equal(kt_service_remove(t, id), KT_OK);
    assert_fails_with(kt_service_remove(t, id), KT_ERR_NOT_FOUND, "no open session");
    assert_int_equal(kt_service_open(t, 0, &slot), KT_OK);
    /* an id already open is not bound twice */
    id_of(id, 1);
    assert_fails_with(kt_service_bind(t, slot, id), KT_ERR_EXISTS, "already open");
    kt_service_release(t, slot);
    assert_int_equal(kt_service_open_count(t), 3);
    kt_service_table_free(t);
}

static void test_sessions_per_peer(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, 7, 0);
    session(t, 2, 7, 0);
    session(t, 3, -1, 0);
    uint8_t id[KT_SERVICE_ID_LEN], p[KT_SERVICE_PEER_ID_LEN];
    id_of(id, 3);
    peer_of(p, 7);
    assert_fails_with(kt_service_establish(t, id, p, 0), KT_ERR_TOO_LARGE, "(peer_sessions)");
    assert_true(count_of(t, "peer_sessions") == 1);
    /* another peer is not held back by the first one's sessions */
    peer_of(p, 8);
    assert_int_equal(kt_service_establish(t, id, p, 0), KT_OK);
    assert_fails_with(kt_service_establish(t, id, p, 0), KT_ERR_STATE, "already established");
    /* when one of peer 7's sessions ends, it may open another */
    id_of(id, 1);
    assert_int_equal(kt_service_remove(t, id), KT_OK);
    session(t, 4, 7, 0);
    kt_service_table_free(t);
}

static void test_calls_need_an_established_session(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, -1, 0);
    uint8_t id[KT_SERVICE_ID_LEN];
    size_t call;
    id_of(id, 1);
    assert_fails_with(kt_service_call_begin(t, id, 0, &call), KT_ERR_STATE, "(not_established)");
    id_of(id, 9);
    assert_fails_with(kt_service_call_begin(t, id, 0, &call), KT_ERR_NOT_FOUND, "(unknown_session)");
    uint8_t p[KT_SERVICE_PEER_ID_LEN];
    peer_of(p, 1);
    assert_fails_with(kt_service_establish(t, id, p, 0), KT_ERR_NOT_FOUND, "(unknown_session)");
    assert_true(count_of(t, "unknown_session") == 2);
    assert_true(count_of(t, "not_established") == 1);
    kt_service_table_free(t);
}

typedef struct {
    kt_service_table *t;
    int index;
    int *order, *next;
    pthread_mutex_t *lock;
    kt_status st;
} caller;

static void *call_thread(void *arg)
{
    caller *c = arg;
    uint8_t id[KT_SERVICE_ID_LEN];
    size_t call;
    id_of(id, 1);
    c->st = kt_service_call_begin(c->t, id, 0, &call);
    if (c->st) return NULL;
    pthread_mutex_lock(c->lock);
    c->order[(*c->next)++] = c->index;
    pthread_mutex_unlock(c->lock);
    kt_service_call_end(c->t, call, 0);
    return NULL;
}

static void wait_for_waiters(kt_service_table *t, const uint8_t *id, size_t n)
{
    for (int i = 0; i < 5000 && kt_service_waiting(t, id) != n; i++) usleep(1000);
    assert_int_equal(kt_service_waiting(t, id), n);
}

static void test_calls_of_a_session_run_in_arrival_order(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, 1, 0);
    uint8_t id[KT_SERVICE_ID_LEN];
    size_t first;
    id_of(id, 1);
    assert_int_equal(kt_service_call_begin(t, id, 0, &first), KT_OK);
    enum { N = 6 };
    pthread_t th[N];
    caller c[N];
    int order[N], next = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < N; i++) {
        c[i] = (caller){t, i, order, &next, &lock, -1};
        assert_int_equal(pthread_create(&th[i], NULL, call_thread, &c[i]), 0);
        wait_for_waiters(t, id, (size_t)i + 1); /* thread i queued before thread i+1 starts */
    }
    kt_service_call_end(t, first, 0);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(c[i].st, KT_OK);
        assert_int_equal(order[i], i);
    }
    kt_service_table_free(t);
}

static void test_a_session_removed_while_calls_wait(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, 1, 0);
    uint8_t id[KT_SERVICE_ID_LEN];
    size_t first;
    id_of(id, 1);
    assert_int_equal(kt_service_call_begin(t, id, 0, &first), KT_OK);
    pthread_t th[2];
    caller c[2];
    int order[2], next = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < 2; i++) {
        c[i] = (caller){t, i, order, &next, &lock, -1};
        assert_int_equal(pthread_create(&th[i], NULL, call_thread, &c[i]), 0);
        wait_for_waiters(t, id, (size_t)i + 1);
    }
    assert_int_equal(kt_service_remove(t, id), KT_OK);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) assert_int_equal(c[i].st, KT_ERR_NOT_FOUND);
    assert_int_equal(next, 0);
    /* the running call still holds the place until it ends */
    assert_int_equal(kt_service_open_count(t), 1);
    kt_service_call_end(t, first, 0);
    assert_int_equal(kt_service_open_count(t), 0);
    kt_service_table_free(t);
}

static int ended_ids[8], n_ended;
static void on_ended(void *ctx, const uint8_t id[KT_SERVICE_ID_LEN])
{
    (void)ctx;
    ended_ids[n_ended++] = id[0];
}

static void test_idle_and_handshake_expiry(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, -1, 0);  /* handshake unfinished since 0 */
    session(t, 2, 1, 0);   /* established at 0, no call since */
    session(t, 3, 2, 0);   /* established, in a call */
    size_t unbound, call;
    assert_int_equal(kt_service_open(t, 0, &unbound), KT_OK); /* a Hello still in the enclave */
    uint8_t id[KT_SERVICE_ID_LEN];
    id_of(id, 3);
    assert_int_equal(kt_service_call_begin(t, id, 0, &call), KT_OK);
    n_ended = 0;
    assert_int_equal(kt_service_expire(t, 99, on_ended, NULL), 0);
    assert_int_equal(kt_service_expire(t, 100, on_ended, NULL), 1);
    assert_int_equal(ended_ids[0], 1);
    assert_true(count_of(t, "handshake_timeout") == 1);
    /* a call at 500 keeps session 2 alive past 1000 */
    id_of(id, 2);
    size_t c2;
    assert_int_equal(kt_service_call_begin(t, id, 500, &c2), KT_OK);
    kt_service_call_end(t, c2, 500);
    assert_int_equal(kt_service_expire(t, 1200, on_ended, NULL), 0);
    assert_int_equal(kt_service_expire(t, 1500, on_ended, NULL), 1);
    assert_int_equal(ended_ids[1], 2);
    assert_true(count_of(t, "idle") == 1);
    /* the session in a call and the unbound place are never expired */
    assert_int_equal(kt_service_expire(t, 100000, on_ended, NULL), 0);
    kt_service_call_end(t, call, 100000);
    assert_int_equal(kt_service_expire(t, 200000, on_ended, NULL), 1);
    assert_int_equal(kt_service_open_count(t), 1);
    kt_service_release(t, unbound);
    assert_int_equal(kt_service_open_count(t), 0);
    kt_service_table_free(t);
}

static void test_metrics_families_are_grouped(void **state)
{
    (void)state;
    kt_service_table *t = table();
    session(t, 1, -1, 0);
    session(t, 2, 1, 0);
    kt_buf m = {0};
    kt_service_metrics(t, &m);
    assert_int_equal(kt_buf_append(&m, "", 1), KT_OK);
    const char *s = (const char *)m.data;
    assert_non_null(strstr(s, "# HELP kubetee_enclave_sessions Sessions open, by state\n"
                              "# TYPE kubetee_enclave_sessions gauge\n"
                              "kubetee_enclave_sessions{state=\"handshaking\"} 1\n"
                              "kubetee_enclave_sessions{state=\"established\"} 1\n"
                              "# HELP kubetee_enclave_refusals_total"));
    for (int r = 0; r < KT_SERVICE_REASON_COUNT; r++) {
        char key[96];
        snprintf(key, sizeof key, "kubetee_enclave_refusals_total{reason=\"%s\"} 0\n", kt_service_reason_name(r));
        assert_non_null(strstr(s, key));
    }
    /* one HELP and one TYPE per family */
    int helps = 0;
    for (const char *p = s; (p = strstr(p, "# HELP")); p++) helps++;
    assert_int_equal(helps, 2);
    kt_buf_free(&m);
    kt_service_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_must_all_be_set),
        cmocka_unit_test(test_message_size_and_open_sessions),
        cmocka_unit_test(test_sessions_per_peer),
        cmocka_unit_test(test_calls_need_an_established_session),
        cmocka_unit_test(test_calls_of_a_session_run_in_arrival_order),
        cmocka_unit_test(test_a_session_removed_while_calls_wait),
        cmocka_unit_test(test_idle_and_handshake_expiry),
        cmocka_unit_test(test_metrics_families_are_grouped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
