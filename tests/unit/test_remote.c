/* Remote functions: reachable by name only when the enclave marked them remote. The
 * test enclave's test.Probe looks names up in the remote table and calls through it, as
 * the enclave service does with a request a session opened. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "enclave_service.pb-c.h"
#include "remotetest.pb-c.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>
#include <kubetee/tff.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sim_dir[64];
static kt_enclave *enclave;

static const char *enclave_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/tests/enclaves/%s.signed.so", KT_TEST_BINARY_DIR, name);
    return p;
}

/* test.Probe on name with a packed request; the reply's fields are the caller's. */
static void probe(const char *name, const char *req_type, const void *req, Remotetest__ProbeReply *res)
{
    Remotetest__ProbeRequest pr = REMOTETEST__PROBE_REQUEST__INIT;
    uint8_t buf[256];
    pr.name = (char *)name;
    pr.request_type = (char *)(req_type ? req_type : "");
    if (req) {
        pr.request.len = protobuf_c_message_pack(req, buf);
        pr.request.data = buf;
    }
    if (kt_enclave_call(enclave, "test.Probe", &pr, res) != KT_OK) fail_msg("test.Probe: %s", kt_last_error());
}

static void test_remote_function_is_found_and_called(void **state)
{
    (void)state;
    Remotetest__Text t = REMOTETEST__TEXT__INIT;
    t.text = "hello";
    Remotetest__ProbeReply r = REMOTETEST__PROBE_REPLY__INIT;
    probe("Echo", NULL, &t, &r);
    assert_true(r.found);
    assert_int_equal(r.status, KT_OK);
    /* the descriptors the JSON tool maps by */
    assert_string_equal(r.request_type, "remotetest.Text");
    assert_string_equal(r.response_type, "remotetest.Text");
    Remotetest__Text *back = remotetest__text__unpack(NULL, r.response.len, r.response.data);
    assert_non_null(back);
    assert_string_equal(back->text, "hello");
    remotetest__text__free_unpacked(back, NULL);
    /* every remote function, and only those, is listed: the enclave's two and the
     * runtime's kt.Describe */
    assert_int_equal(r.n_remote_names, 3);
    assert_string_equal(r.remote_names[0], "Echo");
    assert_string_equal(r.remote_names[1], "remotetest.Sum");
    assert_string_equal(r.remote_names[2], "kt.Describe");
    kt_message_clear(&r);

    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    int64_t v[] = {40, 2};
    nums.values = v;
    nums.n_values = 2;
    probe("remotetest.Sum", "remotetest.Numbers", &nums, &r);
    assert_int_equal(r.status, KT_OK);
    Remotetest__Number *n = remotetest__number__unpack(NULL, r.response.len, r.response.data);
    assert_non_null(n);
    assert_int_equal(n->value, 42);
    remotetest__number__free_unpacked(n, NULL);
    kt_message_clear(&r);
}

/* kt.Describe's answer is all a JSON client needs: the functions, their types, and the
 * files that describe them, which load into descriptors pbjson maps by. */
static void test_describe_gives_what_json_clients_map_by(void **state)
{
    (void)state;
    Kubetee__Enclave__V1__DescribeRequest dq = KUBETEE__ENCLAVE__V1__DESCRIBE_REQUEST__INIT;
    Remotetest__ProbeReply r = REMOTETEST__PROBE_REPLY__INIT;
    probe("kt.Describe", "kubetee.enclave.v1.DescribeRequest", &dq, &r);
    assert_int_equal(r.status, KT_OK);
    Kubetee__Enclave__V1__DescribeResponse *d =
        kubetee__enclave__v1__describe_response__unpack(NULL, r.response.len, r.response.data);
    assert_non_null(d);
    assert_int_equal(d->n_functions, 3);
    assert_string_equal(d->functions[1]->name, "remotetest.Sum");
    assert_string_equal(d->functions[1]->request_type, "remotetest.Numbers");
    assert_string_equal(d->functions[1]->response_type, "remotetest.Number");
    assert_int_equal(d->n_files, 2); /* remotetest, kubetee.enclave.v1 */
    kt_buf files[2];
    for (size_t i = 0; i < 2; i++) files[i] = (kt_buf){d->files[i].data, d->files[i].len, d->files[i].len};
    kt_pbschema *s = NULL;
    assert_int_equal(kt_pbschema_load(files, 2, &s), KT_OK);
    const ProtobufCMessageDescriptor *req = kt_pbschema_message(s, d->functions[1]->request_type);
    const ProtobufCMessageDescriptor *res = kt_pbschema_message(s, d->functions[1]->response_type);
    assert_non_null(req);
    assert_non_null(res);
    kt_message_clear(&r);
    /* JSON -> the loaded request type -> the remote function -> JSON */
    const char *json = "{\"values\":[\"40\",2]}";
    kt_buf wire = {0}, out = {0};
    assert_int_equal(kt_pbjson_to_wire(req, json, strlen(json), NULL, &wire), KT_OK);
    Remotetest__ProbeRequest pr = REMOTETEST__PROBE_REQUEST__INIT;
    pr.name = d->functions[1]->name;
    pr.request_type = (char *)req->name;
    pr.response_type = (char *)res->name;
    pr.request.data = wire.data;
    pr.request.len = wire.len;
    assert_int_equal(kt_enclave_call(enclave, "test.Probe", &pr, &r), KT_OK);
    assert_int_equal(r.status, KT_OK);
    assert_int_equal(kt_pbjson_print_wire(res, r.response.data, r.response.len, NULL, &out), KT_OK);
    assert_string_equal((const char *)out.data, "{\"value\":\"42\"}");
    kt_message_clear(&r);
    kt_buf_free(&wire);
    kt_buf_free(&out);
    kt_pbschema_free(s);
    kubetee__enclave__v1__describe_response__free_unpacked(d, NULL);
}

/* test.Invoke on function with an Invocation of (req_type, res_type, req); the CallResult. */
static Kubetee__Enclave__V1__CallResult *invoke(const char *function, const char *req_type, const char *res_type,
                                                 const void *req)
{
    Kubetee__Enclave__V1__Invocation inv = KUBETEE__ENCLAVE__V1__INVOCATION__INIT;
    uint8_t body[256], payload[512];
    inv.request_type = (char *)req_type;
    inv.response_type = (char *)res_type;
    inv.request.data = body;
    inv.request.len = req ? protobuf_c_message_pack(req, body) : 0;
    Remotetest__InvokeRequest ir = REMOTETEST__INVOKE_REQUEST__INIT;
    ir.function = (char *)function;
    ir.payload.data = payload;
    ir.payload.len = kubetee__enclave__v1__invocation__pack(&inv, payload);
    Remotetest__Blob out = REMOTETEST__BLOB__INIT;
    if (kt_enclave_call(enclave, "test.Invoke", &ir, &out) != KT_OK) fail_msg("test.Invoke: %s", kt_last_error());
    Kubetee__Enclave__V1__CallResult *r = kubetee__enclave__v1__call_result__unpack(NULL, out.data.len, out.data.data);
    assert_non_null(r);
    kt_message_clear(&out);
    return r;
}

static void test_invocations_always_get_a_call_result(void **state)
{
    (void)state;
    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    int64_t v[] = {40, 2};
    nums.values = v;
    nums.n_values = 2;
    Kubetee__Enclave__V1__CallResult *r = invoke("remotetest.Sum", "remotetest.Numbers", "remotetest.Number", &nums);
    assert_int_equal(r->status, KT_OK);
    assert_string_equal(r->reason, "");
    Remotetest__Number *n = remotetest__number__unpack(NULL, r->response.len, r->response.data);
    assert_non_null(n);
    assert_int_equal(n->value, 42);
    remotetest__number__free_unpacked(n, NULL);
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    struct {
        const char *function, *req_type, *res_type;
        int status;
        const char *why;
    } cases[] = {
        {"Internal", "remotetest.Text", "remotetest.Text", KT_ERR_GATE_NO_FUNCTION, "no remote function named 'Internal'"},
        {"remotetest.Sum", "remotetest.Text", "remotetest.Number", KT_ERR_GATE_TYPE_MISMATCH, "takes remotetest.Numbers"},
        {"remotetest.Sum", "remotetest.Numbers", "remotetest.Text", KT_ERR_GATE_TYPE_MISMATCH, "returns remotetest.Number"},
        {"remotetest.Sum", "", "remotetest.Number", KT_ERR_GATE_TYPE_MISMATCH, "names its request and response types"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        r = invoke(cases[i].function, cases[i].req_type, cases[i].res_type, &nums);
        assert_int_equal(r->status, cases[i].status);
        if (!strstr(r->reason, cases[i].why)) fail_msg("case %zu: '%s' not in '%s'", i, cases[i].why, r->reason);
        assert_int_equal(r->response.len, 0);
        kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    }
    /* the function's own failure, with its reason */
    int64_t over[] = {INT64_MAX, 1};
    nums.values = over;
    r = invoke("remotetest.Sum", "remotetest.Numbers", "remotetest.Number", &nums);
    assert_int_equal(r->status, KT_ERR_INVALID_ARGUMENT);
    assert_string_equal(r->reason, "Sum overflows");
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    /* a payload that is not an Invocation */
    Remotetest__InvokeRequest ir = REMOTETEST__INVOKE_REQUEST__INIT;
    uint8_t junk[] = {0x0a, 0x7f, 0x00};
    ir.function = "remotetest.Sum";
    ir.payload.data = junk;
    ir.payload.len = sizeof junk;
    Remotetest__Blob out = REMOTETEST__BLOB__INIT;
    assert_int_equal(kt_enclave_call(enclave, "test.Invoke", &ir, &out), KT_OK);
    r = kubetee__enclave__v1__call_result__unpack(NULL, out.data.len, out.data.data);
    assert_non_null(r);
    assert_int_equal(r->status, KT_ERR_GATE_BAD_MESSAGE);
    assert_non_null(strstr(r->reason, "not a kubetee.enclave.v1.Invocation"));
    kubetee__enclave__v1__call_result__free_unpacked(r, NULL);
    kt_message_clear(&out);
}

static void test_internal_and_builtin_names_are_refused(void **state)
{
    (void)state;
    const char *names[] = {"Internal", "test.Probe", "kt.Identity", "kt.identity.load", "echo", "Echo ", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        Remotetest__Text t = REMOTETEST__TEXT__INIT;
        Remotetest__ProbeReply r = REMOTETEST__PROBE_REPLY__INIT;
        probe(names[i], NULL, &t, &r);
        if (r.found) fail_msg("'%s' found in the remote table", names[i]);
        assert_int_equal(r.status, KT_ERR_GATE_NO_FUNCTION);
        assert_non_null(strstr(r.detail, "no remote function named"));
        assert_int_equal(r.response.len, 0);
        kt_message_clear(&r);
    }
    /* while the host still reaches the internal function by ECALL */
    Remotetest__Text t = REMOTETEST__TEXT__INIT, res = REMOTETEST__TEXT__INIT;
    assert_int_equal(kt_enclave_call(enclave, "Internal", &t, &res), KT_OK);
    assert_string_equal(res.text, "internal");
    kt_message_clear(&res);
}

static void test_remote_functions_are_not_ecall_targets(void **state)
{
    (void)state;
    Remotetest__Text t = REMOTETEST__TEXT__INIT, res = REMOTETEST__TEXT__INIT;
    t.text = "x";
    assert_fails_with(kt_enclave_call(enclave, "Echo", &t, &res), KT_ERR_GATE_NO_FUNCTION, "Echo");
}

static void test_remote_call_checks_types_and_bytes(void **state)
{
    (void)state;
    Remotetest__Text t = REMOTETEST__TEXT__INIT;
    Remotetest__ProbeReply r = REMOTETEST__PROBE_REPLY__INIT;
    probe("remotetest.Sum", "remotetest.Text", &t, &r);
    assert_true(r.found);
    assert_int_equal(r.status, KT_ERR_GATE_TYPE_MISMATCH);
    assert_non_null(strstr(r.detail, "remotetest.Sum takes remotetest.Numbers"));
    kt_message_clear(&r);
    /* bytes that are not a Numbers */
    Remotetest__ProbeRequest pr = REMOTETEST__PROBE_REQUEST__INIT;
    uint8_t junk[] = {0x0a, 0x7f};
    pr.name = "remotetest.Sum";
    pr.request.data = junk;
    pr.request.len = sizeof junk;
    assert_int_equal(kt_enclave_call(enclave, "test.Probe", &pr, &r), KT_OK);
    assert_int_equal(r.status, KT_ERR_GATE_BAD_MESSAGE);
    kt_message_clear(&r);
    /* a function's own failure comes back as its status and reason */
    Remotetest__Numbers nums = REMOTETEST__NUMBERS__INIT;
    int64_t v[] = {INT64_MAX, 1};
    nums.values = v;
    nums.n_values = 2;
    probe("remotetest.Sum", NULL, &nums, &r);
    assert_int_equal(r.status, KT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(r.detail, "Sum overflows"));
    kt_message_clear(&r);
}

static void test_bad_remote_registrations_stop_the_enclave(void **state)
{
    (void)state;
    struct {
        const char *enclave, *reason;
    } cases[] = {
        {"remotetest_reserved", "registering kt.Sneaky: register: names starting with 'kt.' are reserved"},
        {"remotetest_clash", "registering Internal: register: 'Internal' is already a trusted function"},
        {"remotetest_space", "registering two words: register: byte 3 of a remote name is not printable ASCII"},
        {"remotetest_twice", "registering Echo: register: a function named 'Echo' already exists"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kt_enclave_options o = {.sim_dir = sim_dir};
        kt_enclave *e = NULL;
        kt_status st = kt_enclave_create(enclave_path(cases[i].enclave), &o, &e);
        if (st == KT_OK) fail_msg("%s started", cases[i].enclave);
        if (!strstr(kt_last_error(), cases[i].reason))
            fail_msg("%s: expected '%s' in: %s", cases[i].enclave, cases[i].reason, kt_last_error());
        assert_null(e);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(sim_dir, sizeof sim_dir, "/tmp/kt-remote-XXXXXX");
    if (!mkdtemp(sim_dir)) return -1;
    kt_enclave_options o = {.sim_dir = sim_dir};
    if (kt_enclave_create(enclave_path("remotetest"), &o, &enclave) != KT_OK) {
        fprintf(stderr, "loading remotetest: %s\n", kt_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_enclave_destroy(enclave);
    return rm_tree(sim_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_function_is_found_and_called),
        cmocka_unit_test(test_describe_gives_what_json_clients_map_by),
        cmocka_unit_test(test_invocations_always_get_a_call_result),
        cmocka_unit_test(test_internal_and_builtin_names_are_refused),
        cmocka_unit_test(test_remote_functions_are_not_ecall_targets),
        cmocka_unit_test(test_remote_call_checks_types_and_bytes),
        cmocka_unit_test(test_bad_remote_registrations_stop_the_enclave),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
