/* Never-export keys used in place (docs/aecs.md "Never-export keys"): a TA whose verified
 * identity the secret's rules admit asks AECS to sign, decrypt, encrypt, wrap or unwrap
 * with the key; the key itself never leaves the enclave. The algorithm is the key's (its
 * type and params), never the request's, so one key serves one scheme. Who may is decided
 * here; the cryptography is src/aecs/keyuse.c. */
#include "aecs.h"
#include "keyuse.h" /* src/aecs */
#include <kubetee/aecs.h>

#include <stdio.h>
#include <string.h>

#define T(x) KUBETEE__AECS__V1__SECRET_TYPE__SECRET_TYPE_##x

typedef Kubetee__Aecs__V1__KeyOpRequest op_req;
typedef Kubetee__Aecs__V1__KeyOpResponse op_res;

/* What a use needs of the key, decided under ae_lock: the key (its bytes are the call's
 * own copy of the opened record, so they stay put without the lock) and its version. */
typedef struct {
    kt_aecs_key k;
    uint64_t version;
} decided;

static kt_status decide(const ae_caller *c, const char *service, const char *name, uint64_t version, decided *d)
{
    ae_secret *s = NULL;
    const Kubetee__Aecs__V1__StoredVersion *v = NULL;
    kt_status st = ae_ta_secret(c, service, name, version, &s, &v);
    if (st) return st;
    const ae_spec *spec = s->spec;
    if (!spec->never_export)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s/%s is not never-export: an admitted TA gets it with "
                                                "GetSecret and uses it itself", service, name);
    memset(d, 0, sizeof *d);
    d->k.name = spec->name;
    d->k.key = v->data.data;
    d->k.key_len = v->data.len;
    d->k.kind = spec->type == T(AES256_KEY) ? KT_AECS_KEY_AES256 : spec->type == T(RSA_KEY_PAIR) ? KT_AECS_KEY_RSA
                                                                                                 : KT_AECS_KEY_EC;
    d->k.pkcs1 = !strcmp(ae_param(spec, "padding", "pss"), "pkcs1");
    d->k.wrap_gcm = !strcmp(ae_param(spec, "wrap", "kwp"), "gcm");
    d->version = v->version;
    return KT_OK;
}

static bool same(const decided *a, const decided *b)
{
    return a->version == b->version && a->k.kind == b->k.kind && a->k.pkcs1 == b->k.pkcs1 &&
           a->k.wrap_gcm == b->k.wrap_gcm && a->k.key_len == b->k.key_len && kt_equal(a->k.key, b->k.key, a->k.key_len);
}

/* The cryptography of one request on the decided key, its output into the response. */
typedef kt_status (*work_fn)(const decided *d, const void *rq, void *rs);

/* Who may use the key is decided under ae_lock; the cryptography runs outside it, so
 * uses by several TAs (a batch's signatures) run side by side. Then, under the lock
 * again and with the audit line, the decision is made once more: the output stands only
 * if it names the same key bytes at the same version. If the key was updated meanwhile,
 * the use is done again there, under the lock; if it was destroyed, or its rules, the
 * TA platform policy or AECS's phase no longer admit the TA, the use is refused with that
 * reason and nothing leaves. So the line stands where the use took effect: none says a
 * key was used after the line that destroyed it. A refusal at the first decision is one
 * critical section, as every other operation's. */
static kt_status use(const char *op, const char *service, const char *name, uint64_t version, size_t count,
                     work_fn work, const void *rq, void *rs)
{
    ae_caller c;
    char t[AE_TARGET_MAX], reason[512];
    decided d, now;
    snprintf(t, sizeof t, "%s/%s", service ? service : "", name ? name : "");
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    st = decide(&c, service, name, version, &d);
    if (st) {
        ae_audit_count(&c, op, t, count, st);
        pthread_mutex_unlock(&ae_lock);
        return st;
    }
    pthread_mutex_unlock(&ae_lock);
    st = work(&d, rq, rs);
    snprintf(reason, sizeof reason, "%s", st ? kt_last_error() : "");
    pthread_mutex_lock(&ae_lock);
    kt_status again = decide(&c, service, name, version, &now);
    if (again)
        st = again; /* refused now: what was made is not released */
    else if (!same(&d, &now))
        st = work(&now, rq, rs); /* another version now: made again, under the lock */
    else if (st)
        kt_fail(st, "%s", reason);
    ae_audit_count(&c, op, t, count, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}

static kt_status one(const decided *d, kt_aecs_key_op op, const op_req *rq, op_res *rs)
{
    kt_buf out = {0};
    const char *alg = "";
    kt_status st = kt_aecs_key_use(&d->k, op, rq->input.data, rq->input.len, rq->aad.data, rq->aad.len, &out, &alg);
    if (!st) st = kt_call_bytes(&rs->output, out.data, out.len);
    rs->version = d->version;
    rs->algorithm = (char *)alg;
    kt_buf_free(&out); /* wiped: a decrypted or unwrapped key */
    return st;
}

#define USE(fn, kind)                                                                                              \
    static kt_status fn##_work(const decided *d, const void *rq, void *rs) { return one(d, kind, rq, rs); }        \
    static kt_status fn(const op_req *rq, op_res *rs)                                                              \
    {                                                                                                              \
        return use(#fn, rq->service, rq->name, rq->version, 0, fn##_work, rq, rs);                                 \
    }                                                                                                              \
    KT_REMOTE_FUNCTION(fn, "aecs." #fn, Kubetee__Aecs__V1__KeyOpRequest, kubetee__aecs__v1__key_op_request,        \
                       Kubetee__Aecs__V1__KeyOpResponse, kubetee__aecs__v1__key_op_response)
USE(Sign, KT_AECS_SIGN)
USE(Encrypt, KT_AECS_ENCRYPT)
USE(Decrypt, KT_AECS_DECRYPT)
USE(Wrap, KT_AECS_WRAP)
USE(Unwrap, KT_AECS_UNWRAP)

/* ---- aecs.SignBatch: several messages, one key, one decision, one line ---- */
typedef Kubetee__Aecs__V1__SignBatchRequest batch_req;
typedef Kubetee__Aecs__V1__SignBatchResponse batch_res;

/* The bounds, before anything else is done (the caller, the lock, the key). */
static kt_status batch_bounds(const batch_req *rq)
{
    if (rq->n_inputs == 0 || rq->n_inputs > KT_AECS_SIGN_BATCH_MAX)
        return kt_fail(rq->n_inputs ? KT_ERR_TOO_LARGE : KT_ERR_INVALID_ARGUMENT,
                       "a sign batch is 1..%d messages, not %zu", KT_AECS_SIGN_BATCH_MAX, rq->n_inputs);
    size_t total = 0;
    for (size_t i = 0; i < rq->n_inputs; i++) {
        if (rq->inputs[i].len > KT_AECS_SIGN_BATCH_BYTES - total)
            return kt_fail(KT_ERR_TOO_LARGE, "a sign batch's messages are at most %d bytes together",
                           KT_AECS_SIGN_BATCH_BYTES);
        total += rq->inputs[i].len;
    }
    return KT_OK;
}

static kt_status batch_work(const decided *d, const void *req, void *res)
{
    const batch_req *rq = req;
    batch_res *rs = res;
    size_t n = rq->n_inputs;
    const char *alg = "";
    kt_bytes *in = kt_call_alloc(n * sizeof *in);
    kt_buf *sigs = kt_call_alloc(n * sizeof *sigs);
    rs->signatures = kt_call_alloc(n * sizeof *rs->signatures);
    rs->n_signatures = 0;
    if (!in || !sigs || !rs->signatures) return KT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) in[i].p = rq->inputs[i].data, in[i].n = rq->inputs[i].len, sigs[i] = (kt_buf){0};
    kt_status st = kt_aecs_key_sign_each(&d->k, in, n, sigs, &alg);
    for (size_t i = 0; i < n && !st; i++) st = kt_call_bytes(&rs->signatures[i], sigs[i].data, sigs[i].len);
    for (size_t i = 0; i < n; i++) kt_buf_free(&sigs[i]);
    rs->n_signatures = st ? 0 : n; /* all or nothing */
    rs->version = d->version;
    rs->algorithm = (char *)alg;
    return st;
}

/* A batch over the bounds is refused before its key is looked up or anything signed; its
 * line is written as any refused request's. */
static kt_status SignBatch(const batch_req *rq, batch_res *rs)
{
    kt_status st = batch_bounds(rq);
    if (!st) return use("SignBatch", rq->service, rq->name, rq->version, rq->n_inputs, batch_work, rq, rs);
    ae_caller c;
    char t[AE_TARGET_MAX];
    snprintf(t, sizeof t, "%s/%s", rq->service, rq->name);
    if (ae_caller_get(&c)) return st;
    pthread_mutex_lock(&ae_lock);
    ae_audit_count(&c, "SignBatch", t, rq->n_inputs, st);
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(SignBatch, "aecs.SignBatch", Kubetee__Aecs__V1__SignBatchRequest,
                   kubetee__aecs__v1__sign_batch_request, Kubetee__Aecs__V1__SignBatchResponse,
                   kubetee__aecs__v1__sign_batch_response)
