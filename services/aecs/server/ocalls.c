/* The host's side of the AECS enclave's OCALLs: the store (opaque sealed values; the
 * enclave checks everything it reads), the audit file and the clock. Op and outcome
 * names become metric labels only from the allow-lists below. */
#include "aecs_server.h"
#include "aecs.pb-c.h"
#include <kubetee/svc.h>
#include <kubetee/tff.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static kt_store *store;
static FILE *audit;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const ops[] = {"Status",     "Init",          "AddAdmin",     "RegisterService",
                                  "UnregisterService", "ListServices", "DeleteSecret", "Backup",
                                  "Restore",    "AuditHead",     "CreateSecret", "UpdateSecret",
                                  "DestroySecret", "ListSecrets", "GetPublic",   "GetSecret",
                                  "Start",      "Sign",          "Encrypt",      "Decrypt",
                                  "Wrap",       "Unwrap",        "SetRecovery",
                                  "SetTaPlatform", "SetTaSigners",
                                  "ListTaSigners", "TaCreateSecret", "TaGetSecret", "TaDestroySecret",
                                  "ListTaSecrets", "DeleteTaSecret", "AcceptClock", "SignBatch",
                                  "HandshakeRefused", "RotateKey"};
static const char *const outcomes[] = {"ok", "denied", "invalid", "not_found", "conflict", "damaged", "error"};
#define N_OPS (sizeof ops / sizeof ops[0])
#define N_OUT (sizeof outcomes / sizeof outcomes[0])
static uint64_t counts[N_OPS + 1][N_OUT + 1]; /* the last row and column: "other" */
static uint64_t audit_failures;

static size_t index_of(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return i;
    return n;
}

static kt_status sget(const Kubetee__Aecs__V1__StoreGetRequest *rq, Kubetee__Aecs__V1__StoreGetResponse *rs)
{
    kt_store_object o = {0};
    kt_status st = kt_store_get(store, rq->key, &o);
    if (st == KT_ERR_NOT_FOUND) return KT_OK;
    if (!st) {
        rs->found = true;
        rs->version = o.version;
        st = kt_call_bytes(&rs->value, o.value.data, o.value.len);
    }
    kt_store_object_free(&o);
    return st;
}
KT_UNTRUSTED_FUNCTION(sget, "aecs.store.Get", Kubetee__Aecs__V1__StoreGetRequest, kubetee__aecs__v1__store_get_request,
                      Kubetee__Aecs__V1__StoreGetResponse, kubetee__aecs__v1__store_get_response)

static kt_status sput(const Kubetee__Aecs__V1__StorePutRequest *rq, Kubetee__Aecs__V1__StorePutResponse *rs)
{
    kt_status st = kt_store_put(store, rq->key, rq->value.data, rq->value.len, rq->expected_version, &rs->revision);
    if (!st) rs->version = rq->expected_version + 1;
    return st;
}
KT_UNTRUSTED_FUNCTION(sput, "aecs.store.Put", Kubetee__Aecs__V1__StorePutRequest, kubetee__aecs__v1__store_put_request,
                      Kubetee__Aecs__V1__StorePutResponse, kubetee__aecs__v1__store_put_response)

static kt_status sput_batch(const Kubetee__Aecs__V1__StorePutBatchRequest *rq,
                            Kubetee__Aecs__V1__StorePutBatchResponse *rs)
{
    return aecs_host_put_batch(store, rq, rs, NULL);
}
KT_UNTRUSTED_FUNCTION(sput_batch, "aecs.store.PutBatch", Kubetee__Aecs__V1__StorePutBatchRequest,
                      kubetee__aecs__v1__store_put_batch_request, Kubetee__Aecs__V1__StorePutBatchResponse,
                      kubetee__aecs__v1__store_put_batch_response)

static kt_status sdel(const Kubetee__Aecs__V1__StoreDeleteRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    return kt_store_delete(store, rq->key, rq->expected_version, NULL);
}
KT_UNTRUSTED_FUNCTION(sdel, "aecs.store.Delete", Kubetee__Aecs__V1__StoreDeleteRequest,
                      kubetee__aecs__v1__store_delete_request, Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)

static kt_status slist(const Kubetee__Aecs__V1__StoreListRequest *rq, Kubetee__Aecs__V1__StoreListResponse *rs)
{
    kt_store_list_result r = {0};
    kt_status st = kt_store_list(store, rq->prefix, rq->after, rq->limit ? rq->limit : 1000, &r);
    if (st) return st;
    rs->entries = kt_call_alloc((r.count + 1) * sizeof *rs->entries);
    Kubetee__Aecs__V1__StoreEntry *e = kt_call_alloc((r.count + 1) * sizeof *e);
    if (!rs->entries || !e) st = KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < r.count && !st; i++) {
        kubetee__aecs__v1__store_entry__init(&e[i]);
        e[i].key = kt_call_strdup(r.entries[i].key);
        e[i].version = r.entries[i].version;
        rs->entries[i] = &e[i];
        if (!e[i].key) st = KT_ERR_NO_MEMORY;
    }
    rs->n_entries = r.count;
    rs->more = r.more;
    rs->next = kt_call_strdup(r.next);
    rs->revision = r.revision;
    if (!rs->next) st = KT_ERR_NO_MEMORY;
    kt_store_list_result_free(&r);
    return st;
}
KT_UNTRUSTED_FUNCTION(slist, "aecs.store.List", Kubetee__Aecs__V1__StoreListRequest, kubetee__aecs__v1__store_list_request,
                      Kubetee__Aecs__V1__StoreListResponse, kubetee__aecs__v1__store_list_response)

static kt_status append(const Kubetee__Aecs__V1__AuditAppendRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    pthread_mutex_lock(&lock);
    counts[index_of(ops, N_OPS, rq->op)][index_of(outcomes, N_OUT, rq->outcome)]++;
    bool ok = audit && fprintf(audit, "%s\n", rq->line) > 0 && fflush(audit) == 0;
    if (!ok) audit_failures++;
    pthread_mutex_unlock(&lock);
    /* one log line per request: the audit line carries who, what and the outcome */
    char op[40], out[16];
    kt_escape(rq->op, strlen(rq->op), op, sizeof op);
    kt_escape(rq->outcome, strlen(rq->outcome), out, sizeof out);
    kt_log(strcmp(rq->outcome, "ok") ? KT_LOG_WARN : KT_LOG_INFO, "aecs.request", "op", op, "outcome", out, NULL);
    return ok ? KT_OK : kt_fail(KT_ERR_IO, "audit: the line was not written");
}
KT_UNTRUSTED_FUNCTION(append, "aecs.audit.Append", Kubetee__Aecs__V1__AuditAppendRequest,
                      kubetee__aecs__v1__audit_append_request, Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)

static kt_status now(const Kubetee__Aecs__V1__TimeRequest *rq, Kubetee__Aecs__V1__TimeResponse *rs)
{
    (void)rq;
    time_t t = time(NULL);
    if (t == (time_t)-1) return kt_fail(KT_ERR_IO, "the host's clock cannot be read (time: %s)", strerror(errno));
    rs->seconds = (int64_t)t;
    return KT_OK;
}
KT_UNTRUSTED_FUNCTION(now, "aecs.Time", Kubetee__Aecs__V1__TimeRequest, kubetee__aecs__v1__time_request,
                      Kubetee__Aecs__V1__TimeResponse, kubetee__aecs__v1__time_response)

kt_status aecs_host_open(kt_store *s, const char *audit_file)
{
    store = s;
    audit = fopen(audit_file, "a");
    if (!audit) return kt_fail(KT_ERR_IO, "audit file %s cannot be opened for appending", audit_file);
    return KT_OK;
}

void aecs_host_close(void)
{
    if (audit) fclose(audit);
    audit = NULL;
}

#define AUDIT_TAIL_BYTES (768u << 10)

kt_status aecs_host_audit_tail(const char *audit_file, size_t max, char ***lines, size_t *n)
{
    *lines = NULL;
    *n = 0;
    kt_buf b = {0};
    if (access(audit_file, F_OK) != 0) return KT_OK; /* no file yet */
    kt_status st = kt_file_read(audit_file, 256u << 20, &b);
    if (st) return kt_fail_context(st, "audit file");
    size_t count = 0;
    for (size_t i = 0; i < b.len; i++) count += b.data[i] == '\n';
    /* the last max lines, and of those no more than fit one call into the enclave (its
     * request limit is 1 MiB): the oldest go first, as past max */
    size_t skip = count > max ? count - max : 0, k = 0, start = 0, bytes = 0, keep = 0;
    for (size_t i = b.len; i-- > 0;) {
        if (b.data[i] != '\n') continue;
        size_t from = i;
        while (from > 0 && b.data[from - 1] != '\n') from--;
        if (keep == count - skip || bytes + (i - from) + 16 > AUDIT_TAIL_BYTES) break;
        bytes += (i - from) + 16; /* the line and its framing */
        keep++;
    }
    skip = count - keep;
    char **out = calloc(count - skip + 1, sizeof *out);
    if (!out) st = KT_ERR_NO_MEMORY;
    for (size_t i = 0, line = 0; !st && i < b.len; i++) {
        if (b.data[i] != '\n') continue;
        if (line++ >= skip && !(out[k++] = strndup((const char *)b.data + start, i - start))) st = KT_ERR_NO_MEMORY;
        start = i + 1;
    }
    kt_buf_free(&b);
    if (st) {
        aecs_host_free_lines(out, k);
        return st;
    }
    *lines = out;
    *n = k;
    return KT_OK;
}

void aecs_host_free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

void aecs_host_metrics(kt_buf *out)
{
    pthread_mutex_lock(&lock);
    kt_buf_printf(out, "# HELP kubetee_aecs_requests_total AECS requests by operation and outcome (from the "
                       "enclave's audit lines)\n# TYPE kubetee_aecs_requests_total counter\n");
    for (size_t o = 0; o <= N_OPS; o++)
        for (size_t r = 0; r <= N_OUT; r++)
            if (counts[o][r] || (o < N_OPS && r == 0))
                kt_buf_printf(out, "kubetee_aecs_requests_total{op=\"%s\",outcome=\"%s\"} %llu\n",
                              o < N_OPS ? ops[o] : "other", r < N_OUT ? outcomes[r] : "other",
                              (unsigned long long)counts[o][r]);
    kt_buf_printf(out, "# HELP kubetee_aecs_audit_write_failures_total audit lines the host failed to write\n"
                       "# TYPE kubetee_aecs_audit_write_failures_total counter\n"
                       "kubetee_aecs_audit_write_failures_total %llu\n",
                  (unsigned long long)audit_failures);
    pthread_mutex_unlock(&lock);
}

/* aecs.Pause: the enclave waits a moment with its lock let go (a key rotation's batches) */
static kt_status pause_ms(const Kubetee__Aecs__V1__PauseRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    uint32_t ms = rq->milliseconds > 100 ? 100 : rq->milliseconds;
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
    return KT_OK;
}
KT_UNTRUSTED_FUNCTION(pause_ms, "aecs.Pause", Kubetee__Aecs__V1__PauseRequest, kubetee__aecs__v1__pause_request,
                      Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)
