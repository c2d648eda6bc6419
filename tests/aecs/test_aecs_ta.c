/* AECS's TA path under a hostile host: this test is the host of the AECS enclave (the real
 * aecs-server OCALLs, the enclave service's gRPC methods) and of test TAs (enclaves using
 * the TA client library, their sessions relayed by kt_service_relay_serve). Between the
 * two it sits on the gRPC methods: it captures every byte, replays a TA's request and
 * swaps the collateral the AECS enclave verifies a TA's quote with. Every attack must fail
 * with a reason; no plaintext secret may cross the host. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "aecs.pb-c.h"
#include "aecs_server.h"
#include "enclave_service.pb-c.h"
#include "ta_pins.h"
#include "tatest.pb-c.h"
#include <kubetee/aecs.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/session.h>
#include <kubetee/tff.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A(x) Kubetee__Aecs__V1__##x
#define D(x) &kubetee__aecs__v1__##x##__descriptor
#define MARKER "plaintext-marker-5b0c1e77-the-host-must-never-see-this"
#define TA_MAX_AGE 600 /* a TA session's age and idle time, set at Start */
#define TA_IDLE 300

static char dir[64], sim_dir[128], other_sim[128], audit_path[160], target[64];
static kt_sim_qe *qe, *other_qe;
static kt_collateral *coll;
static kt_policy *aecs_policy;
static kt_enclave *aecs, *ta, *ta_other, *ta_debug;
static kt_enclave *ta_old; /* ta_other's image signed at ISVSVN 0: an older release */
static kt_enclave *ta_b, *ta_c; /* ta's image signed by two other signers (F12) */
static kt_store *store;
static kt_service_host *host;
static kt_rpc_server *server;
static kt_key *admin, *svc;

/* ---- the host between the TAs and the AECS enclave ---- */
static kt_rpc_method real[KT_SERVICE_METHODS], wrapped[KT_SERVICE_METHODS];
static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static kt_buf seen;           /* every byte relayed, both ways */
static kt_buf last_call;      /* the last Call record a TA sent */
static uint8_t last_finish[KT_SESSION_ID_LEN]; /* the session the last Finish named */
static size_t finishes;                        /* Finish messages relayed */
static bool swap_at_finish;   /* hand the AECS enclave another root's collateral for the TA's quote */
static bool drop_next_call_as_expired; /* attack2 E: the host runs a Call, drops its answer, says "expired" */

static void tap(const ProtobufCBinaryData *b)
{
    pthread_mutex_lock(&tap_lock);
    kt_buf_append(&seen, b->data, b->len);
    pthread_mutex_unlock(&tap_lock);
}

static kt_status on_method(void *ctx, const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const kt_rpc_method *m = ctx;
    /* every method's request and response is one bytes field, number 1 */
    const ProtobufCBinaryData *in = (const void *)((const char *)rq + sizeof(ProtobufCMessage));
    tap(in);
    uint8_t id[KT_SESSION_ID_LEN];
    bool handshake = strstr(m->method, "/Handshake") != NULL;
    if (handshake && kt_session_message_id(in->data, in->len, id) == KT_OK) { /* a Finish */
        pthread_mutex_lock(&tap_lock);
        memcpy(last_finish, id, sizeof id);
        finishes++;
        pthread_mutex_unlock(&tap_lock);
        if (swap_at_finish) kt_attest_serve_collateral(kt_sim_qe_collateral_dir(other_qe), NULL, NULL); /* the TA's quote */
    }
    if (strstr(m->method, "/Call")) {
        pthread_mutex_lock(&tap_lock);
        last_call.len = 0;
        kt_buf_append(&last_call, in->data, in->len);
        pthread_mutex_unlock(&tap_lock);
    }
    kt_status st = m->unary(m->ctx, rq, rs);
    if (!st) tap((const void *)((const char *)rs + sizeof(ProtobufCMessage)));
    return st;
}

/* Call and Close are raw methods (their bytes relayed as they are): the same taps on the
 * bytes, whose one field is the record. */
static kt_status on_raw(void *ctx, const uint8_t *req, size_t n, kt_rpc_reply *reply)
{
    const kt_rpc_method *m = ctx;
    kt_pb_field f[1];
    ProtobufCBinaryData in = {0};
    if (kt_pb_view(req, n, "L", f, "request") == KT_OK) in = (ProtobufCBinaryData){f[0].len, (uint8_t *)f[0].data};
    tap(&in);
    if (strstr(m->method, "/Call")) {
        pthread_mutex_lock(&tap_lock);
        last_call.len = 0;
        kt_buf_append(&last_call, in.data, in.len);
        pthread_mutex_unlock(&tap_lock);
    }
    kt_status st = m->raw(m->ctx, req, n, reply);
    ProtobufCBinaryData out = {reply->len, reply->data};
    if (!st) tap(&out);
    /* attack2 E: the host lets AECS run the call, drops the answer and says "expired" */
    if (!st && drop_next_call_as_expired && strstr(m->method, "/Call")) {
        drop_next_call_as_expired = false;
        free(reply->data);
        reply->data = NULL;
        reply->len = 0;
        return kt_fail(KT_ERR_UNAVAILABLE, "session: expired: re-attest with a new handshake (the host says so)");
    }
    return st;
}

static bool seen_contains(const char *needle)
{
    pthread_mutex_lock(&tap_lock);
    bool found = memmem(seen.data, seen.len, needle, strlen(needle)) != NULL;
    pthread_mutex_unlock(&tap_lock);
    return found;
}

/* The host sends a Call record of its own making to the AECS enclave. */
static kt_status host_call(const kt_buf *record)
{
    Kubetee__Enclave__V1__CallRequest rq = KUBETEE__ENCLAVE__V1__CALL_REQUEST__INIT;
    rq.record.data = record->data;
    rq.record.len = record->len;
    const kt_rpc_method *m = NULL;
    for (size_t i = 0; i < KT_SERVICE_METHODS; i++)
        if (strstr(real[i].method, "/Call")) m = &real[i];
    assert_non_null(m);
    kt_buf b = {0};
    kt_rpc_reply reply = {0};
    assert_int_equal(kt_buf_reserve(&b, kubetee__enclave__v1__call_request__get_packed_size(&rq)), KT_OK);
    b.len = kubetee__enclave__v1__call_request__pack(&rq, b.data);
    kt_status st = m->raw(m->ctx, b.data, b.len, &reply);
    free(reply.data);
    kt_buf_free(&b);
    return st;
}

static size_t audit_count(const char *op)
{
    kt_buf b = {0};
    char needle[64];
    snprintf(needle, sizeof needle, "\"op\":\"%s\"", op);
    size_t n = 0;
    if (kt_file_read(audit_path, 1 << 24, &b) == KT_OK)
        for (const uint8_t *p = b.data; (p = memmem(p, b.len - (size_t)(p - b.data), needle, strlen(needle))); p++) n++;
    kt_buf_free(&b);
    return n;
}

/* The last audit line of op, or "" (a static copy). */
static const char *last_audit(const char *op)
{
    static char line[4096];
    kt_buf b = {0};
    char needle[64];
    snprintf(needle, sizeof needle, "\"op\":\"%s\"", op);
    line[0] = 0;
    if (kt_file_read(audit_path, 1 << 24, &b) == KT_OK) {
        const uint8_t *hit = NULL;
        for (const uint8_t *p = b.data; (p = memmem(p, b.len - (size_t)(p - b.data), needle, strlen(needle))); p++)
            hit = p;
        if (hit) {
            const uint8_t *a = hit, *e = hit;
            while (a > b.data && a[-1] != '\n') a--;
            while (e < b.data + b.len && *e != '\n') e++;
            snprintf(line, sizeof line, "%.*s", (int)(e - a), (const char *)a);
        }
    }
    kt_buf_free(&b);
    return line;
}

/* ---- the admins, through kt_aecs_client ---- */
static kt_status as(const kt_key *who, const char *op, const ProtobufCMessage *rq, const ProtobufCMessageDescriptor *rt)
{
    kt_aecs_client_config cfg = {.address = target, .key = who, .policy = aecs_policy, .collateral = coll};
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    kt_status st = kt_aecs_client_new(&cfg, &c);
    if (!st) st = kt_aecs_call(c, op, rq, rt, &res);
    char why[1024];
    snprintf(why, sizeof why, "%s", kt_last_error());
    if (res) protobuf_c_message_free_unpacked(res, NULL);
    kt_aecs_client_free(c);
    if (st) kt_fail(st, "%s", why);
    return st;
}

static kt_status set_platform(bool sim, const char *root_hex, bool debug)
{
    A(TaPlatformPolicy) p = KUBETEE__AECS__V1__TA_PLATFORM_POLICY__INIT;
    uint8_t root[32];
    p.allow_simulation = sim;
    p.allow_debug = debug;
    if (root_hex) {
        assert_int_equal(kt_hex_decode(root_hex, root, 32), KT_OK);
        p.simulation_root.data = root;
        p.simulation_root.len = 32;
    }
    A(SetTaPlatformRequest) rq = KUBETEE__AECS__V1__SET_TA_PLATFORM_REQUEST__INIT;
    rq.policy = &p;
    return as(admin, "SetTaPlatform", &rq.base, D(done));
}

static void platform_ok(void)
{
    assert_int_equal(set_platform(true, SIM_ROOT_SHA256, false), KT_OK);
}

/* An entry of the TA signer allow-list (F12): the signer of a TA's image, a product (-1:
 * every product) and the quotas its TAs share. */
typedef struct {
    kt_enclave *of;
    int prod;
    uint32_t secrets;
    uint64_t bytes;
} signer_entry;

static kt_status set_signers_as(const kt_key *who, const signer_entry *e, size_t n)
{
    A(TaSigner) m[8], *p[8];
    A(SetTaSignersRequest) rq = KUBETEE__AECS__V1__SET_TA_SIGNERS_REQUEST__INIT;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        kubetee__aecs__v1__ta_signer__init(&m[i]);
        m[i].mrsigner.data = (uint8_t *)kt_enclave_identity_of(e[i].of)->mrsigner;
        m[i].mrsigner.len = 32;
        m[i].check_prod_id = e[i].prod >= 0;
        m[i].prod_id = e[i].prod >= 0 ? (uint32_t)e[i].prod : 0;
        m[i].max_secrets = e[i].secrets;
        m[i].max_bytes = e[i].bytes;
        p[i] = &m[i];
    }
    rq.signers = p;
    rq.n_signers = n;
    return as(who, "SetTaSigners", &rq.base, D(done));
}

static kt_status set_signers(const signer_entry *e, size_t n)
{
    return set_signers_as(admin, e, n);
}

/* ta's signer, every product, room enough for the tests */
static void signers_ok(void)
{
    signer_entry e = {ta, -1, 100, 1 << 20};
    assert_int_equal(set_signers(&e, 1), KT_OK);
}

/* What ListTaSigners says the TAs of entry i hold. */
static void signer_usage(size_t i, uint32_t *secrets, uint64_t *bytes)
{
    kt_aecs_client_config cfg = {.address = target, .key = admin, .policy = aecs_policy, .collateral = coll};
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    A(ListTaSignersRequest) rq = KUBETEE__AECS__V1__LIST_TA_SIGNERS_REQUEST__INIT;
    assert_int_equal(kt_aecs_client_new(&cfg, &c), KT_OK);
    assert_int_equal(kt_aecs_call(c, "ListTaSigners", &rq.base, D(list_ta_signers_response), &res), KT_OK);
    A(ListTaSignersResponse) *l = (A(ListTaSignersResponse) *)res;
    assert_true(i < l->n_signers);
    *secrets = l->signers[i]->secrets;
    *bytes = l->signers[i]->bytes;
    protobuf_c_message_free_unpacked(res, NULL);
    kt_aecs_client_free(c);
}

/* A secret of service pay, imported data, its one rule pinning mrenclave (or any enclave
 * of the TA's signer when NULL), optionally with debug_disabled. */
static kt_status create_with(const char *name, const char *data, const uint8_t *mrenclave, bool debug_disabled,
                             const uint8_t *user_data)
{
    A(SecretSpec) spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    A(Rule) rule = KUBETEE__AECS__V1__RULE__INIT, *rules[] = {&rule};
    A(CreateSecretRequest) rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    const kt_enclave_identity *id = kt_enclave_identity_of(ta);
    if (mrenclave) {
        rule.mrenclave.data = (uint8_t *)mrenclave;
        rule.mrenclave.len = 32;
    } else {
        rule.mrsigner.data = (uint8_t *)id->mrsigner;
        rule.mrsigner.len = 32;
    }
    rule.debug_disabled = debug_disabled;
    if (user_data) rule.user_data.data = (uint8_t *)user_data, rule.user_data.len = 64;
    spec.service = "pay";
    spec.name = (char *)name;
    spec.type = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_IMPORT_DATA;
    spec.share = "";
    spec.policy = rules;
    spec.n_policy = 1;
    rq.spec = &spec;
    rq.data.data = (uint8_t *)data;
    rq.data.len = strlen(data);
    return as(svc, "CreateSecret", &rq.base, D(secret_info));
}

static kt_status create(const char *name, const char *data, const uint8_t *mrenclave, bool debug_disabled)
{
    return create_with(name, data, mrenclave, debug_disabled, NULL);
}

/* ---- the TAs ---- */
static kt_status ta_connect(kt_enclave *e)
{
    Tatest__ConnectRequest rq = TATEST__CONNECT_REQUEST__INIT;
    Tatest__Result rs = TATEST__RESULT__INIT;
    rq.target = target;
    kt_status st = kt_enclave_call(e, "Connect", &rq, &rs);
    if (!st) {
        assert_int_equal(rs.aecs_mrenclave.len, 32);
        assert_memory_equal(rs.aecs_mrenclave.data, kt_enclave_identity_of(aecs)->mrenclave, 32);
    }
    kt_message_clear(&rs);
    return st;
}

static void ta_close(kt_enclave *e)
{
    Tatest__Empty rq = TATEST__EMPTY__INIT, rs = TATEST__EMPTY__INIT;
    assert_int_equal(kt_enclave_call(e, "Close", &rq, &rs), KT_OK);
}

/* The TA gets service pay's name (bind 0) or its own (bind 1, 2); digest its SHA-256.
 * last_reconnects: the TA library's reconnects so far, as the TA said with the answer. */
static unsigned last_reconnects;
static kt_status ta_get(kt_enclave *e, unsigned bind, const char *name, uint64_t version, uint8_t digest[32])
{
    Tatest__GetRequest rq = TATEST__GET_REQUEST__INIT;
    Tatest__Result rs = TATEST__RESULT__INIT;
    rq.service = "pay";
    rq.name = (char *)name;
    rq.version = version;
    rq.bind = bind;
    kt_status st = kt_enclave_call(e, "Get", &rq, &rs);
    if (!st) {
        assert_int_equal(rs.digest.len, 32);
        memcpy(digest, rs.digest.data, 32);
        last_reconnects = rs.reconnects;
    }
    kt_message_clear(&rs);
    return st;
}

static kt_status ta_create(kt_enclave *e, unsigned bind, const char *name, const char *type, const char *data,
                           uint8_t digest[32])
{
    Tatest__CreateRequest rq = TATEST__CREATE_REQUEST__INIT;
    Tatest__Result rs = TATEST__RESULT__INIT;
    rq.bind = bind;
    rq.name = (char *)name;
    rq.type = (char *)type;
    if (data) rq.data.data = (uint8_t *)data, rq.data.len = strlen(data);
    kt_status st = kt_enclave_call(e, "Create", &rq, &rs);
    if (!st) {
        assert_int_equal(rs.version, 1);
        assert_int_equal(rs.digest.len, 32);
        if (digest) memcpy(digest, rs.digest.data, 32);
    }
    kt_message_clear(&rs);
    return st;
}

static kt_status ta_destroy(kt_enclave *e, unsigned bind, const char *name)
{
    Tatest__GetRequest rq = TATEST__GET_REQUEST__INIT;
    Tatest__Empty rs = TATEST__EMPTY__INIT;
    rq.bind = bind;
    rq.name = (char *)name;
    return kt_enclave_call(e, "Destroy", &rq, &rs);
}

#define assert_refused(st, want, needle)                                                                           \
    do {                                                                                                           \
        kt_status st_ = (st);                                                                                      \
        if (st_ != (want) || !strstr(kt_last_error(), (needle)))                                                  \
            fail_msg("expected %s with '%s', got %s: %s", kt_status_name(want), (needle), kt_status_name(st_),     \
                     kt_last_error());                                                                             \
    } while (0)

static void digest_of(const char *data, uint8_t out[32])
{
    assert_int_equal(kt_sha256(data, strlen(data), out), KT_OK);
}

/* ---- the tests, in order: they share one AECS ---- */

/* Before an admin sets the TA platform policy no TA is served, whatever its rules. */
static void no_platform_policy_no_ta(void **state)
{
    (void)state;
    assert_int_equal(create("db", MARKER, kt_enclave_identity_of(ta)->mrenclave, false), KT_OK);
    assert_refused(ta_connect(ta), KT_ERR_DENIED, "peer_refused");
    /* the refusal is in AECS's audit log: why; the quote was not verified (no policy to
     * verify it against), so its line names no one (L) */
    char hex[65];
    kt_hex_encode(kt_enclave_identity_of(ta)->mrenclave, 32, hex, sizeof hex);
    const char *line = last_audit("HandshakeRefused");
    if (!strstr(line, "\"caller\":\"unverified\"") || strstr(line, hex) || !strstr(line, "\"target\":\"no_platform_policy\",\"outcome\":\"denied\"") ||
        !strstr(line, "accepts registered keys only"))
        fail_msg("the refused handshake's audit line: %s", line);
}

/* The TA's quote verified inside AECS, its platform admitted, the secret's rule admits
 * its MRENCLAVE: it gets the data, and the host saw none of it. */
static void ta_gets_admitted_secret(void **state)
{
    (void)state;
    platform_ok();
    size_t before = seen.len;
    uint8_t got[32], want[32];
    digest_of(MARKER, want);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_get(ta, 0, "db", 0, got), KT_OK);
    assert_memory_equal(got, want, 32);
    assert_int_equal(ta_get(ta, 0, "db", 1, got), KT_OK); /* that version, by number */
    assert_refused(ta_get(ta, 0, "db", 9, got), KT_ERR_NOT_FOUND, "no version 9");
    ta_close(ta);
    assert_true(seen.len > before + 1000); /* the session went through this host */
    assert_false(seen_contains(MARKER));
    assert_false(seen_contains("5b0c1e77"));
    /* the attestation's latency is counted, by outcome */
    kt_buf m = {0};
    kt_service_host_metrics(host, &m);
    static const char counted[] = "kubetee_enclave_attestation_seconds_count{proof=\"quote\"} ",
                      none[] = "kubetee_enclave_attestation_seconds_count{proof=\"quote\"} 0\n";
    assert_non_null(memmem(m.data, m.len, counted, sizeof counted - 1));
    assert_null(memmem(m.data, m.len, none, sizeof none - 1));
    kt_buf_free(&m);
}

/* The enclave's kept copy of an opened secret: an update is served at once; an older
 * object the host puts back changes nothing a TA is given, and once a read from the store
 * finds it, the key is refused to the TA too. */
static void kept_copy_follows_the_table(void **state)
{
    (void)state;
    platform_ok();
    uint8_t got[32], first[32], second[32];
    digest_of("first", first);
    digest_of("second", second);
    assert_int_equal(create("kept", "first", NULL, false), KT_OK);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_get(ta, 0, "kept", 0, got), KT_OK);
    assert_memory_equal(got, first, 32);
    assert_int_equal(ta_get(ta, 0, "kept", 0, got), KT_OK); /* from the kept copy */
    assert_memory_equal(got, first, 32);
    kt_store_object old = {0};
    assert_int_equal(kt_store_get(store, "secrets/pay/kept", &old), KT_OK);
    A(UpdateSecretRequest) up = KUBETEE__AECS__V1__UPDATE_SECRET_REQUEST__INIT;
    up.service = "pay";
    up.name = "kept";
    up.data.data = (uint8_t *)"second";
    up.data.len = 6;
    assert_int_equal(as(svc, "UpdateSecret", &up.base, D(secret_info)), KT_OK);
    assert_int_equal(ta_get(ta, 0, "kept", 0, got), KT_OK);
    assert_memory_equal(got, second, 32);
    /* the host puts version 1's object back */
    assert_int_equal(kt_store_put(store, "secrets/pay/kept", old.value.data, old.value.len, old.version + 1, NULL),
                     KT_OK);
    kt_store_object_free(&old);
    assert_int_equal(ta_get(ta, 0, "kept", 0, got), KT_OK);
    assert_memory_equal(got, second, 32); /* never the host's object */
    assert_refused(as(svc, "UpdateSecret", &up.base, D(secret_info)), KT_ERR_VERIFY, "secrets/pay/kept");
    assert_refused(ta_get(ta, 0, "kept", 0, got), KT_ERR_VERIFY, "secrets/pay/kept");
    ta_close(ta);
}

/* Another TA of the same signer, another MRENCLAVE: its platform passes, the secret's rule
 * does not, and it is told so. */
static void other_mrenclave_refused(void **state)
{
    (void)state;
    uint8_t got[32];
    assert_int_equal(ta_connect(ta_other), KT_OK);
    assert_refused(ta_get(ta_other, 0, "db", 0, got), KT_ERR_DENIED, "no such secret admits enclave");
    /* a rule on user_data could never admit a TA (its report data binds the session): refused */
    uint8_t ud[64] = {1};
    assert_refused(create_with("ud", "z", NULL, false, ud), KT_ERR_INVALID_ARGUMENT, "sets user_data");
    /* a secret that is not there reads as one that refuses: no oracle for names */
    assert_refused(ta_get(ta_other, 0, "nothere", 0, got), KT_ERR_DENIED, "no such secret admits enclave");
    ta_close(ta_other);
}

/* A debug TA is refused at the handshake while the platform policy does not allow
 * debug; allowed, it still passes only rules that do not say debug_disabled. */
static void debug_ta_refused(void **state)
{
    (void)state;
    uint8_t got[32];
    assert_refused(ta_connect(ta_debug), KT_ERR_DENIED, "debug");
    assert_int_equal(set_platform(true, SIM_ROOT_SHA256, true), KT_OK);
    assert_int_equal(create("nodebug", "x", NULL, true), KT_OK);
    assert_int_equal(create("anydebug", "y", NULL, false), KT_OK);
    assert_int_equal(ta_connect(ta_debug), KT_OK);
    assert_refused(ta_get(ta_debug, 0, "nodebug", 0, got), KT_ERR_DENIED, "debug");
    assert_int_equal(ta_get(ta_debug, 0, "anydebug", 0, got), KT_OK);
    /* debug withdrawn: the open session of the debug TA is judged by the policy now */
    platform_ok();
    assert_refused(ta_get(ta_debug, 0, "anydebug", 0, got), KT_ERR_DENIED, "does not allow debug");
    ta_close(ta_debug);
}

/* Simulation not allowed: a simulated quote (all the sim platform makes) is refused, at
 * the handshake and in a session opened before the change. */
static void simulation_refused(void **state)
{
    (void)state;
    uint8_t got[32];
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(set_platform(false, NULL, false), KT_OK);
    assert_refused(ta_get(ta, 0, "db", 0, got), KT_ERR_DENIED, "does not allow simulation");
    ta_close(ta);
    assert_refused(ta_connect(ta), KT_ERR_DENIED, "does not allow simulation");
    /* another simulation root than the TAs' */
    assert_int_equal(set_platform(true, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", false), KT_OK);
    assert_refused(ta_connect(ta), KT_ERR_DENIED, "not the policy's simulation_root");
    /* what the policy refuses to be */
    assert_refused(set_platform(true, NULL, false), KT_ERR_INVALID_ARGUMENT, "names no simulation_root");
    platform_ok();
}

/* The host hands the AECS enclave collateral of another simulation root (valid in
 * itself) for the TA's quote: refused, naming the root. */
static void swapped_collateral_refused(void **state)
{
    (void)state;
    swap_at_finish = true;
    kt_status st = ta_connect(ta);
    swap_at_finish = false;
    kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL);
    assert_refused(st, KT_ERR_DENIED, "simulation root");
    assert_int_equal(ta_connect(ta), KT_OK); /* the right collateral again */
    ta_close(ta);
    /* the TA's host does the same to the TA, for AECS's quote: the TA refuses AECS, and
     * nothing of the TA's goes on (no Finish reaches AECS) */
    pthread_mutex_lock(&tap_lock);
    size_t before = finishes;
    pthread_mutex_unlock(&tap_lock);
    kt_attest_serve_collateral(kt_sim_qe_collateral_dir(other_qe), NULL, NULL);
    st = ta_connect(ta);
    kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL);
    assert_refused(st, KT_ERR_DENIED, "the server's proof");
    assert_non_null(strstr(kt_last_error(), "simulation root"));
    pthread_mutex_lock(&tap_lock);
    assert_int_equal(finishes, before);
    pthread_mutex_unlock(&tap_lock);
}

/* A key caller (an admin, a service admin) manages secrets and never reads them. */
static void key_caller_cannot_get(void **state)
{
    (void)state;
    A(GetSecretRequest) rq = KUBETEE__AECS__V1__GET_SECRET_REQUEST__INIT;
    rq.service = "pay";
    rq.name = "db";
    assert_refused(as(svc, "GetSecret", &rq.base, D(get_secret_response)), KT_ERR_DENIED, "key caller");
    assert_refused(as(admin, "GetSecret", &rq.base, D(get_secret_response)), KT_ERR_DENIED, "key caller");
}

/* The TA's GetSecret record, sent again by the host: in its own session (replayed), in
 * another session (its id rewritten: the record is bound to its own), and after its
 * session closed. None reaches GetSecret. */
static void replay_refused(void **state)
{
    (void)state;
    uint8_t got[32], id1[KT_SESSION_ID_LEN], id2[KT_SESSION_ID_LEN];
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_get(ta, 0, "db", 0, got), KT_OK);
    kt_buf rec = {0};
    pthread_mutex_lock(&tap_lock);
    kt_buf_append(&rec, last_call.data, last_call.len);
    pthread_mutex_unlock(&tap_lock);
    assert_int_equal(kt_session_message_id(rec.data, rec.len, id1), KT_OK);
    size_t gets = audit_count("GetSecret");
    assert_refused(host_call(&rec), KT_ERR_VERIFY, "replayed");
    assert_int_equal(audit_count("GetSecret"), gets);
    /* session 2, before its first call: the record's sequence number is the one it expects */
    assert_int_equal(ta_connect(ta_other), KT_OK);
    pthread_mutex_lock(&tap_lock);
    memcpy(id2, last_finish, sizeof id2);
    pthread_mutex_unlock(&tap_lock);
    assert_memory_not_equal(id1, id2, sizeof id1);
    uint8_t *at = memmem(rec.data, rec.len, id1, sizeof id1);
    assert_non_null(at);
    kt_buf moved = {0};
    kt_buf_append(&moved, rec.data, rec.len);
    memcpy(moved.data + (at - rec.data), id2, sizeof id2);
    assert_refused(host_call(&moved), KT_ERR_VERIFY, "forged");
    assert_int_equal(audit_count("GetSecret"), gets);
    /* the TA's own sessions are unharmed: the refused records changed nothing */
    assert_int_equal(ta_get(ta_other, 0, "anydebug", 0, got), KT_OK);
    assert_int_equal(ta_get(ta, 0, "db", 0, got), KT_OK);
    ta_close(ta);
    ta_close(ta_other);
    assert_refused(host_call(&rec), KT_ERR_NOT_FOUND, "");
    kt_buf_free(&rec);
    kt_buf_free(&moved);
}

/* TA-bound secrets: each TA's own, bound to the identity its quote proved. Another
 * MRENCLAVE neither reads nor destroys them; the same signer and product share the
 * MRSIGNER-bound ones; quotas hold; a key caller makes none; the admin lists and deletes. */
static void ta_bound_isolated(void **state)
{
    (void)state;
    enum { E = 1, S = 2 };
    static const char shared[] = "shared-data-marker-0d9e44c2";
    uint8_t mine[32], theirs[32], got[32], want[32];
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_connect(ta_other), KT_OK);
    assert_int_equal(ta_create(ta, E, "mine", "SECRET_TYPE_AES256_KEY", NULL, mine), KT_OK);
    assert_int_equal(ta_get(ta, E, "mine", 0, got), KT_OK);
    assert_memory_equal(got, mine, 32);
    assert_refused(ta_create(ta, E, "mine", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_EXISTS, "exists already");
    /* another MRENCLAVE: the same name is another secret, its own */
    assert_refused(ta_get(ta_other, E, "mine", 0, got), KT_ERR_NOT_FOUND, "no secret mine");
    assert_refused(ta_destroy(ta_other, E, "mine"), KT_ERR_NOT_FOUND, "no secret mine");
    assert_int_equal(ta_create(ta_other, E, "mine", "SECRET_TYPE_AES256_KEY", NULL, theirs), KT_OK);
    assert_memory_not_equal(mine, theirs, 32);
    assert_int_equal(ta_destroy(ta_other, E, "mine"), KT_OK);
    assert_int_equal(ta_get(ta, E, "mine", 0, got), KT_OK);
    assert_memory_equal(got, mine, 32);
    /* the same signer and product: the MRSIGNER-bound secret is shared */
    digest_of(shared, want);
    assert_int_equal(ta_create(ta, S, "common", "SECRET_TYPE_IMPORT_DATA", shared, NULL), KT_OK);
    assert_int_equal(ta_get(ta_other, S, "common", 0, got), KT_OK);
    assert_memory_equal(got, want, 32);
    assert_refused(ta_get(ta_other, E, "common", 0, got), KT_ERR_NOT_FOUND, "no secret common");
    assert_false(seen_contains(shared));
    /* the quota of one identity (3 here), counted per owner */
    assert_int_equal(ta_create(ta, E, "two", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_OK);
    assert_int_equal(ta_create(ta, E, "three", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_OK);
    assert_refused(ta_create(ta, E, "four", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_TOO_LARGE, "quota");
    assert_int_equal(ta_create(ta_other, E, "four", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_OK);
    assert_refused(ta_create(ta, E, "a/b", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_INVALID_ARGUMENT, "secret name");
    ta_close(ta);
    ta_close(ta_other);
    /* a key caller makes no TA-bound secret */
    A(TaCreateSecretRequest) cr = KUBETEE__AECS__V1__TA_CREATE_SECRET_REQUEST__INIT;
    cr.binding = KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRENCLAVE;
    cr.name = "mine";
    cr.type = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_AES256_KEY;
    assert_refused(as(admin, "TaCreateSecret", &cr.base, D(get_secret_response)), KT_ERR_DENIED, "key caller");
    /* the admin sees every owner's, never their data, and deletes one */
    kt_aecs_client_config cfg = {.address = target, .key = admin, .policy = aecs_policy, .collateral = coll};
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    A(ListTaSecretsRequest) lr = KUBETEE__AECS__V1__LIST_TA_SECRETS_REQUEST__INIT;
    assert_int_equal(kt_aecs_client_new(&cfg, &c), KT_OK);
    assert_int_equal(kt_aecs_call(c, "ListTaSecrets", &lr.base, D(list_ta_secrets_response), &res), KT_OK);
    A(ListTaSecretsResponse) *l = (A(ListTaSecretsResponse) *)res;
    assert_int_equal(l->n_secrets, 5); /* mine, two, three; common; four */
    char owner[128] = "", hex[65];
    kt_hex_encode(kt_enclave_identity_of(ta)->mrenclave, 32, hex, sizeof hex);
    for (size_t i = 0; i < l->n_secrets; i++)
        if (!strcmp(l->secrets[i]->name, "mine")) snprintf(owner, sizeof owner, "%s", l->secrets[i]->owner);
    protobuf_c_message_free_unpacked(res, NULL);
    kt_aecs_client_free(c);
    assert_true(!strncmp(owner, "mrenclave:", 10) && !strcmp(owner + 10, hex));
    A(DeleteTaSecretRequest) dr = KUBETEE__AECS__V1__DELETE_TA_SECRET_REQUEST__INIT;
    dr.owner = "mrenclave:zz";
    dr.name = "mine";
    assert_refused(as(admin, "DeleteTaSecret", &dr.base, D(done)), KT_ERR_INVALID_ARGUMENT, "no TA owner");
    dr.owner = owner;
    assert_refused(as(svc, "DeleteTaSecret", &dr.base, D(done)), KT_ERR_DENIED, "not an AECS admin");
    assert_int_equal(as(admin, "DeleteTaSecret", &dr.base, D(done)), KT_OK);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_refused(ta_get(ta, E, "mine", 0, got), KT_ERR_NOT_FOUND, "no secret mine");
    ta_close(ta);
}

/* F12. TaCreateSecret needs the TA's signer on the allow-list an AECS admin sets. At init
 * there is none (a store from before the list reads the same way), and a TA is refused,
 * told so; only an admin sets it; a list that is wrong is refused, naming what; the list is
 * sealed and audited; taken away, no TA creates, but what a TA holds it still reads and
 * destroys. */
static void ta_signers_allow_list(void **state)
{
    (void)state;
    enum { E = 1 };
    uint8_t made[32], got[32];
    char hex[65], want[128];
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_refused(ta_create(ta, E, "early", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_DENIED,
                   "the TA signer allow-list is empty");
    signer_entry good = {ta, -1, 10, 4096};
    assert_refused(set_signers_as(svc, &good, 1), KT_ERR_DENIED, "not an AECS admin");
    signer_entry twice[] = {{ta, -1, 1, 1}, {ta_other, 7, 1, 1}}; /* one signer: every product, and product 7 */
    assert_refused(set_signers(twice, 2), KT_ERR_INVALID_ARGUMENT, "both match one TA");
    signer_entry zero = {ta, -1, 0, 10};
    assert_refused(set_signers(&zero, 1), KT_ERR_INVALID_ARGUMENT, "a quota is always given");
    signer_entry greedy = {ta, -1, 5000, 10}; /* more than AECS's total (4096) */
    assert_refused(set_signers(&greedy, 1), KT_ERR_INVALID_ARGUMENT, "starve");
    assert_refused(ta_create(ta, E, "early", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_DENIED, "empty");
    assert_int_equal(set_signers(&good, 1), KT_OK);
    kt_hex_encode(kt_enclave_identity_of(ta)->mrsigner, 32, hex, sizeof hex);
    snprintf(want, sizeof want, "\"target\":\"%s=10/4096\"", hex);
    assert_non_null(strstr(last_audit("SetTaSigners"), want));
    assert_int_equal(ta_create(ta, E, "early", "SECRET_TYPE_AES256_KEY", NULL, made), KT_OK);
    /* taken away */
    assert_int_equal(set_signers(NULL, 0), KT_OK);
    assert_non_null(strstr(last_audit("SetTaSigners"), "\"target\":\"none\""));
    assert_refused(ta_create(ta, E, "late", "SECRET_TYPE_AES256_KEY", NULL, NULL), KT_ERR_DENIED, "empty");
    assert_int_equal(ta_get(ta, E, "early", 0, got), KT_OK);
    assert_memory_equal(got, made, 32);
    assert_int_equal(ta_destroy(ta, E, "early"), KT_OK);
    ta_close(ta);
    signers_ok();
}

/* A debug build is never its production twin's owner, and an older release (lower
 * ISVSVN) never reads what a newer one holds by MRSIGNER. With debug TAs allowed (a
 * dev setting), the debug build of ta (same signer and product; on hardware also the same
 * MRENCLAVE, since DEBUG is an attribute) neither reads ta's MRSIGNER-bound secret nor
 * plants one ta would take for its own; ta_old (ISVSVN 0) is refused what ta (ISVSVN 1)
 * made, and a secret ta_old made is raised to ISVSVN 1 the first time ta reads it. */
static void debug_twin_and_older_release_kept_out(void **state)
{
    (void)state;
    enum { E = 1, S = 2 };
    uint8_t made[32], got[32], old_made[32];
    assert_memory_equal(kt_enclave_identity_of(ta)->mrsigner, kt_enclave_identity_of(ta_debug)->mrsigner, 32);
    assert_int_equal(set_platform(true, SIM_ROOT_SHA256, true), KT_OK);
    assert_int_equal(ta_connect(ta), KT_OK);
    ta_destroy(ta, E, "two"); /* room under the per-identity quota (3 here) */
    ta_destroy(ta, E, "three");
    assert_int_equal(ta_create(ta, S, "prod-s", "SECRET_TYPE_AES256_KEY", NULL, made), KT_OK);
    ta_close(ta);
    assert_int_equal(ta_connect(ta_debug), KT_OK);
    assert_refused(ta_get(ta_debug, S, "prod-s", 0, got), KT_ERR_NOT_FOUND, "no secret prod-s");
    assert_int_equal(ta_create(ta_debug, S, "planted", "SECRET_TYPE_IMPORT_DATA", "host-chosen-value", NULL), KT_OK);
    ta_close(ta_debug);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_refused(ta_get(ta, S, "planted", 0, got), KT_ERR_NOT_FOUND, "no secret planted");
    ta_close(ta);
    platform_ok();
    assert_non_null(strstr(last_audit("TaGetSecret"), ":7:1\""));        /* the caller: prodid 7, svn 1 */
    assert_non_null(strstr(last_audit("TaGetSecret"), "mrsigner/planted")); /* the target: binding and name */
    /* the older release */
    assert_int_equal(ta_connect(ta_old), KT_OK);
    assert_refused(ta_get(ta_old, S, "prod-s", 0, got), KT_ERR_DENIED, "older release");
    assert_refused(ta_destroy(ta_old, S, "prod-s"), KT_ERR_DENIED, "older release");
    assert_int_equal(ta_create(ta_old, S, "from-old", "SECRET_TYPE_AES256_KEY", NULL, old_made), KT_OK);
    assert_int_equal(ta_get(ta_old, S, "from-old", 0, got), KT_OK);
    ta_close(ta_old);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_get(ta, S, "prod-s", 0, got), KT_OK);
    assert_memory_equal(got, made, 32);
    assert_int_equal(ta_get(ta, S, "from-old", 0, got), KT_OK); /* the newer release reads it: floor raised */
    assert_memory_equal(got, old_made, 32);
    ta_close(ta);
    assert_int_equal(ta_connect(ta_old), KT_OK);
    assert_refused(ta_get(ta_old, S, "from-old", 0, got), KT_ERR_DENIED, "held for ISVSVN 1 and up");
    ta_close(ta_old);
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_destroy(ta, S, "prod-s"), KT_OK);
    assert_int_equal(ta_destroy(ta, S, "from-old"), KT_OK);
    ta_close(ta);
}

/* A secret that does not exist and one whose rules refuse the TA read the same, but for
 * the name; the audit line names the service and everything the rules judge of the TA. */
static void refusals_tell_no_names_and_audit_says_whose(void **state)
{
    (void)state;
    uint8_t got[32];
    char there[512], absent[512];
    assert_int_equal(ta_connect(ta_other), KT_OK);
    assert_int_equal(ta_get(ta_other, 0, "db", 0, got), KT_ERR_DENIED);
    snprintf(there, sizeof there, "%s", kt_last_error());
    assert_int_equal(ta_get(ta_other, 0, "nothere", 0, got), KT_ERR_DENIED);
    snprintf(absent, sizeof absent, "%s", kt_last_error());
    ta_close(ta_other);
    char *p = strstr(there, "pay/db"), *q = strstr(absent, "pay/nothere");
    assert_non_null(p);
    assert_non_null(q);
    assert_string_equal(p + strlen("pay/db"), q + strlen("pay/nothere"));
    const char *line = last_audit("GetSecret");
    char hex[65], signer[65], want[200];
    kt_hex_encode(kt_enclave_identity_of(ta_other)->mrenclave, 32, hex, sizeof hex);
    kt_hex_encode(kt_enclave_identity_of(ta_other)->mrsigner, 32, signer, sizeof signer);
    snprintf(want, sizeof want, "\"caller\":\"enclave:%s:%s:7:1\"", hex, signer);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "\"target\":\"pay/nothere\""));
}

/* A rule's prod_id is compared only with check_prod_id (0 is a product id): a rule
 * that gives one without the other would admit every product, so it is refused. */
static void prod_id_without_check_refused(void **state)
{
    (void)state;
    A(SecretSpec) spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    A(Rule) rule = KUBETEE__AECS__V1__RULE__INIT, *rules[] = {&rule};
    A(CreateSecretRequest) rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    rule.mrsigner.data = (uint8_t *)kt_enclave_identity_of(ta)->mrsigner;
    rule.mrsigner.len = 32;
    rule.prod_id = 99;
    spec.service = "pay";
    spec.name = "prod99";
    spec.type = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_IMPORT_DATA;
    spec.share = "";
    spec.policy = rules;
    spec.n_policy = 1;
    rq.spec = &spec;
    rq.data.data = (uint8_t *)"for product 99";
    rq.data.len = 14;
    assert_refused(as(svc, "CreateSecret", &rq.base, D(secret_info)), KT_ERR_INVALID_ARGUMENT, "check_prod_id");
    assert_non_null(strstr(last_audit("CreateSecret"), "\"target\":\"pay/prod99\""));
}

/* ---- never-export keys, used in place by admitted TAs ---- */
/* A secret of service pay of a generated type, its one rule pinning ta's MRENCLAVE, with
 * one param (pk NULL: none). */
static kt_status create_admitted(const char *name, int type, const char *pk, const char *pv, const char *share,
                                 bool never_export)
{
    A(SecretSpec) spec = KUBETEE__AECS__V1__SECRET_SPEC__INIT;
    A(Rule) rule = KUBETEE__AECS__V1__RULE__INIT, *rules[] = {&rule};
    A(Param) param = KUBETEE__AECS__V1__PARAM__INIT, *params[] = {&param};
    A(CreateSecretRequest) rq = KUBETEE__AECS__V1__CREATE_SECRET_REQUEST__INIT;
    rule.mrenclave.data = (uint8_t *)kt_enclave_identity_of(ta)->mrenclave;
    rule.mrenclave.len = 32;
    spec.service = "pay", spec.name = (char *)name, spec.type = (Kubetee__Aecs__V1__SecretType)type;
    spec.share = (char *)share, spec.never_export = never_export, spec.policy = rules, spec.n_policy = 1;
    if (pk) {
        param.key = (char *)pk, param.value = (char *)pv;
        spec.params = params, spec.n_params = 1;
    }
    rq.spec = &spec;
    return as(svc, "CreateSecret", &rq.base, D(secret_info));
}

/* A never-export key of service pay, admitting only the TA's MRENCLAVE. */
static kt_status create_never_export(const char *name, int type, const char *pk, const char *pv, const char *share)
{
    return create_admitted(name, type, pk, pv, share, true);
}

static kt_status ta_use(kt_enclave *e, const char *op, const char *name, uint64_t version, const void *in, size_t n,
                        const char *aad, kt_buf *out, char *alg)
{
    Tatest__UseRequest rq = TATEST__USE_REQUEST__INIT;
    Tatest__UseResult rs = TATEST__USE_RESULT__INIT;
    rq.op = (char *)op, rq.service = "pay", rq.name = (char *)name, rq.version = version;
    rq.input.data = (uint8_t *)in, rq.input.len = n;
    if (aad) rq.aad.data = (uint8_t *)aad, rq.aad.len = strlen(aad);
    kt_status st = kt_enclave_call(e, "Use", &rq, &rs);
    out->len = 0;
    if (!st) {
        kt_buf_append(out, rs.output.data, rs.output.len);
        if (alg) strcpy(alg, rs.algorithm);
    }
    kt_message_clear(&rs);
    return st;
}

/* The public key of a share: public secret, from getpub. */
/* The public key PEM getpub reports for pay's name, asked by its service admin. */
static void public_pem_of(const char *name, kt_buf *pem)
{
    kt_aecs_client_config cfg = {.address = target, .key = svc, .policy = aecs_policy, .collateral = coll};
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    A(GetPublicRequest) rq = KUBETEE__AECS__V1__GET_PUBLIC_REQUEST__INIT;
    uint8_t nonce[16] = {1};
    rq.service = "pay", rq.name = (char *)name, rq.nonce.data = nonce, rq.nonce.len = 16;
    assert_int_equal(kt_aecs_client_new(&cfg, &c), KT_OK);
    assert_int_equal(kt_aecs_call(c, "GetPublic", &rq.base, D(get_public_response), &res), KT_OK);
    A(GetPublicResponse) *r = (A(GetPublicResponse) *)res;
    pem->len = 0;
    assert_int_equal(kt_buf_append(pem, r->public_pem.data, r->public_pem.len), KT_OK);
    protobuf_c_message_free_unpacked(res, NULL);
    kt_aecs_client_free(c);
}

static kt_key *public_of(const char *name)
{
    kt_buf pem = {0};
    kt_key *k = NULL;
    public_pem_of(name, &pem);
    assert_int_equal(kt_key_from_pem((const char *)pem.data, pem.len, &k), KT_OK);
    kt_buf_free(&pem);
    return k;
}

/* The admitted TA signs with a never-export P-256 key (the signature verifies with the
 * public key getpub gives), encrypts, decrypts, wraps and unwraps with a never-export AES
 * key, and never gets either key; a TA the rules do not admit can do none of it; a bound
 * secret is not used in place; the host sees no plaintext. */
static void never_export_used_in_place(void **state)
{
    (void)state;
    enum { AES = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_AES256_KEY,
           P256 = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_EC_P256_KEY_PAIR,
           RSA = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_RSA_KEY_PAIR };
    static const char msg[] = "never-export-marker-7a1f3c90 the TA's message", aad[] = "header-2c4e";
    platform_ok();
    assert_int_equal(create_never_export("signer", P256, NULL, NULL, "public"), KT_OK);
    assert_int_equal(create_never_export("kek", AES, NULL, NULL, ""), KT_OK);
    assert_int_equal(create_never_export("rsa", RSA, "padding", "pkcs1", ""), KT_OK);
    kt_key *pub = public_of("signer");
    kt_buf out = {0}, ct = {0}, w = {0};
    char alg[64]; /* KT_AECS_ALG_MAX, an enclave's */
    size_t signs = audit_count("Sign");
    assert_int_equal(ta_connect(ta), KT_OK);
    assert_int_equal(ta_use(ta, "Sign", "signer", 0, msg, sizeof msg, NULL, &out, alg), KT_OK);
    assert_string_equal(alg, "ecdsa-p256-sha256");
    assert_int_equal(out.len, 64);
    assert_int_equal(kt_verify(pub, msg, sizeof msg, out.data, out.len), KT_OK);
    assert_int_equal(kt_verify(pub, msg, sizeof msg - 2, out.data, out.len), KT_ERR_VERIFY);
    assert_int_equal(audit_count("Sign"), signs + 1);
    /* never the key itself, not even to the TA its rules admit */
    uint8_t got[32];
    assert_refused(ta_get(ta, 0, "signer", 0, got), KT_ERR_DENIED, "never-export");
    assert_refused(ta_get(ta, 0, "kek", 0, got), KT_ERR_DENIED, "never-export");
    /* AES-256-GCM, with aad; AES-KWP */
    assert_int_equal(ta_use(ta, "Encrypt", "kek", 0, msg, sizeof msg, aad, &ct, alg), KT_OK);
    assert_string_equal(alg, "aes-256-gcm");
    assert_int_equal(ct.len, sizeof msg + 28);
    assert_int_equal(ta_use(ta, "Decrypt", "kek", 1, ct.data, ct.len, aad, &out, alg), KT_OK);
    assert_int_equal(out.len, sizeof msg);
    assert_memory_equal(out.data, msg, sizeof msg);
    assert_refused(ta_use(ta, "Decrypt", "kek", 1, ct.data, ct.len, "other", &out, alg), KT_ERR_VERIFY, "does not open");
    assert_int_equal(ta_use(ta, "Wrap", "kek", 0, msg, 32, NULL, &w, alg), KT_OK);
    assert_string_equal(alg, "aes-256-kwp");
    assert_int_equal(ta_use(ta, "Unwrap", "kek", 0, w.data, w.len, NULL, &out, alg), KT_OK);
    assert_memory_equal(out.data, msg, 32);
    /* RSA by its key's padding; OAEP round trip */
    assert_int_equal(ta_use(ta, "Sign", "rsa", 0, msg, sizeof msg, NULL, &out, alg), KT_OK);
    assert_string_equal(alg, "rsa-pkcs1-sha256");
    assert_int_equal(ta_use(ta, "Encrypt", "rsa", 0, msg, sizeof msg, NULL, &ct, alg), KT_OK);
    assert_int_equal(ta_use(ta, "Decrypt", "rsa", 0, ct.data, ct.len, NULL, &out, alg), KT_OK);
    assert_memory_equal(out.data, msg, sizeof msg);
    /* what a key does not do, and a secret that is not never-export */
    assert_refused(ta_use(ta, "Encrypt", "signer", 0, msg, sizeof msg, NULL, &out, alg), KT_ERR_INVALID_ARGUMENT,
                   "it only signs");
    assert_refused(ta_use(ta, "Sign", "kek", 0, msg, sizeof msg, NULL, &out, alg), KT_ERR_INVALID_ARGUMENT,
                   "does not sign");
    assert_refused(ta_use(ta, "Sign", "db", 0, msg, sizeof msg, NULL, &out, alg), KT_ERR_INVALID_ARGUMENT,
                   "not never-export");
    ta_close(ta);
    /* a TA the rules do not admit: no signature, no decryption */
    assert_int_equal(ta_connect(ta_other), KT_OK);
    assert_refused(ta_use(ta_other, "Sign", "signer", 0, msg, sizeof msg, NULL, &out, alg), KT_ERR_DENIED,
                   "no such secret admits enclave");
    assert_refused(ta_use(ta_other, "Decrypt", "kek", 1, ct.data, ct.len, aad, &out, alg), KT_ERR_DENIED,
                   "no such secret admits enclave");
    assert_refused(ta_use(ta_other, "Sign", "nothere", 0, msg, sizeof msg, NULL, &out, alg), KT_ERR_DENIED,
                   "no such secret admits enclave");
    ta_close(ta_other);
    /* every use is one audit line: admitted or refused (here 6 Signs) */
    assert_int_equal(audit_count("Sign"), signs + 6);
    /* a key caller, even the service's admin, uses nothing */
    A(KeyOpRequest) k = KUBETEE__AECS__V1__KEY_OP_REQUEST__INIT;
    k.service = "pay", k.name = "signer", k.input.data = (uint8_t *)msg, k.input.len = sizeof msg;
    assert_refused(as(svc, "Sign", &k.base, D(key_op_response)), KT_ERR_DENIED, "key caller");
    assert_false(seen_contains("never-export-marker-7a1f3c90"));
    assert_false(seen_contains("header-2c4e"));
    kt_key_free(pub);
    kt_buf_free(&out), kt_buf_free(&ct), kt_buf_free(&w);
}

/* ---- setup: AECS as aecs-server runs it, the TAs on the same machine ---- */
static uint32_t ta_requests; /* ta_session_requests at Start (0: the enclave's default) */
static kt_status start_aecs(void)
{
    A(StartRequest) rq = KUBETEE__AECS__V1__START_REQUEST__INIT;
    A(StartResponse) rs = KUBETEE__AECS__V1__START_RESPONSE__INIT;
    rq.max_ta_secrets = 3;
    rq.ta_session_max_age = TA_MAX_AGE; /* shorter than the enclave's defaults, as a host may make them */
    rq.ta_session_idle = TA_IDLE;
    rq.ta_session_requests = ta_requests;
    kt_status st = kt_enclave_call(aecs, "aecs.Start", &rq, &rs);
    kt_message_clear(&rs);
    return st;
}

/* The AECS enclave, started as aecs-server starts it, and this host's gRPC server before
 * it (target: its address). */
static kt_status serve_aecs(void)
{
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_service_limits l;
    kt_service_limits_default(&l);
    int port = 0;
    kt_status st = kt_enclave_create(KT_TEST_BINARY_DIR "/services/aecs/aecs.signed.so", &o, &aecs);
    if (!st) st = start_aecs();
    if (!st) st = kt_service_host_new(aecs, &l, &host);
    if (st) return st;
    size_t n = kt_service_host_methods(host, real);
    for (size_t i = 0; i < n; i++) {
        wrapped[i] = real[i];
        if (real[i].raw)
            wrapped[i].raw = on_raw;
        else
            wrapped[i].unary = on_method;
        wrapped[i].ctx = &real[i];
    }
    st = kt_rpc_server_new("127.0.0.1:0", NULL, NULL, wrapped, n, &server);
    if (!st) st = kt_rpc_server_start(server, &port);
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    return st;
}

static void unserve_aecs(void)
{
    kt_rpc_server_shutdown(server, 1000);
    kt_rpc_server_free(server);
    kt_service_host_free(host);
    kt_enclave_destroy(aecs);
    server = NULL, host = NULL, aecs = NULL;
}

/* AECS stopped (no Stop: a crash) and started again on the same store. */
static void restart_aecs(void)
{
    unserve_aecs();
    if (serve_aecs()) fail_msg("restart: %s", kt_last_error());
}

static kt_status load(const char *name, kt_enclave **out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/aecs/%s.signed.so", KT_TEST_BINARY_DIR, name);
    kt_enclave_options o = {.sim_dir = sim_dir};
    return kt_enclave_create(path, &o, out);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/kt-aecs-ta-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    snprintf(other_sim, sizeof other_sim, "%s/other-sim", dir);
    snprintf(audit_path, sizeof audit_path, "%s/audit.log", dir);
    char store_url[160], policy[512];
    snprintf(store_url, sizeof store_url, "fs:%s/store", dir);
    snprintf(policy, sizeof policy,
             "{\"allow_simulation\":true,\"simulation_root\":\"%s\",\"rules\":[{\"mrsigner\":\"%s\",\"isvprodid\":100}]}",
             SIM_ROOT_SHA256, SIGNER_MRSIGNER);
    if (kt_mkdirs(sim_dir, 0700) || kt_mkdirs(other_sim, 0700) ||
        kt_sim_root_import(sim_dir, KT_TEST_BINARY_DIR "/tests/aecs/ta-simroot") || kt_sim_qe_open(sim_dir, &qe) ||
        kt_sim_qe_open(other_sim, &other_qe) || kt_collateral_load_dir(kt_sim_qe_collateral_dir(qe), NULL, &coll) ||
        kt_policy_parse(policy, strlen(policy), &aecs_policy) || kt_attest_serve_quotes(sim_dir) ||
        kt_attest_serve_collateral(kt_sim_qe_collateral_dir(qe), NULL, NULL) || kt_service_relay_serve(NULL) ||
        kt_store_open(store_url, &store) || aecs_host_open(store, audit_path) || serve_aecs() || load("ta", &ta) ||
        load("ta_other", &ta_other) || load("ta_debug", &ta_debug) || load("ta_old", &ta_old) || load("ta_b", &ta_b) ||
        load("ta_c", &ta_c) || kt_key_generate(KT_KEY_P256, &admin) || kt_key_generate(KT_KEY_P256, &svc)) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    uint8_t raw[64];
    size_t len;
    A(InitRequest) init = KUBETEE__AECS__V1__INIT_REQUEST__INIT;
    A(PublicKey) p = KUBETEE__AECS__V1__PUBLIC_KEY__INIT;
    A(RegisterServiceRequest) reg = KUBETEE__AECS__V1__REGISTER_SERVICE_REQUEST__INIT;
    p.type = KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
    p.raw.data = raw;
    p.raw.len = 64;
    reg.name = "pay";
    reg.admin_key = &p;
    if (as(admin, "Init", &init.base, D(init_response)) || kt_key_public_raw(svc, raw, 64, &len) ||
        as(admin, "RegisterService", &reg.base, D(done))) {
        fprintf(stderr, "setup: %s\n", kt_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_enclave_destroy(ta);
    kt_enclave_destroy(ta_other);
    kt_enclave_destroy(ta_debug);
    kt_enclave_destroy(ta_old);
    kt_enclave_destroy(ta_b);
    kt_enclave_destroy(ta_c);
    unserve_aecs();
    aecs_host_close();
    kt_store_free(store);
    kt_key_free(admin);
    kt_key_free(svc);
    kt_policy_free(aecs_policy);
    kt_collateral_free(coll);
    kt_sim_qe_free(qe);
    kt_sim_qe_free(other_qe);
    kt_buf_free(&seen);
    kt_buf_free(&last_call);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* RSA key pairs as an admitted TA gets them (docs/aecs.md: pkcs_type pkcs1, a PKCS#1
 * RSAPrivateKey PEM, "RSA PRIVATE KEY"; pkcs8, the default, a PKCS#8 PrivateKeyInfo PEM,
 * "PRIVATE KEY"; bit_length 3072 by default): the TA parses the key with OpenSSL and the
 * bytes are, to the byte, OpenSSL's PEM of that key in the form asked for and not the
 * other (OpenSSL reads PKCS#8 under a PKCS#1 label too: parsing alone would not tell);
 * its public half is the public key getpub reports; the host saw no private key go by. */
static void rsa_key_form(void **state)
{
    (void)state;
    enum { RSA = KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_RSA_KEY_PAIR };
    static const struct {
        const char *name, *pkcs_type, *first_line; /* pkcs_type NULL: the default */
        bool pkcs1;
    } forms[] = {{"rsa-pkcs1", "pkcs1", "-----BEGIN RSA PRIVATE KEY-----", true},
                 {"rsa-pkcs8", "pkcs8", "-----BEGIN PRIVATE KEY-----", false},
                 {"rsa-default", NULL, "-----BEGIN PRIVATE KEY-----", false}};
    enum { N = sizeof forms / sizeof *forms };
    platform_ok();
    for (size_t i = 0; i < N; i++)
        assert_int_equal(create_admitted(forms[i].name, RSA, forms[i].pkcs_type ? "pkcs_type" : NULL,
                                         forms[i].pkcs_type, "", false),
                         KT_OK);
    size_t before = seen.len;
    assert_int_equal(ta_connect(ta), KT_OK);
    for (size_t i = 0; i < N; i++) {
        Tatest__GetRequest rq = TATEST__GET_REQUEST__INIT;
        Tatest__KeyForm rs = TATEST__KEY_FORM__INIT;
        rq.service = "pay", rq.name = (char *)forms[i].name;
        if (kt_enclave_call(ta, "KeyForm", &rq, &rs)) fail_msg("KeyForm %s: %s", forms[i].name, kt_last_error());
        if (!rs.rsa || strcmp(rs.first_line, forms[i].first_line) || rs.pkcs1 != forms[i].pkcs1 ||
            rs.pkcs8 == forms[i].pkcs1)
            fail_msg("%s: RSA %d, first line '%s', OpenSSL's PKCS#1 PEM of it %d, its PKCS#8 PEM %d; want '%s', "
                     "only %s",
                     forms[i].name, rs.rsa, rs.first_line, rs.pkcs1, rs.pkcs8, forms[i].first_line,
                     forms[i].pkcs1 ? "PKCS#1" : "PKCS#8");
        assert_int_equal(rs.version, 1);
        assert_int_equal(rs.bits, 3072);
        /* the public half is the key getpub reports */
        kt_buf pem = {0};
        public_pem_of(forms[i].name, &pem);
        BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len), *c = BIO_new_mem_buf(rs.public_pem.data, (int)rs.public_pem.len);
        EVP_PKEY *reported = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL,
                 *held = c ? PEM_read_bio_PUBKEY(c, NULL, NULL, NULL) : NULL;
        assert_non_null(reported);
        assert_non_null(held);
        if (EVP_PKEY_eq(reported, held) != 1)
            fail_msg("%s: the TA's key is not the one getpub reports:\n%.*s\nreported:\n%.*s", forms[i].name,
                     (int)rs.public_pem.len, (const char *)rs.public_pem.data, (int)pem.len, (const char *)pem.data);
        EVP_PKEY_free(reported);
        EVP_PKEY_free(held);
        BIO_free(b);
        BIO_free(c);
        kt_buf_free(&pem);
        kt_message_clear(&rs);
    }
    ta_close(ta);
    assert_true(seen.len > before + 1000); /* the keys went through this host, sealed */
    assert_false(seen_contains("PRIVATE KEY"));
    for (size_t i = 0; i < N; i++) {
        A(DestroySecretRequest) d = KUBETEE__AECS__V1__DESTROY_SECRET_REQUEST__INIT;
        d.service = "pay", d.name = (char *)forms[i].name;
        assert_int_equal(as(svc, "DestroySecret", &d.base, D(done)), KT_OK);
    }
}

#include "ta_attacks.inc"
#include "ta_sign_batch.inc"

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_platform_policy_no_ta), cmocka_unit_test(ta_gets_admitted_secret),
        cmocka_unit_test(other_mrenclave_refused),  cmocka_unit_test(debug_ta_refused),
        cmocka_unit_test(simulation_refused),       cmocka_unit_test(swapped_collateral_refused),
        cmocka_unit_test(key_caller_cannot_get),    cmocka_unit_test(replay_refused),
        cmocka_unit_test(kept_copy_follows_the_table),
        cmocka_unit_test(ta_signers_allow_list),
        cmocka_unit_test(ta_bound_isolated),
        cmocka_unit_test(debug_twin_and_older_release_kept_out),
        cmocka_unit_test(refusals_tell_no_names_and_audit_says_whose),
        cmocka_unit_test(prod_id_without_check_refused),
        cmocka_unit_test(never_export_used_in_place),
        cmocka_unit_test(rsa_key_form),
        TA_ATTACK_TESTS
        TA_BATCH_TESTS
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
