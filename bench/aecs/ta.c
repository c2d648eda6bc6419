/* bench/aecs's TA: one AECS session per slot (one per host thread), opened once, then
 * one aecs.GetSecret per bench.Get ECALL over it. Its policy for AECS pins the AECS
 * enclave's signer and the bench's simulation root (bench/aecs/pins.h, made at build time).
 *   bench.Connect  Msg{id: slot, name: AECS address}
 *   bench.Get      Msg{id: slot, name: "service/secret"} -> Msg{id: the secret's length}
 *   bench.Sign     Msg{id: slot, name: "service/secret", payload: message} -> Msg{id: the
 *                  signature's length}: aecs.Sign with a never-export key
 *   bench.SignBatch Msg{id: slot, name: "service/secret", payload: n 32-byte messages} ->
 *                  Msg{id: how many 64-byte signatures came back}: one aecs.SignBatch
 *   bench.Close    Msg{id: slot} */
#include <kubetee/aecs.h>
#include <kubetee/trusted.h>
#include "aecs_bench_pins.h"
#include "bench.pb-c.h"

#include <string.h>

#define SLOTS 4

static const char aecs_policy[] = "{\"allow_simulation\":true,\"simulation_root\":\"" AECS_SIM_ROOT
                                  "\",\"rules\":[{\"mrsigner\":\"" AECS_MRSIGNER "\",\"isvprodid\":100}]}";
static kt_aecs_ta *slots[SLOTS];

static kt_status slot_of(const Bench__Msg *m)
{
    return m->id < SLOTS ? KT_OK : kt_fail(KT_ERR_INVALID_ARGUMENT, "slot %llu is not 0..3", (unsigned long long)m->id);
}

static kt_status connect(const Bench__Msg *req, Bench__Msg *res)
{
    (void)res;
    kt_policy *p = NULL;
    kt_status st = slot_of(req);
    if (!st && slots[req->id]) st = kt_fail(KT_ERR_STATE, "slot %llu is connected", (unsigned long long)req->id);
    if (!st) st = kt_policy_parse(aecs_policy, strlen(aecs_policy), &p);
    if (!st) st = kt_aecs_ta_connect(req->name, p, &slots[req->id]);
    kt_policy_free(p);
    return st;
}
KT_TRUSTED_FUNCTION(connect, "bench.Connect", Bench__Msg, bench__msg, Bench__Msg, bench__msg)

/* A connected slot and "service/secret": the service into service, the secret's name out. */
static kt_status target_of(const Bench__Msg *req, char service[65], const char **name)
{
    const char *slash = req->name ? strchr(req->name, '/') : NULL;
    kt_status st = slot_of(req);
    if (!st && (!slots[req->id] || !slash || (size_t)(slash - req->name) >= 65))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "a connected slot and service/name");
    if (st) return st;
    memcpy(service, req->name, (size_t)(slash - req->name));
    service[slash - req->name] = '\0';
    *name = slash + 1;
    return KT_OK;
}

static kt_status get(const Bench__Msg *req, Bench__Msg *res)
{
    char service[65];
    const char *name;
    kt_status st = target_of(req, service, &name);
    if (st) return st;
    kt_aecs_secret *s = NULL;
    if (!(st = kt_aecs_ta_get(slots[req->id], service, name, 0, &s))) res->id = s->len;
    kt_aecs_secret_free(s);
    return st;
}
KT_TRUSTED_FUNCTION(get, "bench.Get", Bench__Msg, bench__msg, Bench__Msg, bench__msg)

static kt_status sign(const Bench__Msg *req, Bench__Msg *res)
{
    char service[65];
    const char *name;
    kt_buf sig = {0};
    kt_status st = target_of(req, service, &name);
    if (!st) st = kt_aecs_ta_use(slots[req->id], "Sign", service, name, 0, req->payload.data, req->payload.len, NULL, 0,
                                 &sig, NULL, NULL);
    res->id = sig.len;
    kt_buf_free(&sig);
    return st;
}
KT_TRUSTED_FUNCTION(sign, "bench.Sign", Bench__Msg, bench__msg, Bench__Msg, bench__msg)

static kt_status sign_batch(const Bench__Msg *req, Bench__Msg *res)
{
    char service[65];
    const char *name;
    kt_bytes msgs[KT_AECS_SIGN_BATCH_MAX];
    kt_buf sigs[KT_AECS_SIGN_BATCH_MAX] = {{0}};
    size_t n = req->payload.len / 32;
    kt_status st = target_of(req, service, &name);
    if (!st && (n == 0 || n > KT_AECS_SIGN_BATCH_MAX || req->payload.len % 32))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "a batch is 1..%d 32-byte messages", KT_AECS_SIGN_BATCH_MAX);
    for (size_t i = 0; i < n && !st; i++) msgs[i].p = req->payload.data + 32 * i, msgs[i].n = 32;
    if (!st) st = kt_aecs_ta_sign_batch(slots[req->id], service, name, 0, msgs, n, sigs, NULL, NULL);
    res->id = 0;
    for (size_t i = 0; i < n && !st; i++) res->id += sigs[i].len == 64;
    for (size_t i = 0; i < n; i++) kt_buf_free(&sigs[i]);
    return st;
}
KT_TRUSTED_FUNCTION(sign_batch, "bench.SignBatch", Bench__Msg, bench__msg, Bench__Msg, bench__msg)

static kt_status close_slot(const Bench__Msg *req, Bench__Msg *res)
{
    (void)res;
    kt_status st = slot_of(req);
    if (st) return st;
    st = kt_aecs_ta_close(slots[req->id]);
    slots[req->id] = NULL;
    return st;
}
KT_TRUSTED_FUNCTION(close_slot, "bench.Close", Bench__Msg, bench__msg, Bench__Msg, bench__msg)
