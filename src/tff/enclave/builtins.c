/* Trusted functions every enclave has. Only what is safe for any host to ask: nothing
 * here signs or reports data the host chooses. */
#include "trts.h"
#include "tff.pb-c.h"

static kt_status identity(const Kubetee__Tff__Empty *req, Kubetee__Tff__Identity *res)
{
    (void)req;
    kt_report_body self;
    uint8_t *pub = kt_call_alloc(KT_P256_PUBLIC_LEN);
    kt_status st = pub ? kt_identity_public(pub) : KT_ERR_NO_MEMORY;
    if (!st) st = kt_self(&self);
    if (st) return st;
    res->public_key.data = pub;
    res->public_key.len = KT_P256_PUBLIC_LEN;
    res->prodid = self.prodid;
    res->svn = self.svn;
    res->debug = (self.attr_flags & 2) != 0;
    if ((st = kt_call_bytes(&res->mrenclave, self.mrenclave, 32))) return st;
    return kt_call_bytes(&res->mrsigner, self.mrsigner, 32);
}

static kt_status identity_adapter(const ProtobufCMessage *req, ProtobufCMessage *res)
{
    return identity((const Kubetee__Tff__Empty *)req, (Kubetee__Tff__Identity *)res);
}

static const kt_function builtins[] = {
    {"kt.Identity", &kubetee__tff__empty__descriptor, &kubetee__tff__identity__descriptor,
     identity_adapter, sizeof(Kubetee__Tff__Empty), sizeof(Kubetee__Tff__Identity)},
};

kt_status kt_trts_register_builtins(void)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        kt_status st = kt_trts_add_builtin(&builtins[i]);
        if (st) return st;
    }
    return KT_OK;
}
