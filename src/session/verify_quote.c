/* The peer's quote judged against a peer rule, in a plain process and in an enclave
 * alike: the collateral's anchor against the policy first (cheap: a hash compared), then
 * the attestation verifier, then the policy. The same code as `kubetee attest verify`. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

kt_status ks_quote_judge(const kt_session_peer_rule *rule, const kt_collateral *c,
                         const uint8_t *quote, size_t n, time_t now, kt_session_peer_info *info)
{
    kt_status st = kt_policy_check_root(rule->policy, c);
    if (st) return kt_fail_context(st, "session: the peer's collateral is refused");
    kt_verdict *v = calloc(1, sizeof *v);
    if (!v) return kt_fail(KT_ERR_NO_MEMORY, "session: verdict");
    st = kt_quote_verify(quote, n, c, now, v);
    if (!st && !v->ok)
        st = kt_fail(v->status ? v->status : KT_ERR_VERIFY, "session: the peer's quote does not verify: %s",
                     v->reason);
    if (!st) { /* verified: what it proves, the policy's refusal or not */
        memset(info, 0, sizeof *info);
        info->proof = KT_SESSION_PROOF_QUOTE;
        info->tee = v->quote.tee;
        info->enclave = v->quote.sgx;
        info->simulated = v->simulated;
        info->tcb_status = v->tcb_status;
        info->valid_until = v->valid_until;
    }
    if (!st && (st = kt_policy_check(rule->policy, v)))
        st = kt_fail_context(st, "session: the peer does not match the policy");
    free(v);
    return st;
}
