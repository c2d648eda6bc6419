/* aecsadmin tasigners: the TA signer allow-list (docs/aecs.md "TA signers"), shown with
 * what each entry's TAs hold, or set:
 *   aecsadmin tasigners [--json]
 *   aecsadmin tasigners --allow mrsigner=HEX[,prodid=N],secrets=N,bytes=N [--allow ...] | --none */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "aecsadmin"

/* One --allow value: key=value pairs, each key once, the bad one named. */
static int parse_entry(const char *spec, Kubetee__Aecs__V1__TaSigner *m, uint8_t raw[32])
{
    char text[256], shown[96];
    if (strlen(spec) >= sizeof text)
        return fprintf(stderr, T ": --allow '%s' is too long\n", kt_escape(spec, strlen(spec), shown, sizeof shown)), 2;
    strcpy(text, spec);
    bool have_signer = false, have_secrets = false, have_bytes = false, have_prod = false;
    for (char *save = NULL, *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        uint64_t n;
        if (!eq) return fprintf(stderr, T ": --allow: '%s' is not key=value\n", kt_escape(kv, strlen(kv), shown, sizeof shown)), 2;
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        bool *seen = !strcmp(k, "mrsigner") ? &have_signer : !strcmp(k, "secrets") ? &have_secrets
                   : !strcmp(k, "bytes")    ? &have_bytes
                   : !strcmp(k, "prodid")   ? &have_prod
                                            : NULL;
        if (!seen)
            return fprintf(stderr, T ": --allow: no key '%s' (mrsigner, prodid, secrets, bytes)\n",
                           kt_escape(k, strlen(k), shown, sizeof shown)), 2;
        if (*seen) return fprintf(stderr, T ": --allow: %s is given twice\n", k), 2;
        *seen = true;
        if (!strcmp(k, "mrsigner")) {
            if (strlen(v) != 64 || kt_hex_decode(v, raw, 32))
                return fprintf(stderr, T ": --allow: mrsigner is 64 hex digits (kubetee dump prints it)\n"), 2;
            m->mrsigner.data = raw;
            m->mrsigner.len = 32;
            continue;
        }
        uint64_t max = !strcmp(k, "prodid") ? 65535 : !strcmp(k, "secrets") ? UINT32_MAX : UINT64_MAX / 2;
        if (kt_decimal_parse(v, max, &n))
            return fprintf(stderr, T ": --allow: %s is a number up to %llu, not '%s'\n", k, (unsigned long long)max,
                           kt_escape(v, strlen(v), shown, sizeof shown)), 2;
        if (!strcmp(k, "prodid")) m->prod_id = (uint32_t)n, m->check_prod_id = true;
        else if (!strcmp(k, "secrets")) m->max_secrets = (uint32_t)n;
        else m->max_bytes = n;
    }
    if (!have_signer || !have_secrets || !have_bytes)
        return fprintf(stderr, T ": --allow needs mrsigner=, secrets= and bytes= (prodid= is optional: without it every "
                               "product of the signer)\n"), 2;
    return 0;
}

static int set(const tool_args *a, bool none)
{
    static Kubetee__Aecs__V1__TaSigner entries[64];
    static Kubetee__Aecs__V1__TaSigner *ptrs[64];
    static uint8_t raws[64][32];
    Kubetee__Aecs__V1__SetTaSignersRequest rq = KUBETEE__AECS__V1__SET_TA_SIGNERS_REQUEST__INIT;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], "allow")) continue;
        if (none) return fprintf(stderr, T ": tasigners takes --allow entries or --none, not both\n"), 2;
        kubetee__aecs__v1__ta_signer__init(&entries[rq.n_signers]);
        if (parse_entry(a->values[i], &entries[rq.n_signers], raws[rq.n_signers])) return 2;
        ptrs[rq.n_signers] = &entries[rq.n_signers];
        rq.n_signers++;
    }
    rq.signers = ptrs;
    return tool_run(a, T, "SetTaSigners", &rq.base, &kubetee__aecs__v1__done__descriptor);
}

static int show(const tool_args *a)
{
    Kubetee__Aecs__V1__ListTaSignersRequest rq = KUBETEE__AECS__V1__LIST_TA_SIGNERS_REQUEST__INIT;
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    kt_status st = kt_aecs_call(c, "ListTaSigners", &rq.base, &kubetee__aecs__v1__list_ta_signers_response__descriptor, &res);
    kt_aecs_client_free(c);
    if (st) return tool_fail(T, "ListTaSigners");
    const Kubetee__Aecs__V1__ListTaSignersResponse *r = (const void *)res;
    if (a->json) printf("{\"signers\":[");
    else if (!r->n_signers) printf("no TA signer is allowed: no TA creates TA-bound secrets\n");
    for (size_t i = 0; i < r->n_signers; i++) {
        const Kubetee__Aecs__V1__TaSignerUsage *u = r->signers[i];
        char hex[65] = "?", prod[16] = "";
        if (u->signer && u->signer->mrsigner.len == 32) kt_hex_encode(u->signer->mrsigner.data, 32, hex, sizeof hex);
        if (u->signer && u->signer->check_prod_id) snprintf(prod, sizeof prod, "%u", (unsigned)u->signer->prod_id);
        uint32_t ms = u->signer ? u->signer->max_secrets : 0;
        unsigned long long mb = u->signer ? (unsigned long long)u->signer->max_bytes : 0;
        if (a->json)
            printf("%s{\"mrsigner\":\"%s\",%s%s%s\"maxSecrets\":%u,\"maxBytes\":%llu,\"secrets\":%u,\"bytes\":%llu}",
                   i ? "," : "", hex, prod[0] ? "\"prodId\":" : "", prod, prod[0] ? "," : "", ms, mb, u->secrets,
                   (unsigned long long)u->bytes);
        else
            printf("signer %s product %s: %u of %u secrets, %llu of %llu bytes\n", hex, prod[0] ? prod : "any",
                   u->secrets, ms, (unsigned long long)u->bytes, mb);
    }
    if (a->json) printf("],\"unattributed\":%u}\n", r->unattributed);
    else if (r->unattributed)
        printf("%u TA-bound secrets count against no entry (made before the list, or by a signer no longer on it)\n",
               r->unattributed);
    protobuf_c_message_free_unpacked(res, NULL);
    return 0;
}

int aecsadmin_tasigners(const tool_args *a)
{
    bool none = tool_flag(a, "none") != NULL, allow = tool_flag(a, "allow") != NULL;
    return none || allow ? set(a, none) : show(a);
}
