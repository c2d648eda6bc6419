/* aecs/state: the admins, the TA platform policy, the TA signer allow-list, the audit
 * checkpoint, the instance key, the recovery set and the clock's floor, sealed like every
 * object. */
#include "aecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ae_freeze(const char *fmt, ...)
{
    if (ae.frozen) return; /* the first reason stays: it is what the next start settles */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ae.frozen_why, sizeof ae.frozen_why, fmt, ap);
    va_end(ap);
    ae.frozen = true;
    kt_log(KT_LOG_ERROR, "aecs.writes_stopped", "reason", ae.frozen_why, NULL);
}

kt_status ae_writable(const char *what)
{
    if (!ae.frozen) return KT_OK;
    return kt_fail(KT_ERR_STATE,
                   "%s: %s; nothing is written until AECS starts again (aecsadmin status: writes_stopped)",
                   what, ae.frozen_why);
}

kt_status ae_state_save(void)
{
    Kubetee__Aecs__V1__StoredState s = KUBETEE__AECS__V1__STORED_STATE__INIT;
    ae_pubkey keys[AE_MAX_ADMINS], *ptrs[AE_MAX_ADMINS];
    for (size_t i = 0; i < ae.n_admins; i++) {
        kubetee__aecs__v1__public_key__init(&keys[i]);
        keys[i].type = ae.admin_type[i];
        keys[i].raw.data = ae.admin_raw[i];
        keys[i].raw.len = 64;
        ptrs[i] = &keys[i];
    }
    s.admins = ptrs;
    s.n_admins = ae.n_admins;
    s.audit_seq = ae.audit_seq;
    s.audit_hash.data = ae.audit_hash;
    s.audit_hash.len = 32;
    Kubetee__Aecs__V1__TaPlatformPolicy tp = KUBETEE__AECS__V1__TA_PLATFORM_POLICY__INIT;
    char *names[KT_TCB_REVOKED + 1];
    if (ae.has_ta_platform) {
        tp.allow_simulation = ae.ta_platform.allow_simulation;
        tp.allow_debug = ae.ta_platform.allow_debug;
        if (tp.allow_simulation) {
            tp.simulation_root.data = ae.ta_platform.simulation_root;
            tp.simulation_root.len = 32;
        }
        for (int t = 0; t <= KT_TCB_REVOKED; t++)
            if (ae.ta_platform.tcb_statuses & KT_TCB_BIT(t)) names[tp.n_tcb_statuses++] = (char *)kt_tcb_status_name((kt_tcb_status)t);
        tp.tcb_statuses = names;
        s.ta_platform = &tp;
    }
    Kubetee__Aecs__V1__RecoverySet rec = KUBETEE__AECS__V1__RECOVERY_SET__INIT;
    ae_pubkey rkeys[KT_RECOVERY_MAX_KEYS], *rptrs[KT_RECOVERY_MAX_KEYS];
    if (ae.recovery.n) {
        ae_recovery_fill(&ae.recovery, &rec, rkeys, rptrs);
        s.recovery = &rec;
    }
    Kubetee__Aecs__V1__TaSigner signers[AE_MAX_TA_SIGNERS], *signer_ptrs[AE_MAX_TA_SIGNERS];
    ae_signers_to_state(&s, signers, signer_ptrs);
    s.time_floor = ae_clock_floor(); /* every checkpoint moves it on */
    kt_buf b = {0}, pem = {0};
    uint64_t v;
    kt_status st = ae_instance_pem(&pem);
    s.instance_key.data = pem.data;
    s.instance_key.len = pem.len;
    if (!st) st = ae_pack(&s.base, &b);
    /* a checkpoint whose answer was lost but that applied is the version to write after */
    if (!st) st = ae_obj_settle("aecs/state", &ae.state_version);
    if (!st) st = ae_obj_put("aecs/state", b.data, b.len, ae.state_version, &v);
    if (!st) ae.state_version = v;
    kt_wipe(pem.data, pem.len);
    kt_buf_free(&pem);
    kt_wipe(b.data, b.len);
    kt_buf_free(&b);
    return st;
}

kt_status ae_state_load(void)
{
    kt_buf b = {0};
    uint64_t v;
    kt_status st = ae_obj_get("aecs/state", &b, &v);
    if (st) return st;
    Kubetee__Aecs__V1__StoredState *s = kubetee__aecs__v1__stored_state__unpack(NULL, b.len, b.data);
    kt_buf_free(&b);
    if (!s || s->n_admins == 0 || s->n_admins > AE_MAX_ADMINS || s->audit_hash.len != 32) {
        if (s) kubetee__aecs__v1__stored_state__free_unpacked(s, NULL);
        return kt_fail(KT_ERR_VERIFY, "aecs/state opens but does not decode");
    }
    for (size_t i = 0; i < s->n_admins; i++) {
        if (s->admins[i]->raw.len != 64) st = kt_fail(KT_ERR_VERIFY, "aecs/state: admin %zu is no key", i);
        ae.admin_type[i] = (uint8_t)s->admins[i]->type;
        if (!st) memcpy(ae.admin_raw[i], s->admins[i]->raw.data, 64);
    }
    kt_platform_policy tp = {0};
    if (!st && s->ta_platform && ae_platform_from_msg(s->ta_platform, &tp))
        st = kt_fail_context(KT_ERR_VERIFY, "aecs/state: the TA platform policy");
    ae.has_ta_platform = !st && s->ta_platform;
    ae.ta_platform = tp;
    ae.n_ta_signers = 0; /* none (a store from before the list): no TA creates TA-bound secrets */
    if (!st) st = ae_signers_load(s);
    if (!st) ae_clock_set_floor(s->time_floor);
    if (!st) st = ae_platform_apply();
    if (!st) st = ae_instance_load(s->instance_key.data, s->instance_key.len);
    ae_recovery rec = {0};
    if (!st && s->recovery && ae_recovery_parse(s->recovery, true, &rec))
        st = kt_fail_context(KT_ERR_VERIFY, "aecs/state: the recovery set");
    ae.recovery = rec;
    kt_wipe(s->instance_key.data, s->instance_key.len);
    ae.n_admins = s->n_admins;
    ae.audit_seq = s->audit_seq;
    memcpy(ae.audit_hash, s->audit_hash.data, 32);
    ae.state_version = v;
    kubetee__aecs__v1__stored_state__free_unpacked(s, NULL);
    return st;
}

bool ae_is_admin(const ae_caller *c)
{
    if (!c->key) return false;
    for (size_t i = 0; i < ae.n_admins; i++)
        if (ae.admin_type[i] == c->key_type && kt_equal(ae.admin_raw[i], c->raw, 64)) return true;
    return false;
}

void ae_forget(void)
{
    kt_wipe(ae.master, sizeof ae.master);
    kt_wipe(ae.master_old, sizeof ae.master_old);
    ae.key_gen = 0;
    ae.rotating = false;
    kt_wipe(ae.rotation_root, sizeof ae.rotation_root);
    ae.rotation_chunks = 0;
    ae.master_set_version = 0;
    ae.frozen = false;
    ae.frozen_why[0] = '\0';
    ae.key_set_version = 0;
    memset(ae.key_set_digest, 0, sizeof ae.key_set_digest);
    ae_instance_clear();
    ae.n_admins = 0;
    ae.state_version = 0;
    ae.has_ta_platform = false;
    ae.n_ta_signers = 0;
    memset(&ae.recovery, 0, sizeof ae.recovery);
    ae_platform_apply();
}
