/* Checking a TA platform policy message (platform_check.h). */
#include "platform_check.h"

#include <string.h>

kt_status ae_platform_from_msg(const Kubetee__Aecs__V1__TaPlatformPolicy *m, kt_platform_policy *out)
{
    memset(out, 0, sizeof *out);
    out->allow_simulation = m->allow_simulation;
    out->allow_debug = m->allow_debug;
    if (m->simulation_root.len && m->simulation_root.len != 32)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA platform policy: simulation_root is a SHA-256 (32 bytes), not %zu bytes",
                       m->simulation_root.len);
    if (m->simulation_root.len) memcpy(out->simulation_root, m->simulation_root.data, 32);
    for (size_t i = 0; i < m->n_tcb_statuses; i++) {
        kt_tcb_status s;
        char shown[64];
        const char *name = m->tcb_statuses[i];
        if (kt_tcb_status_parse(name, &s))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA platform policy: '%s' is not a TCB status",
                           kt_escape(name, strlen(name), shown, sizeof shown));
        if (out->tcb_statuses & KT_TCB_BIT(s))
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "TA platform policy: TCB status %s is listed twice", kt_tcb_status_name(s));
        out->tcb_statuses |= KT_TCB_BIT(s);
    }
    kt_policy *p = NULL;
    kt_status st = kt_policy_from_platform(out, &p);
    kt_policy_free(p);
    return st ? kt_fail_context(KT_ERR_INVALID_ARGUMENT, "TA platform policy") : KT_OK;
}
