/* The peer's quote, judged inside an enclave: against the rule's collateral when it names
 * one, else against collateral the host hands over for this quote (kt.attest.Collateral).
 * Either way the policy is the enclave's own (compiled in, so measured) and decides the
 * trust anchor: Intel's root, or the simulation root it names; the host chooses neither. */
#include "internal.h"

bool ks_quote_verifier_available(void)
{
    return true;
}

kt_status ks_quote_check(const kt_session_peer_rule *rule, const uint8_t *quote, size_t n,
                         time_t now, kt_session_peer_info *info)
{
    kt_status st;
    /* no time given: the host's (an enclave has no clock; the verifier bounds it) */
    if (!now && (st = kt_attest_host_time(&now))) return kt_fail_context(st, "session");
    if (rule->collateral) return ks_quote_judge(rule, rule->collateral, quote, n, now, info);
    const kt_collateral *c = NULL;
    st = kt_collateral_for_quote(quote, n, &c);
    if (st) return kt_fail_context(st, "session: the peer's collateral");
    st = ks_quote_judge(rule, c, quote, n, now, info);
    kt_collateral_release(c);
    return st;
}
