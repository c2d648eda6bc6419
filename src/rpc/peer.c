/* Who is calling: under mutual TLS, the client's certificate as gRPC verified it against
 * the server's client CA, read back as its subject and issuer names, for services that
 * pin a client by both (a name alone could be issued by any CA in the bundle). */
#include "internal.h"
#include <kubetee/crypto.h>

#include <grpc/grpc_security.h>
#include <string.h>

kt_status kt_rpc_peer_names(char *subject, size_t scap, char *issuer, size_t icap)
{
    if (!subject || !issuer || scap < 2 || icap < 2)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "peer names: bad argument");
    subject[0] = issuer[0] = '\0';
    grpc_call *call = kt_rpc_current_call();
    if (!call) return kt_fail(KT_ERR_STATE, "peer names: no call is being served on this thread");
    grpc_auth_context *ctx = grpc_call_auth_context(call);
    if (!ctx) return kt_fail(KT_ERR_NOT_FOUND, "the call came without TLS");
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_PEM_CERT_PROPERTY_NAME);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    kt_status st;
    if (!p || !p->value || p->value_length == 0) {
        st = kt_fail(KT_ERR_NOT_FOUND, "the call came without a client certificate");
    } else {
        kt_cert *c = NULL;
        st = kt_cert_from_pem(p->value, p->value_length, &c);
        if (!st) st = kt_cert_subject(c, subject, scap);
        if (!st && strlen(subject) >= scap - 1)
            st = kt_fail(KT_ERR_TOO_LARGE, "the client certificate's subject is too long");
        if (!st) st = kt_cert_issuer(c, issuer, icap);
        kt_cert_free(c);
    }
    grpc_auth_context_release(ctx);
    if (st) subject[0] = issuer[0] = '\0';
    return st;
}
