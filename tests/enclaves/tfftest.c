/* The TFF test enclave: one trusted function per behaviour the tests check. */
#include <kubetee/trusted.h>
#include "tfftest.pb-c.h"

#include <stdio.h>
#include <string.h>

#ifndef VARIANT
#define VARIANT 1
#endif

/* The host test defines a function of the same name: calls here must stay here. */
const char *kt_test_who(void);
const char *kt_test_who(void)
{
    return VARIANT == 1 ? "enclave" : "enclave-v2";
}

static kt_status echo(const Tfftest__Text *req, Tfftest__Text *res)
{
    size_t n = strlen(req->text) + 9;
    char *s = kt_call_alloc(n);
    if (!s) return KT_ERR_NO_MEMORY;
    snprintf(s, n, "enclave:%s", req->text);
    res->text = s;
    return KT_OK;
}
KT_TRUSTED_FUNCTION(echo, "Echo", Tfftest__Text, tfftest__text, Tfftest__Text, tfftest__text)

static kt_status who(const Tfftest__Empty *req, Tfftest__Text *res)
{
    (void)req;
    res->text = (char *)kt_test_who();
    return KT_OK;
}
KT_TRUSTED_FUNCTION(who, "WhoAmI", Tfftest__Empty, tfftest__empty, Tfftest__Text, tfftest__text)

static kt_status fail(const Tfftest__Number *req, Tfftest__Empty *res)
{
    (void)res;
    return (kt_status)req->value;
}
KT_TRUSTED_FUNCTION(fail, "Fail", Tfftest__Number, tfftest__number, Tfftest__Empty, tfftest__empty)

static kt_status add_via_host(const Tfftest__Number *req, Tfftest__Number *res)
{
    Tfftest__Number twice = TFFTEST__NUMBER__INIT;
    kt_status st = kt_ocall("HostTwice", req, &twice);
    res->value = twice.value + 1;
    return st;
}
KT_TRUSTED_FUNCTION(add_via_host, "AddViaHost", Tfftest__Number, tfftest__number, Tfftest__Number,
                    tfftest__number)

static kt_status block(const Tfftest__Empty *req, Tfftest__Empty *res)
{
    return kt_ocall("HostBlock", req, res);
}
KT_TRUSTED_FUNCTION(block, "Block", Tfftest__Empty, tfftest__empty, Tfftest__Empty, tfftest__empty)

static kt_status nested(const Tfftest__Text *req, Tfftest__Text *res)
{
    return kt_ocall("HostReenter", req, res);
}
KT_TRUSTED_FUNCTION(nested, "Nested", Tfftest__Text, tfftest__text, Tfftest__Text, tfftest__text)

static kt_status recurse(const Tfftest__Number *req, Tfftest__Number *res)
{
    Tfftest__Number next = TFFTEST__NUMBER__INIT;
    next.value = req->value + 1;
    return kt_ocall("HostRecurse", &next, res);
}
KT_TRUSTED_FUNCTION(recurse, "Recurse", Tfftest__Number, tfftest__number, Tfftest__Number,
                    tfftest__number)

static kt_status unknown_ocall(const Tfftest__Empty *req, Tfftest__Empty *res)
{
    return kt_ocall("NoSuchHostFunction", req, res);
}
KT_TRUSTED_FUNCTION(unknown_ocall, "UnknownOcall", Tfftest__Empty, tfftest__empty, Tfftest__Empty,
                    tfftest__empty)

static long counter;
static kt_status count(const Tfftest__Empty *req, Tfftest__Number *res)
{
    (void)req;
    res->value = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    return KT_OK;
}
KT_TRUSTED_FUNCTION(count, "Counter", Tfftest__Empty, tfftest__empty, Tfftest__Number,
                    tfftest__number)

static kt_status big(const Tfftest__Number *req, Tfftest__Bytes *res)
{
    if (req->value < 0 || req->value > (1 << 24)) return KT_ERR_INVALID_ARGUMENT;
    res->data.data = kt_call_alloc((size_t)req->value);
    if (!res->data.data) return KT_ERR_NO_MEMORY;
    memset(res->data.data, 'x', (size_t)req->value);
    res->data.len = (size_t)req->value;
    return KT_OK;
}
KT_TRUSTED_FUNCTION(big, "Big", Tfftest__Number, tfftest__number, Tfftest__Bytes, tfftest__bytes)

static kt_status seal(const Tfftest__SealRequest *req, Tfftest__Bytes *res)
{
    kt_buf blob = {0};
    kt_status st = kt_seal((kt_seal_policy)req->policy, req->aad.data, req->aad.len, req->data.data,
                           req->data.len, &blob);
    if (!st) st = kt_call_bytes(&res->data, blob.data, blob.len);
    kt_buf_free(&blob);
    return st;
}
KT_TRUSTED_FUNCTION(seal, "Seal", Tfftest__SealRequest, tfftest__seal_request, Tfftest__Bytes,
                    tfftest__bytes)

static kt_status unseal(const Tfftest__Bytes *req, Tfftest__SealRequest *res)
{
    kt_buf plain = {0}, aad = {0};
    kt_status st = kt_unseal(req->data.data, req->data.len, &plain, &aad);
    if (!st) st = kt_call_bytes(&res->data, plain.data, plain.len);
    if (!st) st = kt_call_bytes(&res->aad, aad.data, aad.len);
    kt_buf_free(&plain);
    kt_buf_free(&aad);
    return st;
}
KT_TRUSTED_FUNCTION(unseal, "Unseal", Tfftest__Bytes, tfftest__bytes, Tfftest__SealRequest,
                    tfftest__seal_request)

static kt_status target_info(const Tfftest__Empty *req, Tfftest__Bytes *res)
{
    (void)req;
    res->data.data = kt_call_alloc(KT_TARGET_INFO_LEN);
    res->data.len = KT_TARGET_INFO_LEN;
    return res->data.data ? kt_target_info(res->data.data) : KT_ERR_NO_MEMORY;
}
KT_TRUSTED_FUNCTION(target_info, "TargetInfo", Tfftest__Empty, tfftest__empty, Tfftest__Bytes,
                    tfftest__bytes)

/* Test only: a real enclave decides its own report_data (a key hash, a nonce it chose). */
static kt_status report(const Tfftest__ReportRequest *req, Tfftest__Bytes *res)
{
    if (req->report_data.len != KT_REPORT_DATA_LEN ||
        (req->target_info.len && req->target_info.len != KT_TARGET_INFO_LEN))
        return KT_ERR_INVALID_ARGUMENT;
    res->data.data = kt_call_alloc(KT_REPORT_LEN);
    res->data.len = KT_REPORT_LEN;
    if (!res->data.data) return KT_ERR_NO_MEMORY;
    return kt_report_create(req->target_info.len ? req->target_info.data : NULL,
                            req->report_data.data, res->data.data);
}
KT_TRUSTED_FUNCTION(report, "Report", Tfftest__ReportRequest, tfftest__report_request,
                    Tfftest__Bytes, tfftest__bytes)

static kt_status verify_report(const Tfftest__Bytes *req, Tfftest__ReportInfo *res)
{
    kt_report_body info;
    if (req->data.len != KT_REPORT_LEN) return KT_ERR_INVALID_ARGUMENT;
    kt_status st = kt_report_verify(req->data.data, &info);
    if (st) return st;
    res->prodid = info.prodid;
    res->svn = info.svn;
    res->debug = (info.attr_flags & 2) != 0;
    if ((st = kt_call_bytes(&res->mrenclave, info.mrenclave, 32)) ||
        (st = kt_call_bytes(&res->mrsigner, info.mrsigner, 32)))
        return st;
    return kt_call_bytes(&res->report_data, info.report_data, 64);
}
KT_TRUSTED_FUNCTION(verify_report, "VerifyReport", Tfftest__Bytes, tfftest__bytes,
                    Tfftest__ReportInfo, tfftest__report_info)

/* A quote whose report data binds this enclave's identity key: SHA-256 of the public key,
 * then zeros. A verifier that knows the key checks the binding through its policy. */
static kt_status quote_identity(const Tfftest__Empty *req, Tfftest__Bytes *res)
{
    (void)req;
    uint8_t pub[KT_P256_PUBLIC_LEN], rd[KT_REPORT_DATA_LEN] = {0};
    kt_buf q = {0};
    kt_status st = kt_identity_public(pub);
    if (!st) st = kt_sha256(pub, sizeof pub, rd);
    if (!st) st = kt_quote_create(rd, &q);
    if (!st) st = kt_call_bytes(&res->data, q.data, q.len);
    kt_buf_free(&q);
    return st;
}
KT_TRUSTED_FUNCTION(quote_identity, "QuoteIdentity", Tfftest__Empty, tfftest__empty, Tfftest__Bytes,
                    tfftest__bytes)
