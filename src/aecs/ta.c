/* The AECS client inside a trusted application (include/kubetee/aecs.h, the KT_TRUSTED
 * section): kt_service_client's enclave build carries the session (the host relays it
 * with kt.service.Relay), this enclave's quote proves it to AECS, and the AECS enclave's
 * quote must pass the policy the TA gives. Secrets come back into enclave memory only;
 * every copy made on the way is wiped. */
#include <kubetee/aecs.h>
#include <kubetee/service.h>
#include <kubetee/trusted.h>
#include "aecs.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kt_aecs_ta {
    kt_service_client *c; /* NULL after a reconnect that failed */
    char *target;
    kt_policy *aecs; /* the caller's policy, copied: a reconnect verifies AECS by it again */
    bool pinned;
    uint8_t instance[64];
    unsigned reconnects;
};

static kt_status quote(void *ctx, const uint8_t rd[64], kt_buf *out)
{
    (void)ctx;
    return kt_quote_create(rd, out);
}

/* AECS must prove the pinned instance over this session (Status with a fresh nonce)
 * before anything else is sent. */
static kt_status prove_instance(kt_aecs_ta *ta)
{
    Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    uint8_t nonce[32], id[KT_SERVICE_ID_LEN];
    ProtobufCMessage *m = NULL;
    rq.nonce.data = nonce;
    rq.nonce.len = sizeof nonce;
    kt_status st = kt_random(nonce, sizeof nonce);
    if (!st) st = kt_service_client_session_id(ta->c, id);
    if (!st) st = kt_service_client_call(ta->c, "aecs.Status", &rq.base, &kubetee__aecs__v1__status_response__descriptor, &m);
    const Kubetee__Aecs__V1__StatusResponse *r = (const void *)m;
    if (!st)
        st = kt_aecs_instance_check(ta->instance, r->instance_public.data, r->instance_public.len, id, nonce,
                                    sizeof nonce, r->instance_proof.data, r->instance_proof.len);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", kt_last_error());
        return kt_fail(st, "aecs ta: the pinned instance: %s", why);
    }
    return KT_OK;
}

/* A new session to AECS: its quote verified against ta->aecs, then the pin proved. */
static kt_status session_open(kt_aecs_ta *ta)
{
    /* now 0: the host's clock when AECS's quote is verified; collateral from the host,
     * its anchor judged by the policy */
    kt_service_client_config cfg = {.quote = quote, .timeout_ms = 30000};
    cfg.peer.policy = ta->aecs;
    kt_status st = kt_service_client_connect(ta->target, &cfg, &ta->c);
    if (st) {
        ta->c = NULL;
        return kt_fail_context(st, "aecs ta");
    }
    if (ta->pinned && (st = prove_instance(ta))) {
        char why[512];
        snprintf(why, sizeof why, "%s", kt_last_error());
        kt_service_client_close(ta->c);
        kt_service_client_free(ta->c);
        ta->c = NULL;
        return kt_fail(st, "%s", why);
    }
    return KT_OK;
}

static kt_status ta_open(const char *target, const kt_policy *aecs, const uint8_t *instance, kt_aecs_ta **out)
{
    if (!target || !aecs || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: target, policy and out are required");
    *out = NULL;
    kt_aecs_ta *ta = calloc(1, sizeof *ta);
    if (!ta || !(ta->target = strdup(target))) {
        free(ta);
        return kt_fail(KT_ERR_NO_MEMORY, "aecs ta: out of memory");
    }
    if (instance) memcpy(ta->instance, instance, 64), ta->pinned = true;
    kt_status st = kt_policy_copy(aecs, &ta->aecs);
    if (!st) st = session_open(ta);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", kt_last_error());
        kt_aecs_ta_close(ta);
        return kt_fail(st, "%s", why);
    }
    *out = ta;
    return KT_OK;
}

kt_status kt_aecs_ta_connect(const char *target, const kt_policy *aecs, kt_aecs_ta **out)
{
    return ta_open(target, aecs, NULL, out);
}

kt_status kt_aecs_ta_connect_pinned(const char *target, const kt_policy *aecs, const uint8_t instance[64],
                                    kt_aecs_ta **out)
{
    if (!instance) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: the instance pin is required");
    return ta_open(target, aecs, instance, out);
}

unsigned kt_aecs_ta_reconnects(const kt_aecs_ta *ta)
{
    return ta ? ta->reconnects : 0;
}

/* AECS ended the session (expired: its attestation's validity, or AECS's maximum session
 * age or idle time, docs/aecs.md "TA sessions") and said so in the session: a CallResult
 * of its own, sealed (KT_SERVICE_ENDED_EXPIRED), so the request did not run. Only then is
 * it sent again, once, in a new session. What the host says (a transport error, whatever
 * its words) never makes a request go twice: the call fails, and the next call starts a
 * new session. */
static bool ended_by_aecs(const kt_aecs_ta *ta, kt_status st)
{
    return st == KT_ERR_CANCELLED && kt_service_client_usable(ta->c) && strstr(kt_last_error(), KT_SERVICE_ENDED_EXPIRED);
}

/* The part of a reason that says it: from mark on, or all of it. */
static const char *gist(const char *s, const char *mark)
{
    const char *at = NULL;
    for (const char *p = s; (p = strstr(p, mark)); p++) at = p;
    return at ? at : s;
}

/* A new session in place of one AECS ended (why: its words) or one that failed. */
static kt_status reconnect(kt_aecs_ta *ta, const char *why)
{
    kt_service_client_free(ta->c); /* ended or broken: no close to send */
    ta->c = NULL;
    kt_status st = session_open(ta);
    if (st) {
        char again[320];
        snprintf(again, sizeof again, "%s", gist(kt_last_error(), "service: "));
        return kt_fail(st, "aecs ta: %s; reconnecting failed: %s", why, again);
    }
    ta->reconnects++;
    return KT_OK;
}

kt_status kt_aecs_ta_call(kt_aecs_ta *ta, const char *op, const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *res_type, ProtobufCMessage **res)
{
    if (!ta || !op || !req || !res_type || !res) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: NULL argument");
    char fn[96];
    if (strlen(op) > sizeof fn - 6) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: an operation name is at most %zu bytes", sizeof fn - 6);
    strcpy(fn, "aecs.");
    strcat(fn, op);
    kt_status st;
    /* no session (a reconnect failed), or one a step broke (the host's doing): a new one
     * before this request, which nothing has sent yet */
    if (!kt_service_client_usable(ta->c) &&
        (st = reconnect(ta, ta->c ? "the session broke on an earlier call" : "an earlier reconnect failed")))
        return st;
    st = kt_service_client_call(ta->c, fn, req, res_type, res);
    if (st && ended_by_aecs(ta, st)) {
        char why[300];
        snprintf(why, sizeof why, "AECS ended the session (%s)", gist(kt_last_error(), KT_SERVICE_ENDED_EXPIRED));
        if ((st = reconnect(ta, why))) return st;
        st = kt_service_client_call(ta->c, fn, req, res_type, res);
    }
    return st;
}

/* A GetSecretResponse's data as a kt_aecs_secret; the response's copy is wiped. */
static kt_status take_secret(ProtobufCMessage *m, kt_aecs_secret **out)
{
    Kubetee__Aecs__V1__GetSecretResponse *r = (Kubetee__Aecs__V1__GetSecretResponse *)m;
    kt_status st = KT_OK;
    kt_aecs_secret *s = out ? calloc(1, sizeof *s) : NULL;
    if (out && (!s || (r->data.len && !(s->data = malloc(r->data.len))))) {
        free(s);
        s = NULL;
        st = kt_fail(KT_ERR_NO_MEMORY, "aecs ta: out of memory");
    }
    if (s) {
        if (r->data.len) memcpy(s->data, r->data.data, r->data.len);
        s->len = r->data.len;
        s->version = r->version;
        const ProtobufCEnumValue *t =
            r->info ? protobuf_c_enum_descriptor_get_value(&kubetee__aecs__v1__secret_type__descriptor, r->info->type) : NULL;
        s->type = t ? t->name : "SECRET_TYPE_UNSPECIFIED";
        *out = s;
    }
    kt_wipe(r->data.data, r->data.len);
    protobuf_c_message_free_unpacked(m, NULL);
    return st;
}

kt_status kt_aecs_ta_get(kt_aecs_ta *ta, const char *service, const char *name, uint64_t version,
                         kt_aecs_secret **out)
{
    if (!service || !name || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: service, name and out are required");
    *out = NULL;
    Kubetee__Aecs__V1__GetSecretRequest rq = KUBETEE__AECS__V1__GET_SECRET_REQUEST__INIT;
    rq.service = (char *)service;
    rq.name = (char *)name;
    rq.version = version;
    ProtobufCMessage *res = NULL;
    kt_status st = kt_aecs_ta_call(ta, "GetSecret", &rq.base, &kubetee__aecs__v1__get_secret_response__descriptor, &res);
    return st ? st : take_secret(res, out);
}

static kt_status binding(kt_aecs_bind bind, Kubetee__Aecs__V1__TaBinding *out)
{
    if (bind == KT_AECS_BIND_MRENCLAVE) *out = KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRENCLAVE;
    else if (bind == KT_AECS_BIND_MRSIGNER) *out = KUBETEE__AECS__V1__TA_BINDING__TA_BINDING_MRSIGNER;
    else return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: bind is KT_AECS_BIND_MRENCLAVE or KT_AECS_BIND_MRSIGNER");
    return KT_OK;
}

kt_status kt_aecs_ta_create(kt_aecs_ta *ta, const kt_aecs_ta_spec *spec, kt_aecs_secret **out)
{
    if (out) *out = NULL;
    if (!spec || !spec->name || !spec->type || (spec->len && !spec->data))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: a spec with a name and a type is required");
    Kubetee__Aecs__V1__TaCreateSecretRequest rq = KUBETEE__AECS__V1__TA_CREATE_SECRET_REQUEST__INIT;
    kt_status st = binding(spec->bind, &rq.binding);
    if (st) return st;
    const ProtobufCEnumValue *t =
        protobuf_c_enum_descriptor_get_value_by_name(&kubetee__aecs__v1__secret_type__descriptor, spec->type);
    if (!t || !t->value) {
        char shown[64];
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: '%s' is not a secret type (SECRET_TYPE_AES256_KEY, ...)",
                       kt_escape(spec->type, strlen(spec->type), shown, sizeof shown));
    }
    rq.type = (Kubetee__Aecs__V1__SecretType)t->value;
    rq.name = (char *)spec->name;
    rq.data.data = (uint8_t *)spec->data;
    rq.data.len = spec->len;
    size_t n = 0;
    while (spec->params && spec->params[2 * n]) {
        if (!spec->params[2 * n + 1])
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: param %s has no value", spec->params[2 * n]);
        if (++n > 64) return kt_fail(KT_ERR_TOO_LARGE, "aecs ta: more than 64 params");
    }
    Kubetee__Aecs__V1__Param p[64], *pp[64];
    for (size_t i = 0; i < n; i++) {
        kubetee__aecs__v1__param__init(&p[i]);
        p[i].key = (char *)spec->params[2 * i];
        p[i].value = (char *)spec->params[2 * i + 1];
        pp[i] = &p[i];
    }
    rq.params = pp;
    rq.n_params = n;
    ProtobufCMessage *res = NULL;
    st = kt_aecs_ta_call(ta, "TaCreateSecret", &rq.base, &kubetee__aecs__v1__get_secret_response__descriptor, &res);
    return st ? st : take_secret(res, out);
}

kt_status kt_aecs_ta_get_own(kt_aecs_ta *ta, kt_aecs_bind bind, const char *name, uint64_t version,
                             kt_aecs_secret **out)
{
    if (!name || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: name and out are required");
    *out = NULL;
    Kubetee__Aecs__V1__TaSecretRequest rq = KUBETEE__AECS__V1__TA_SECRET_REQUEST__INIT;
    kt_status st = binding(bind, &rq.binding);
    if (st) return st;
    rq.name = (char *)name;
    rq.version = version;
    ProtobufCMessage *res = NULL;
    st = kt_aecs_ta_call(ta, "TaGetSecret", &rq.base, &kubetee__aecs__v1__get_secret_response__descriptor, &res);
    return st ? st : take_secret(res, out);
}

kt_status kt_aecs_ta_destroy(kt_aecs_ta *ta, kt_aecs_bind bind, const char *name)
{
    if (!name) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: name is required");
    Kubetee__Aecs__V1__TaSecretRequest rq = KUBETEE__AECS__V1__TA_SECRET_REQUEST__INIT;
    kt_status st = binding(bind, &rq.binding);
    if (st) return st;
    rq.name = (char *)name;
    ProtobufCMessage *res = NULL;
    st = kt_aecs_ta_call(ta, "TaDestroySecret", &rq.base, &kubetee__aecs__v1__done__descriptor, &res);
    if (res) protobuf_c_message_free_unpacked(res, NULL);
    return st;
}

kt_status kt_aecs_ta_peer(const kt_aecs_ta *ta, kt_report_body *aecs)
{
    if (!ta || !aecs) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: NULL argument");
    if (!ta->c) return kt_fail(KT_ERR_STATE, "aecs ta: no session (the last reconnect failed)");
    kt_session_peer_info p;
    kt_status st = kt_service_client_peer(ta->c, &p);
    if (!st) *aecs = p.enclave;
    return st;
}

kt_status kt_aecs_ta_close(kt_aecs_ta *ta)
{
    if (!ta) return KT_OK;
    kt_status st = ta->c ? kt_service_client_close(ta->c) : KT_OK;
    kt_service_client_free(ta->c);
    kt_policy_free(ta->aecs);
    free(ta->target);
    kt_wipe(ta, sizeof *ta);
    free(ta);
    return st;
}

void kt_aecs_secret_free(kt_aecs_secret *s)
{
    if (!s) return;
    kt_wipe(s->data, s->len);
    free(s->data);
    free(s);
}

kt_status kt_aecs_ta_use(kt_aecs_ta *ta, const char *op, const char *service, const char *name, uint64_t version,
                         const uint8_t *in, size_t n, const uint8_t *aad, size_t aad_n, kt_buf *out, uint64_t *used,
                         char alg[KT_AECS_ALG_MAX])
{
    static const char *const ops[] = {"Sign", "Encrypt", "Decrypt", "Wrap", "Unwrap"};
    size_t i = 0;
    while (i < 5 && op && strcmp(op, ops[i])) i++;
    if (!ta || i == 5 || !service || !name || !out || (n && !in) || (aad_n && !aad))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: use takes Sign, Encrypt, Decrypt, Wrap or Unwrap, a secret "
                                                "and out");
    Kubetee__Aecs__V1__KeyOpRequest rq = KUBETEE__AECS__V1__KEY_OP_REQUEST__INIT;
    rq.service = (char *)service;
    rq.name = (char *)name;
    rq.version = version;
    rq.input.data = (uint8_t *)in, rq.input.len = n;
    rq.aad.data = (uint8_t *)aad, rq.aad.len = aad_n;
    ProtobufCMessage *res = NULL;
    kt_status st = kt_aecs_ta_call(ta, op, &rq.base, &kubetee__aecs__v1__key_op_response__descriptor, &res);
    if (st) return st;
    Kubetee__Aecs__V1__KeyOpResponse *r = (Kubetee__Aecs__V1__KeyOpResponse *)res;
    st = kt_buf_append(out, r->output.data, r->output.len);
    if (used) *used = r->version;
    if (alg) snprintf(alg, KT_AECS_ALG_MAX, "%s", r->algorithm);
    if (r->output.len) kt_wipe(r->output.data, r->output.len); /* a decrypted or unwrapped key */
    protobuf_c_message_free_unpacked(res, NULL);
    return st;
}

/* The bounds before anything is sent: 1..KT_AECS_SIGN_BATCH_MAX messages, at most
 * KT_AECS_SIGN_BATCH_BYTES together, as many empty signature buffers. */
static kt_status batch_check(const kt_bytes *msgs, size_t n, const kt_buf *sigs)
{
    if (n == 0 || n > KT_AECS_SIGN_BATCH_MAX)
        return kt_fail(n ? KT_ERR_TOO_LARGE : KT_ERR_INVALID_ARGUMENT, "aecs ta: a sign batch is 1..%d messages, not %zu",
                       KT_AECS_SIGN_BATCH_MAX, n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].n && !msgs[i].p) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: sign batch message %zu is NULL", i);
        if (sigs[i].len) return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: sign batch signature buffer %zu is not empty", i);
        if (msgs[i].n > KT_AECS_SIGN_BATCH_BYTES - total)
            return kt_fail(KT_ERR_TOO_LARGE, "aecs ta: a sign batch's messages are at most %d bytes together",
                           KT_AECS_SIGN_BATCH_BYTES);
        total += msgs[i].n;
    }
    return KT_OK;
}

kt_status kt_aecs_ta_sign_batch(kt_aecs_ta *ta, const char *service, const char *name, uint64_t version,
                                const kt_bytes *msgs, size_t n, kt_buf *sigs, uint64_t *used,
                                char alg[KT_AECS_ALG_MAX])
{
    if (!ta || !service || !name || !msgs || !sigs)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs ta: a sign batch takes a secret, its messages and as many "
                                                "signature buffers");
    kt_status st = batch_check(msgs, n, sigs);
    if (st) return st;
    ProtobufCBinaryData in[KT_AECS_SIGN_BATCH_MAX];
    for (size_t i = 0; i < n; i++) in[i].data = (uint8_t *)msgs[i].p, in[i].len = msgs[i].n;
    Kubetee__Aecs__V1__SignBatchRequest rq = KUBETEE__AECS__V1__SIGN_BATCH_REQUEST__INIT;
    rq.service = (char *)service;
    rq.name = (char *)name;
    rq.version = version;
    rq.inputs = in;
    rq.n_inputs = n;
    ProtobufCMessage *res = NULL;
    if ((st = kt_aecs_ta_call(ta, "SignBatch", &rq.base, &kubetee__aecs__v1__sign_batch_response__descriptor, &res)))
        return st;
    const Kubetee__Aecs__V1__SignBatchResponse *r = (const void *)res;
    if (r->n_signatures != n)
        st = kt_fail(KT_ERR_MALFORMED, "aecs ta: AECS answered %zu signatures for %zu messages", r->n_signatures, n);
    for (size_t i = 0; i < n && !st; i++) st = kt_buf_append(&sigs[i], r->signatures[i].data, r->signatures[i].len);
    if (st)
        for (size_t i = 0; i < n; i++) kt_buf_free(&sigs[i]); /* all or nothing */
    if (!st && used) *used = r->version;
    if (!st && alg) snprintf(alg, KT_AECS_ALG_MAX, "%s", r->algorithm);
    protobuf_c_message_free_unpacked(res, NULL);
    return st;
}
