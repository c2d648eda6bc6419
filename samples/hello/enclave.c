/* hello, the trusted half: one greeting, one OCALL, a seal/unseal pair. */
#include <kubetee/trusted.h>
#include "hello.pb-c.h"

#include <stdio.h>
#include <string.h>

static kt_status say_hello(const Hello__Request *req, Hello__Reply *res)
{
    /* ask the host for the time: an OCALL by name, typed by its messages */
    Hello__TimeRequest treq = HELLO__TIME_REQUEST__INIT;
    Hello__TimeReply tres = HELLO__TIME_REPLY__INIT;
    kt_status st = kt_ocall("Now", &treq, &tres);
    if (st) return st;
    size_t n = strlen(req->name) + strlen(tres.utc) + 64;
    char *greeting = kt_call_alloc(n); /* call memory: freed after the reply is packed */
    if (!greeting) return KT_ERR_NO_MEMORY;
    snprintf(greeting, n, "Hello, %s! (from inside the enclave; the host says it is %s)", req->name,
             tres.utc);
    res->greeting = greeting;
    return KT_OK;
}
KT_TRUSTED_FUNCTION(say_hello, "SayHello", Hello__Request, hello__request, Hello__Reply,
                    hello__reply)

static kt_status seal_secret(const Hello__Secret *req, Hello__Sealed *res)
{
    kt_buf blob = {0};
    kt_status st = kt_seal(KT_SEAL_MRENCLAVE, NULL, 0, req->data.data, req->data.len, &blob);
    if (!st) st = kt_call_bytes(&res->blob, blob.data, blob.len);
    kt_buf_free(&blob);
    return st;
}
KT_TRUSTED_FUNCTION(seal_secret, "SealSecret", Hello__Secret, hello__secret, Hello__Sealed,
                    hello__sealed)

static kt_status unseal_secret(const Hello__Sealed *req, Hello__Secret *res)
{
    kt_buf plain = {0};
    kt_status st = kt_unseal(req->blob.data, req->blob.len, &plain, NULL);
    if (!st) st = kt_call_bytes(&res->data, plain.data, plain.len);
    kt_buf_free(&plain);
    return st;
}
KT_TRUSTED_FUNCTION(unseal_secret, "UnsealSecret", Hello__Sealed, hello__sealed, Hello__Secret,
                    hello__secret)

static kt_status attest(const Hello__AttestRequest *req, Hello__Attestation *res)
{
    (void)req;
    uint8_t pub[KT_P256_PUBLIC_LEN], report_data[KT_REPORT_DATA_LEN] = {0};
    kt_buf quote = {0};
    kt_status st = kt_identity_public(pub);
    if (!st) st = kt_sha256(pub, sizeof pub, report_data); /* binds the key; the rest stays zero */
    if (!st) st = kt_quote_create(report_data, &quote);
    if (!st) st = kt_call_bytes(&res->quote, quote.data, quote.len);
    kt_buf_free(&quote);
    return st;
}
KT_TRUSTED_FUNCTION(attest, "Attest", Hello__AttestRequest, hello__attest_request,
                    Hello__Attestation, hello__attestation)
