/* Fuzz target: every message the AECS enclave decodes from outside (fuzz_aecs_requests.h):
 * the request of each remote function and host ECALL, through the call gate the enclave's
 * remote functions run behind (kt_dispatch: the message limit of aecs.conf, the types,
 * the unpack), and the answer of each OCALL the host gives back. The first byte picks
 * the function, the rest is the message. What decodes packs again and decodes to the same
 * bytes; the enclave's checks of names and specs (names.c), which run before anything is
 * looked up, refuse or pass it without a crash, and what they pass is a name that is one
 * store-key segment. The other checks of these messages' contents have targets of their
 * own: fuzz_aecs_signers (SetTaSigners), fuzz_aecs_platform (SetTaPlatform and Init's
 * policy), fuzz_aecs_recovery (Restore's shares, SetRecovery's proposal and consents),
 * fuzz_aecs_floor (AcceptClock's proposal), fuzz_aecs_configurations (CreateSecret's
 * configurations), fuzz_aecs_audit (Start's audit tail), fuzz_aecs_sealed (what the store
 * answers hold). */
#include "aecs.h"
#include "fuzz_aecs_requests.h"
#include "fuzz_gate.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (1u << 20) /* services/aecs/enclave/aecs.conf: max_message_size */

/* Whether m or a message in it kept fields its type does not know. */
static bool has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields) return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue; /* another member of its oneof is set */
        const char *at = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;
            for (size_t j = 0; j < n; j++)
                if (has_unknown(v[j])) return true;
        } else if (*(ProtobufCMessage *const *)at && has_unknown(*(ProtobufCMessage *const *)at)) {
            return true;
        }
    }
    return false;
}

/* What decodes packs to bytes that decode and pack to the same bytes again. Not checked
 * when unknown fields were kept: protobuf-c takes field number 0 in a non-minimal tag
 * (80 00) as an unknown field and packs it as 00, which it then refuses; the enclave
 * reads no unknown field, so that changes nothing it does. */
static void stable(const ProtobufCMessage *m)
{
    if (has_unknown(m)) return;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n + 1), *b = NULL;
    if (!a || protobuf_c_message_pack(m, a) != n) abort();
    ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
    if (!again || protobuf_c_message_get_packed_size(again) != n || !(b = malloc(n + 1)) ||
        protobuf_c_message_pack(again, b) != n || memcmp(a, b, n))
        abort();
    protobuf_c_message_free_unpacked(again, NULL);
    free(a);
    free(b);
}

/* A service and a secret name the checks pass are one store-key segment each. */
static void one_segment(const char *name)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.' || strlen(name) > AE_SECRET_NAME_MAX)
        abort();
}

static void names(const char *service, const char *name)
{
    bool s_ok = ae_name_check(service, AE_SERVICE_NAME_MAX, "service name") == KT_OK;
    bool n_ok = ae_name_check(name, AE_SECRET_NAME_MAX, "secret name") == KT_OK;
    if (s_ok) one_segment(service);
    if (n_ok) one_segment(name);
}

/* A string field of m by its name, NULL when m's type has none. */
static const char *string_field(const ProtobufCMessage *m, const char *field)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)((const char *)m + f->offset);
}

static kt_status check(const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    (void)rs;
    stable(rq);
    const ProtobufCMessageDescriptor *d = rq->descriptor;
    if (d == &kubetee__aecs__v1__create_secret_request__descriptor) {
        const Kubetee__Aecs__V1__CreateSecretRequest *c = (const void *)rq;
        if (ae_spec_check(c->spec, 16384, c->data.len) == KT_OK) {
            one_segment(c->spec->service);
            one_segment(c->spec->name);
            if (c->data.len > 16384 || c->spec->n_policy > 64) abort();
            for (size_t i = 0; i < c->spec->n_policy; i++) {
                const Kubetee__Aecs__V1__Rule *r = c->spec->policy[i];
                if (!r->mrenclave.len && !r->mrsigner.len && !r->any_enclave)
                    abort(); /* pins no one */
            }
        }
    } else if (d == &kubetee__aecs__v1__register_service_request__descriptor) {
        const Kubetee__Aecs__V1__RegisterServiceRequest *r = (const void *)rq;
        if (ae_service_name_new(r->name) == KT_OK) one_segment(r->name);
    } else {
        /* every other request that names a secret: its service (a TA's: "ta") and name */
        const char *service = string_field(rq, "service"), *name = string_field(rq, "name");
        if (d == &kubetee__aecs__v1__ta_create_secret_request__descriptor ||
            d == &kubetee__aecs__v1__ta_secret_request__descriptor)
            service = "ta";
        if (service || name) names(service ? service : "s", name ? name : "x");
    }
    return KT_OK;
}

static kt_function fns[AECS_FN_COUNT];
static kt_fntab tab = KT_FNTAB_INIT;

static void init(void)
{
    if (atomic_load(&tab.count)) return;
    for (size_t i = 0; i < AECS_FN_COUNT; i++) {
        const aecs_fn *a = &aecs_fns[i];
        fns[i] = (kt_function){a->name,
                               a->request,
                               a->response,
                               check,
                               a->request->sizeof_message,
                               a->response->sizeof_message,
                               NULL};
        if (a->kind != AECS_OCALL && kt_fntab_add(&tab, &fns[i])) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    init();
    if (n < 1) return 0;
    const aecs_fn *f = &aecs_fns[data[0] % AECS_FN_COUNT];
    if (f->kind == AECS_OCALL) { /* the host's answer, as the enclave's kt_ocall takes it */
        ProtobufCMessage *m = calloc(1, f->response->sizeof_message);
        if (!m) abort();
        protobuf_c_message_init(f->response, m);
        if (kt_unpack_response(data + 1, n - 1, m, NULL) == KT_OK) {
            stable(m);
            kt_message_clear(m);
        }
        free(m);
        return 0;
    }
    uint8_t *res = NULL;
    size_t res_len = 0;
    const fuzz_gate g = {.max_message = MAX_MESSAGE, .copy_in = false};
    kt_status st = fuzz_dispatch(&tab, &fns[f - aecs_fns], &g, data + 1, n - 1, &res, &res_len);
    if (st == KT_OK)
        fuzz_gate_free(&g, res);
    else if (st != KT_ERR_GATE_BAD_MESSAGE && st != KT_ERR_GATE_TOO_LARGE)
        abort(); /* only the gate refuses */
    return 0;
}
