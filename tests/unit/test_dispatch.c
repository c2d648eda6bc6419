/* The call machinery both sides share: function tables and dispatch on packed bytes.
 * This is the code that parses what crosses the boundary, so it is where malformed
 * messages are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "../../src/tff/common/runtime.h"
#include "tfftest.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_status echo(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Tfftest__Text *req = (const Tfftest__Text *)rq;
    Tfftest__Text *res = (Tfftest__Text *)rs;
    res->text = kt_call_strdup(req->text);
    return res->text ? KT_OK : KT_ERR_NO_MEMORY;
}

static const kt_function echo_fn = {"Echo", &tfftest__text__descriptor, &tfftest__text__descriptor,
                                    echo,   sizeof(Tfftest__Text),      sizeof(Tfftest__Text)};

static kt_status run(kt_fntab *t, const uint8_t *req, size_t len, size_t max, uint8_t **res,
                     size_t *res_len, char *detail)
{
    kt_dispatch_args a = {.name = "Echo",
                          .req_type = "tfftest.Text",
                          .res_type = "tfftest.Text",
                          .req = req,
                          .req_len = len,
                          .max_message = max,
                          .copy_in = true,
                          .alloc = malloc,
                          .res = res,
                          .res_len = res_len,
                          .detail = detail,
                          .detail_cap = 256};
    return kt_dispatch(t, &a);
}

static void test_dispatch_round_trip(void **state)
{
    (void)state;
    kt_fntab t = KT_FNTAB_INIT;
    assert_int_equal(kt_fntab_add(&t, &echo_fn), KT_OK);
    Tfftest__Text msg = TFFTEST__TEXT__INIT;
    msg.text = "hi";
    uint8_t buf[64];
    size_t n = protobuf_c_message_pack(&msg.base, buf);
    uint8_t *res = NULL;
    size_t res_len = 0;
    char detail[256];
    assert_int_equal(run(&t, buf, n, 1024, &res, &res_len, detail), KT_OK);
    assert_int_equal(res_len, n);
    assert_memory_equal(res, buf, n);
    free(res);
}

static void test_malformed_requests_are_refused_with_reason(void **state)
{
    (void)state;
    kt_fntab t = KT_FNTAB_INIT;
    assert_int_equal(kt_fntab_add(&t, &echo_fn), KT_OK);
    uint8_t *res = NULL;
    size_t res_len = 0;
    char detail[256];
    /* field 1 as a length-delimited string longer than the message */
    const uint8_t truncated[] = {0x0a, 0x10, 'a', 'b'};
    assert_int_equal(run(&t, truncated, sizeof truncated, 1024, &res, &res_len, detail),
                     KT_ERR_GATE_BAD_MESSAGE);
    assert_non_null(strstr(detail, "not a valid tfftest.Text"));
    /* a varint that never ends */
    const uint8_t endless[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(run(&t, endless, sizeof endless, 1024, &res, &res_len, detail),
                     KT_ERR_GATE_BAD_MESSAGE);
    /* field 1 with the wrong wire type (varint for a string) */
    const uint8_t wrong_type[] = {0x08, 0x01};
    assert_int_equal(run(&t, wrong_type, sizeof wrong_type, 1024, &res, &res_len, detail),
                     KT_ERR_GATE_BAD_MESSAGE);
    /* over the size limit, before any parsing */
    uint8_t big[100] = {0};
    assert_int_equal(run(&t, big, sizeof big, 64, &res, &res_len, detail), KT_ERR_GATE_TOO_LARGE);
    assert_null(res);
}

static void test_registration_rules(void **state)
{
    (void)state;
    kt_fntab t = KT_FNTAB_INIT;
    assert_int_equal(kt_fntab_add(&t, &echo_fn), KT_OK);
    assert_fails_with(kt_fntab_add(&t, &echo_fn), KT_ERR_EXISTS, "already exists");
    kt_function wrong_size = echo_fn;
    wrong_size.name = "Other";
    wrong_size.response_size = sizeof(Tfftest__ReportInfo);
    assert_fails_with(kt_fntab_add(&t, &wrong_size), KT_ERR_INVALID_ARGUMENT, "do not match");
    assert_non_null(kt_fntab_find(&t, "Echo"));
    assert_null(kt_fntab_find(&t, "Ech"));
    assert_null(kt_fntab_find(&t, "Echo2"));
}

static kt_fntab shared = KT_FNTAB_INIT;
static kt_function many[4][64];
static char names[4][64][16];

static void *register_many(void *arg)
{
    intptr_t who = (intptr_t)arg, failures = 0;
    for (int i = 0; i < 64; i++) {
        snprintf(names[who][i], 16, "f%ld_%d", (long)who, i);
        many[who][i] = echo_fn;
        many[who][i].name = names[who][i];
        failures += kt_fntab_add(&shared, &many[who][i]) != KT_OK;
        /* every function registered so far, by anyone, is found */
        failures += kt_fntab_find(&shared, names[who][i]) != &many[who][i];
    }
    return (void *)failures;
}

static void test_registration_is_thread_safe(void **state)
{
    (void)state;
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, register_many, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        assert_int_equal((intptr_t)failures, 0);
    }
    assert_int_equal(atomic_load(&shared.count), 256);
    for (int w = 0; w < 4; w++)
        for (int i = 0; i < 64; i++)
            assert_ptr_equal(kt_fntab_find(&shared, names[w][i]), &many[w][i]);
}

static void test_call_memory_only_inside_a_call(void **state)
{
    (void)state;
    ProtobufCBinaryData field = {3, (uint8_t *)"old"};
    assert_null(kt_call_alloc(16));
    assert_fails_with(kt_call_bytes(&field, "abc", 3), KT_ERR_NO_MEMORY, "call memory");
    assert_null(field.data); /* left empty, not pointing at the caller's bytes */
    assert_int_equal(field.len, 0);
    kt_frame f;
    kt_frame_push(&f);
    char *small = kt_call_strdup("abc");
    uint8_t *large = kt_call_alloc(100000); /* past the frame's inline space */
    assert_non_null(small);
    assert_non_null(large);
    memset(large, 1, 100000);
    assert_string_equal(small, "abc");
    assert_int_equal(kt_call_bytes(&field, large, 100000), KT_OK);
    assert_int_equal(field.len, 100000);
    assert_ptr_not_equal(field.data, large); /* a copy */
    assert_memory_equal(field.data, large, 100000);
    assert_int_equal(kt_call_bytes(&field, NULL, 0), KT_OK);
    assert_int_equal(field.len, 0);
    kt_frame_pop(&f);
    assert_null(kt_call_alloc(16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_round_trip),
        cmocka_unit_test(test_malformed_requests_are_refused_with_reason),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_registration_is_thread_safe),
        cmocka_unit_test(test_call_memory_only_inside_a_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
