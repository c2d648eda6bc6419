/* hello, the untrusted half: load the signed enclave, call it, serve its OCALL. */
#include <kubetee/attest.h>
#include <kubetee/tff.h>
#include "hello.pb-c.h"
#include "tff.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static kt_status now(const Hello__TimeRequest *req, Hello__TimeReply *res)
{
    (void)req;
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    res->utc = kt_call_strdup(buf);
    return res->utc ? KT_OK : KT_ERR_NO_MEMORY;
}
KT_UNTRUSTED_FUNCTION(now, "Now", Hello__TimeRequest, hello__time_request, Hello__TimeReply,
                      hello__time_reply)

static int die(const char *what, kt_status st)
{
    fprintf(stderr, "hello: %s: %s (%s)\n", what, kt_last_error(), kt_status_name(st));
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "hello.signed.so";
    const char *name = argc > 2 ? argv[2] : "world";
    const char *quote_out = argc > 3 ? argv[3] : NULL;
    kt_log_set_level(KT_LOG_WARN);
    kt_enclave *e;
    kt_status st = kt_attest_serve_quotes(NULL); /* the simulated QE, for the enclave's quote */
    if (st) return die("starting the quoting enclave", st);
    st = kt_enclave_create(path, NULL, &e);
    if (st) return die("loading the enclave", st);

    const kt_enclave_identity *id = kt_enclave_identity_of(e);
    char mre[65], mrs[65];
    kt_hex_encode(id->mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(id->mrsigner, 32, mrs, sizeof mrs);
    printf("enclave     %s (platform: sim, simulated: nothing is protected from this host)\n",
           path);
    printf("MRENCLAVE   %s\nMRSIGNER    %s\n", mre, mrs);

    Hello__Request req = HELLO__REQUEST__INIT;
    Hello__Reply res = HELLO__REPLY__INIT;
    req.name = (char *)name;
    if ((st = kt_enclave_call(e, "SayHello", &req, &res))) return die("SayHello", st);
    printf("SayHello    %s\n", res.greeting);
    kt_message_clear(&res);

    Hello__Secret secret = HELLO__SECRET__INIT, back = HELLO__SECRET__INIT;
    Hello__Sealed sealed = HELLO__SEALED__INIT;
    const char *text = "the launch code is 0000";
    secret.data.data = (uint8_t *)text;
    secret.data.len = strlen(text);
    if ((st = kt_enclave_call(e, "SealSecret", &secret, &sealed))) return die("SealSecret", st);
    if ((st = kt_enclave_call(e, "UnsealSecret", &sealed, &back))) return die("UnsealSecret", st);
    printf("seal        %zu bytes of secret -> %zu-byte sealed blob (MRENCLAVE policy)\n",
           secret.data.len, sealed.blob.len);
    printf("unseal      \"%.*s\" (%s)\n", (int)back.data.len, (const char *)back.data.data,
           back.data.len == secret.data.len && !memcmp(back.data.data, text, back.data.len)
               ? "round trip ok"
               : "MISMATCH");
    int rc = back.data.len == secret.data.len ? 0 : 1;
    kt_message_clear(&sealed);
    kt_message_clear(&back);

    Kubetee__Tff__Empty empty = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Identity ident = KUBETEE__TFF__IDENTITY__INIT;
    if ((st = kt_enclave_call(e, "kt.Identity", &empty, &ident))) return die("kt.Identity", st);
    char pub[129], hash_hex[65];
    uint8_t hash[32];
    kt_hex_encode(ident.public_key.data, ident.public_key.len, pub, sizeof pub);
    kt_sha256(ident.public_key.data, ident.public_key.len, hash);
    kt_hex_encode(hash, 32, hash_hex, sizeof hash_hex);
    printf("identity    P-256 %.32s... (sealed by the enclave, kept by the host)\n", pub);
    printf("key hash    %s\n", hash_hex);
    kt_message_clear(&ident);

    Hello__AttestRequest areq = HELLO__ATTEST_REQUEST__INIT;
    Hello__Attestation att = HELLO__ATTESTATION__INIT;
    if ((st = kt_enclave_call(e, "Attest", &areq, &att))) return die("Attest", st);
    printf("quote       %zu bytes, DCAP v3, report data = SHA-256(identity key)\n", att.quote.len);
    if (quote_out && (st = kt_file_write_atomic(quote_out, att.quote.data, att.quote.len, 0644)))
        return die("writing the quote", st);
    kt_message_clear(&att);
    kt_enclave_destroy(e);
    return rc;
}
