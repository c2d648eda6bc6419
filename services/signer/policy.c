/* A key's policy against a request: the client must be one the key serves, the prodid
 * one it signs, and a debug enclave only for a key that allows debug (never a production
 * key). ISVSVN is the state's to judge (state.c), last, since it records. */
#include "signer.h"

const char *const sg_outcome_names[SG_OUTCOMES] = {
    [SG_OK] = "signed",
    [SG_REFUSED_CLIENT] = "unknown_client",
    [SG_REFUSED_KEY] = "key_not_allowed",
    [SG_REFUSED_REQUEST] = "not_signing_data",
    [SG_REFUSED_PRODID] = "prodid_not_allowed",
    [SG_REFUSED_DEBUG] = "debug_not_allowed",
    [SG_REFUSED_SVN] = "svn_backwards",
    [SG_AWAITING] = "awaiting_approval",
    [SG_REFUSED_BUILD] = "build_mismatch",
    [SG_FAILED_TOKEN] = "token_failed",
};

sg_outcome sg_policy_check(const sg_config *c, int client, const sg_key *key,
                           const kt_sigdata_info *req)
{
    if (client < 0 || (size_t)client >= c->nclients) {
        kt_fail(KT_ERR_DENIED, "the client certificate is not one the signer knows");
        return SG_REFUSED_CLIENT;
    }
    if (!key || !(key->clients & (1ull << client))) {
        kt_fail(KT_ERR_DENIED, "that key is not one client '%s' may use",
                c->clients[client].name);
        return SG_REFUSED_KEY;
    }
    if (!req) return SG_OK;
    size_t i = 0;
    while (i < key->nprodids && key->prodids[i] != req->prodid)
        i++;
    if (i == key->nprodids) {
        kt_fail(KT_ERR_DENIED, "key '%s' does not sign ISVPRODID %u", key->name,
                (unsigned)req->prodid);
        return SG_REFUSED_PRODID;
    }
    if (req->debug && (key->production || !key->debug)) {
        kt_fail(KT_ERR_DENIED, "key '%s' does not sign debug enclaves%s", key->name,
                key->production ? " (it is a production key)" : "");
        return SG_REFUSED_DEBUG;
    }
    return SG_OK;
}
