/* The AECS test TA: a trusted application using the TA client library (kt_aecs_ta_*) to
 * reach AECS through its host. Its policy for AECS is compiled in (measured): AECS's
 * signer and product under the simulation root the build made (ta_pins.h). It hands its
 * host only digests of what it gets (KeyForm: what form an RSA key it got has, and its public
 * half). VARIANT 2 is the same TA with another MRENCLAVE. */
#include <kubetee/aecs.h>
#include <kubetee/crypto.h>
#include <kubetee/trusted.h>
#include "ta_pins.h"
#include "tatest.pb-c.h"
#include "aecs.pb-c.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#ifndef VARIANT
#define VARIANT 1
#endif

static const char aecs_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"" SIM_ROOT_SHA256
                                  "\",\"rules\":[{\"mrsigner\":\"" SIGNER_MRSIGNER "\",\"isvprodid\":100}]}";
static kt_aecs_ta *ta;

static kt_status Connect(const Tatest__ConnectRequest *rq, Tatest__Result *rs)
{
    if (ta) return kt_fail(KT_ERR_STATE, "the TA is connected already");
    kt_policy *p = NULL;
    kt_status st = kt_policy_parse(aecs_policy, strlen(aecs_policy), &p);
    /* the pin from the test host, to test kt_aecs_ta_connect_pinned: a TA of its own
     * compiles its pin in (samples/aecs-ta), never takes it from its host */
    if (!st && rq->instance.len && rq->instance.len != 64) st = kt_fail(KT_ERR_INVALID_ARGUMENT, "an instance pin is 64 bytes");
    if (!st) st = rq->instance.len ? kt_aecs_ta_connect_pinned(rq->target, p, rq->instance.data, &ta)
                                   : kt_aecs_ta_connect(rq->target, p, &ta);
    kt_policy_free(p);
    kt_report_body aecs;
    if (!st) st = kt_aecs_ta_peer(ta, &aecs);
    if (!st) st = kt_call_bytes(&rs->aecs_mrenclave, aecs.mrenclave, 32);
    rs->version = VARIANT;
    return st;
}
KT_TRUSTED_FUNCTION(Connect, "Connect", Tatest__ConnectRequest, tatest__connect_request, Tatest__Result, tatest__result)

static kt_status digest_of(kt_aecs_secret *s, Tatest__Result *rs)
{
    uint8_t d[32];
    kt_status st = kt_sha256(s->data, s->len, d);
    if (!st) st = kt_call_bytes(&rs->digest, d, 32);
    rs->version = s->version;
    rs->len = s->len;
    rs->type = kt_call_strdup(s->type);
    kt_aecs_secret_free(s);
    return st;
}

static kt_status Get(const Tatest__GetRequest *rq, Tatest__Result *rs)
{
    kt_aecs_secret *s = NULL;
    kt_status st = rq->bind ? kt_aecs_ta_get_own(ta, (kt_aecs_bind)rq->bind, rq->name, rq->version, &s)
                            : kt_aecs_ta_get(ta, rq->service, rq->name, rq->version, &s);
    rs->reconnects = kt_aecs_ta_reconnects(ta);
    return st ? st : digest_of(s, rs);
}
KT_TRUSTED_FUNCTION(Get, "Get", Tatest__GetRequest, tatest__get_request, Tatest__Result, tatest__result)

static kt_status Create(const Tatest__CreateRequest *rq, Tatest__Result *rs)
{
    kt_aecs_ta_spec spec = {.bind = (kt_aecs_bind)rq->bind, .name = rq->name, .type = rq->type,
                            .data = rq->data.data, .len = rq->data.len};
    kt_aecs_secret *s = NULL;
    kt_status st = kt_aecs_ta_create(ta, &spec, &s);
    return st ? st : digest_of(s, rs);
}
KT_TRUSTED_FUNCTION(Create, "Create", Tatest__CreateRequest, tatest__create_request, Tatest__Result, tatest__result)

static kt_status Destroy(const Tatest__GetRequest *rq, Tatest__Empty *rs)
{
    (void)rs;
    return kt_aecs_ta_destroy(ta, (kt_aecs_bind)rq->bind, rq->name);
}
KT_TRUSTED_FUNCTION(Destroy, "Destroy", Tatest__GetRequest, tatest__get_request, Tatest__Empty, tatest__empty)

static kt_status Close(const Tatest__Empty *rq, Tatest__Empty *rs)
{
    (void)rq;
    (void)rs;
    kt_status st = kt_aecs_ta_close(ta);
    ta = NULL;
    return st;
}
KT_TRUSTED_FUNCTION(Close, "Close", Tatest__Empty, tatest__empty, Tatest__Empty, tatest__empty)

static kt_status Use(const Tatest__UseRequest *rq, Tatest__UseResult *rs)
{
    kt_buf out = {0};
    char alg[KT_AECS_ALG_MAX];
    kt_status st = kt_aecs_ta_use(ta, rq->op, rq->service, rq->name, rq->version, rq->input.data, rq->input.len,
                                  rq->aad.data, rq->aad.len, &out, &rs->version, alg);
    if (!st) st = kt_call_bytes(&rs->output, out.data, out.len);
    if (!st) rs->algorithm = kt_call_strdup(alg);
    kt_buf_free(&out);
    return st;
}
KT_TRUSTED_FUNCTION(Use, "Use", Tatest__UseRequest, tatest__use_request, Tatest__UseResult, tatest__use_result)

static kt_status SignBatch(const Tatest__BatchRequest *rq, Tatest__BatchResult *rs)
{
    size_t n = rq->n_inputs;
    rs->signatures = kt_call_alloc((n + 1) * sizeof *rs->signatures);
    if (!rs->signatures) return KT_ERR_NO_MEMORY;
    if (rq->raw) {
        Kubetee__Aecs__V1__SignBatchRequest b = KUBETEE__AECS__V1__SIGN_BATCH_REQUEST__INIT;
        b.service = rq->service, b.name = rq->name, b.version = rq->version;
        b.inputs = rq->inputs, b.n_inputs = n;
        ProtobufCMessage *res = NULL;
        kt_status st = kt_aecs_ta_call(ta, "SignBatch", &b.base, &kubetee__aecs__v1__sign_batch_response__descriptor, &res);
        const Kubetee__Aecs__V1__SignBatchResponse *r = (const void *)res;
        for (size_t i = 0; !st && i < r->n_signatures && i < n; i++, rs->n_signatures++)
            st = kt_call_bytes(&rs->signatures[i], r->signatures[i].data, r->signatures[i].len);
        if (res) protobuf_c_message_free_unpacked(res, NULL);
        return st;
    }
    kt_bytes *msgs = kt_call_alloc((n + 1) * sizeof *msgs);
    kt_buf *sigs = kt_call_alloc((n + 1) * sizeof *sigs);
    if (!msgs || !sigs) return KT_ERR_NO_MEMORY;
    memset(sigs, 0, (n + 1) * sizeof *sigs);
    for (size_t i = 0; i < n; i++) msgs[i].p = rq->inputs[i].data, msgs[i].n = rq->inputs[i].len;
    char alg[KT_AECS_ALG_MAX] = "";
    kt_status st = kt_aecs_ta_sign_batch(ta, rq->service, rq->name, rq->version, msgs, n, sigs, &rs->version, alg);
    bool left = false; /* all or nothing: a refusal leaves every buffer empty */
    for (size_t i = 0; i < n; i++) left |= st && sigs[i].len;
    if (left) st = kt_fail(KT_ERR_STATE, "the refusal left signatures behind");
    for (size_t i = 0; i < n && !st; i++, rs->n_signatures++)
        st = kt_call_bytes(&rs->signatures[i], sigs[i].data, sigs[i].len);
    for (size_t i = 0; i < n; i++) kt_buf_free(&sigs[i]);
    if (!st) rs->algorithm = kt_call_strdup(alg);
    return st;
}
KT_TRUSTED_FUNCTION(SignBatch, "SignBatch", Tatest__BatchRequest, tatest__batch_request, Tatest__BatchResult,
                    tatest__batch_result)

/* What PEM_write fn makes of k, and whether it is the n bytes at given; into *out when set. */
static bool written_as(EVP_PKEY *k, int (*fn)(BIO *, EVP_PKEY *), const uint8_t *given, size_t n,
                       ProtobufCBinaryData *out)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *p = NULL;
    long m = b && fn(b, k) ? BIO_get_mem_data(b, &p) : 0;
    bool same = m > 0 && (size_t)m == n && !memcmp(p, given, n);
    if (out && m > 0 && kt_call_bytes(out, p, (size_t)m)) same = false;
    BIO_free(b);
    return same;
}

static int pkcs1_pem(BIO *b, EVP_PKEY *k)
{
    return PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
}

static int pkcs8_pem(BIO *b, EVP_PKEY *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int public_pem(BIO *b, EVP_PKEY *k)
{
    return PEM_write_bio_PUBKEY(b, k);
}

static kt_status KeyForm(const Tatest__GetRequest *rq, Tatest__KeyForm *rs)
{
    kt_aecs_secret *s = NULL;
    kt_status st = kt_aecs_ta_get(ta, rq->service, rq->name, rq->version, &s);
    if (st) return st;
    rs->version = s->version;
    const uint8_t *nl = memchr(s->data, '\n', s->len);
    rs->first_line = kt_call_alloc(nl ? (size_t)(nl - s->data) + 1 : 1);
    if (!rs->first_line) st = KT_ERR_NO_MEMORY;
    else {
        if (nl) memcpy(rs->first_line, s->data, (size_t)(nl - s->data));
        rs->first_line[nl ? nl - s->data : 0] = 0;
    }
    BIO *b = BIO_new_mem_buf(s->data, (int)s->len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    if (k && !st) {
        rs->rsa = EVP_PKEY_is_a(k, "RSA");
        rs->bits = (uint32_t)EVP_PKEY_get_bits(k);
        rs->pkcs1 = written_as(k, pkcs1_pem, s->data, s->len, NULL);
        rs->pkcs8 = written_as(k, pkcs8_pem, s->data, s->len, NULL);
        (void)written_as(k, public_pem, NULL, 0, &rs->public_pem);
        if (!rs->public_pem.len) st = kt_fail(KT_ERR_CRYPTO, "the public half of %s did not write", rq->name);
    }
    EVP_PKEY_free(k);
    BIO_free(b);
    kt_aecs_secret_free(s);
    return st;
}
KT_TRUSTED_FUNCTION(KeyForm, "KeyForm", Tatest__GetRequest, tatest__get_request, Tatest__KeyForm, tatest__key_form)
