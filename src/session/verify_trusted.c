/* Inside an enclave the attestation verifier is not linked yet (collateral JSON and
 * policy YAML readers are not in the trusted runtime): a session there accepts peers
 * with registered keys only, and says so when a rule asks for more. */
#include "internal.h"

bool ks_quote_verifier_available(void)
{
    return false;
}

kt_status ks_quote_check(const kt_session_peer_rule *rule, const uint8_t *quote, size_t n,
                         time_t now, kt_session_peer_info *info)
{
    (void)rule, (void)quote, (void)n, (void)now, (void)info;
    return kt_fail(KT_ERR_UNSUPPORTED,
                   "session: quote verification is not available inside an enclave yet");
}
