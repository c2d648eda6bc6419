/* The peer's quote, judged in a plain process against the rule's collateral. */
#include "internal.h"

bool ks_quote_verifier_available(void)
{
    return true;
}

kt_status ks_quote_check(const kt_session_peer_rule *rule, const uint8_t *quote, size_t n,
                         time_t now, kt_session_peer_info *info)
{
    if (!rule->collateral)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "session: a peer rule with a policy needs collateral");
    return ks_quote_judge(rule, rule->collateral, quote, n, now, info);
}
