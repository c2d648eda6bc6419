/* The TA platform policy (docs/aecs.md "TA platform policy"): which platforms a TA's quote
 * may come from. An AECS admin sets it (at init or with aecs.SetTaPlatform); it is sealed
 * in aecs/state and handed to the enclave service's gate (kt_service_accept_any_enclave),
 * never taken from the host. Until it is set no TA is served. Who a TA is stays for each
 * secret's rules. */
#include "aecs.h"

#include <stdio.h>
#include <string.h>

/* The policy in force as a message in call memory (NULL when none is set). */
kt_status ae_platform_to_msg(Kubetee__Aecs__V1__TaPlatformPolicy **out)
{
    *out = NULL;
    if (!ae.has_ta_platform) return KT_OK;
    const kt_platform_policy *p = &ae.ta_platform;
    Kubetee__Aecs__V1__TaPlatformPolicy *m = kt_call_alloc(sizeof *m);
    if (!m) return KT_ERR_NO_MEMORY;
    kubetee__aecs__v1__ta_platform_policy__init(m);
    m->allow_simulation = p->allow_simulation;
    m->allow_debug = p->allow_debug;
    kt_status st = p->allow_simulation ? kt_call_bytes(&m->simulation_root, p->simulation_root, 32) : KT_OK;
    uint32_t bits = p->tcb_statuses ? p->tcb_statuses : KT_TCB_BIT(KT_TCB_UP_TO_DATE);
    m->tcb_statuses = kt_call_alloc((KT_TCB_REVOKED + 2) * sizeof *m->tcb_statuses);
    if (!m->tcb_statuses) return KT_ERR_NO_MEMORY;
    for (int s = 0; s <= KT_TCB_REVOKED; s++)
        if (bits & KT_TCB_BIT(s)) m->tcb_statuses[m->n_tcb_statuses++] = (char *)kt_tcb_status_name((kt_tcb_status)s);
    *out = m;
    return st;
}

/* Hands the policy in force to the service's gate (none: no TA is served). */
kt_status ae_platform_apply(void)
{
    return kt_service_accept_any_enclave(ae.has_ta_platform ? &ae.ta_platform : NULL);
}

/* A short description for the audit line's target. */
static void describe(const kt_platform_policy *p, bool has, char *out, size_t n)
{
    if (!has) {
        snprintf(out, n, "none");
        return;
    }
    char root[17] = "";
    if (p->allow_simulation) kt_hex_encode(p->simulation_root, 8, root, sizeof root);
    snprintf(out, n, "simulation=%s%s,debug=%s,tcb=0x%x", p->allow_simulation ? "root:" : "no", root,
             p->allow_debug ? "yes" : "no", p->tcb_statuses ? p->tcb_statuses : KT_TCB_BIT(KT_TCB_UP_TO_DATE));
}

kt_status ae_ta_only(const ae_caller *c)
{
    kt_status st = ae_ready();
    if (st) return st;
    if (c->key)
        return kt_fail(KT_ERR_DENIED, "a secret goes only to an enclave proven by its quote; a key caller (an admin) "
                                      "manages secrets and never reads them");
    if (c->peer.tee != KT_TEE_SGX) return kt_fail(KT_ERR_DENIED, "only SGX enclaves get secrets");
    /* the session passed the policy in force at its handshake; one changed since then
     * applies to it too, as far as the session's proof says */
    const kt_platform_policy *p = &ae.ta_platform;
    uint32_t bits = p->tcb_statuses ? p->tcb_statuses : KT_TCB_BIT(KT_TCB_UP_TO_DATE);
    if (!ae.has_ta_platform) return kt_fail(KT_ERR_DENIED, "no TA platform policy is set: no TA is served");
    if (c->peer.simulated && !p->allow_simulation)
        return kt_fail(KT_ERR_DENIED, "the TA's quote is simulated, and the TA platform policy does not allow simulation");
    if ((c->peer.enclave.attr_flags & 2) && !p->allow_debug)
        return kt_fail(KT_ERR_DENIED, "the TA is a debug enclave, and the TA platform policy does not allow debug");
    if (!(bits & KT_TCB_BIT(c->peer.tcb_status)))
        return kt_fail(KT_ERR_DENIED, "the TA's TCB status %s is not accepted by the TA platform policy",
                       kt_tcb_status_name(c->peer.tcb_status));
    return KT_OK;
}

static kt_status SetTaPlatform(const Kubetee__Aecs__V1__SetTaPlatformRequest *rq, Kubetee__Aecs__V1__Done *rs)
{
    (void)rs;
    ae_caller c;
    kt_status st = ae_caller_get(&c);
    if (st) return st;
    pthread_mutex_lock(&ae_lock);
    kt_platform_policy p = {0}, old = ae.ta_platform;
    bool had = ae.has_ta_platform;
    char target[96] = "";
    if (!(st = ae_admin_only(&c)) && rq->policy) st = ae_platform_from_msg(rq->policy, &p);
    if (!st) {
        ae.ta_platform = p;
        ae.has_ta_platform = rq->policy != NULL;
        describe(&p, ae.has_ta_platform, target, sizeof target);
        if ((st = ae_state_save()) || (st = ae_platform_apply())) { /* not sealed: not in force */
            ae.ta_platform = old;
            ae.has_ta_platform = had;
            ae_platform_apply();
        }
    }
    ae_audit(&c, "SetTaPlatform", target, st);
    if (!st) ae_state_save();
    pthread_mutex_unlock(&ae_lock);
    return st;
}
KT_REMOTE_FUNCTION(SetTaPlatform, "aecs.SetTaPlatform", Kubetee__Aecs__V1__SetTaPlatformRequest,
                   kubetee__aecs__v1__set_ta_platform_request, Kubetee__Aecs__V1__Done, kubetee__aecs__v1__done)
