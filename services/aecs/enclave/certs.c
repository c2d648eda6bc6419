/* Certificates AECS makes (SECRET_TYPE_CERTIFICATE without data): self-signed, or issued
 * by the service's own CA. The CA is one sealed object, ca/<service> (its key and
 * certificate), made at the service's first CA-issued certificate; its key never leaves
 * AECS and signs only certificates of secrets of that service, as the store key is in
 * the object's AAD (docs/aecs.md "Certificates and the service CA"). */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

#define CA_DAYS 3650

static kt_status serial_new(uint64_t *serial)
{
    kt_status st = kt_random(serial, sizeof *serial);
    *serial = (*serial >> 1) | 1; /* 1..2^63-1 */
    return st;
}

static kt_status ca_make(const char *service, const char *key, kt_cert **cert, kt_key **ca_key)
{
    char subject[AE_SERVICE_NAME_MAX + 40];
    uint64_t serial, v;
    snprintf(subject, sizeof subject, "CN=%s service CA,O=AECS", service);
    kt_buf kp = {0}, cp = {0}, packed = {0};
    Kubetee__Aecs__V1__StoredCa ca = KUBETEE__AECS__V1__STORED_CA__INIT;
    kt_status st = ae_now(&ca.created); /* the validity starts at the host's time, checked (clock.c) */
    if (!st) st = kt_key_generate(KT_KEY_P256, ca_key);
    if (!st) st = serial_new(&serial);
    if (!st) st = kt_cert_make_at(NULL, NULL, *ca_key, subject, NULL, serial, ca.created, CA_DAYS, true, cert);
    if (!st) st = kt_key_to_pem(*ca_key, true, &kp);
    if (!st) st = kt_cert_to_pem(*cert, &cp);
    ca.key_pem.data = kp.data, ca.key_pem.len = kp.len;
    ca.cert_pem.data = cp.data, ca.cert_pem.len = cp.len;
    if (!st) st = ae_pack(&ca.base, &packed);
    if (!st) st = ae_obj_put(key, packed.data, packed.len, 0, &v);
    if (!st) kt_log(KT_LOG_INFO, "aecs.service_ca_made", "service", service, NULL);
    kt_buf_free(&kp);
    kt_buf_free(&cp);
    kt_buf_free(&packed);
    return st;
}

/* The service's CA, made when it has none (under ae_lock, like every write). */
static kt_status ca_get(const char *service, kt_cert **cert, kt_key **ca_key)
{
    char key[KT_STORE_KEY_MAX + 1];
    snprintf(key, sizeof key, "ca/%s", service);
    kt_buf b = {0};
    uint64_t v;
    kt_status st = ae_obj_get(key, &b, &v);
    if (st == KT_ERR_NOT_FOUND) return ca_make(service, key, cert, ca_key);
    Kubetee__Aecs__V1__StoredCa *ca = st ? NULL : ae_unpack(&kubetee__aecs__v1__stored_ca__descriptor, &b);
    kt_buf_free(&b);
    if (st) return st;
    if (!ca) return kt_fail(KT_ERR_VERIFY, "%s opens but does not decode", key);
    st = kt_key_from_pem((const char *)ca->key_pem.data, ca->key_pem.len, ca_key);
    if (!st) st = kt_cert_from_pem((const char *)ca->cert_pem.data, ca->cert_pem.len, cert);
    return st ? kt_fail_context(KT_ERR_VERIFY, "%s", key) : KT_OK;
}

kt_status ae_ca_remove(const char *service)
{
    char key[KT_STORE_KEY_MAX + 1];
    snprintf(key, sizeof key, "ca/%s", service);
    kt_buf b = {0};
    uint64_t v;
    kt_status st = ae_obj_get(key, &b, &v);
    kt_buf_free(&b);
    if (st == KT_ERR_NOT_FOUND) return KT_OK;
    return st ? st : ae_obj_delete(key, v);
}

kt_status ae_certificate(const ae_spec *s, const uint8_t *prev, size_t prev_n, kt_buf *out)
{
    const char *days_s = ae_param(s, "days", "365"), *issuer = ae_param(s, "issuer", "self-signed");
    const char *san = ae_param(s, "san", "");
    char subject[300];
    uint64_t days, serial;
    if (kt_decimal_parse(days_s, 3650, &days) || days == 0)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: days must be 1..3650", s->name);
    bool by_ca = !strcmp(issuer, "service-ca");
    if (!by_ca && strcmp(issuer, "self-signed"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "secret %s: issuer must be self-signed or service-ca", s->name);
    snprintf(subject, sizeof subject, "%s", ae_param(s, "subject", ""));
    if (!subject[0]) snprintf(subject, sizeof subject, "CN=%s", s->name);
    kt_key *k = NULL, *ca_key = NULL;
    kt_cert *c = NULL, *ca = NULL;
    int64_t now;
    kt_status st = ae_now(&now); /* notBefore: the host's time, checked (clock.c) */
    if (st) return kt_fail_context(st, "secret %s", s->name);
    /* a renewal keeps the key the version before it holds */
    st = prev ? kt_key_from_pem((const char *)prev, prev_n, &k) : kt_key_generate(KT_KEY_P256, &k);
    if (st && prev) st = kt_fail_context(KT_ERR_VERIFY, "secret %s: the key of the version renewed", s->name);
    if (!st && by_ca) st = ca_get(s->service, &ca, &ca_key);
    if (!st) st = serial_new(&serial);
    if (!st) st = kt_cert_make_at(ca, ca_key, k, subject, san, serial, now, (int)days, false, &c);
    if (st) st = kt_fail_context(st, "secret %s", s->name);
    if (!st) st = kt_cert_to_pem(c, out);
    if (!st && ca) st = kt_cert_to_pem(ca, out);
    if (!st) st = kt_key_to_pem(k, true, out);
    kt_cert_free(c);
    kt_cert_free(ca);
    kt_key_free(k);
    kt_key_free(ca_key);
    return st;
}
