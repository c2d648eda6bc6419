/* The signer's gRPC methods over a token, a configuration and the ISVSVN state. */
#ifndef KT_SIGNER_SERVICE_H
#define KT_SIGNER_SERVICE_H

#include "signer.h"
#include <kubetee/rpc.h>
#include <kubetee/tlog.h>
#include <stdatomic.h>

typedef struct {
    const sg_config *cfg;
    kt_p11 *token;
    kt_p11_key *keys[SG_MAX_KEYS]; /* cfg->keys[i] opened in the token */
    uint8_t modulus[SG_MAX_KEYS][KT_RSA3072_LEN], mrsigner[SG_MAX_KEYS][32];
    sg_state *state;
    kt_key *log_key; /* signs the log's head */
    kt_tlog *log;
    atomic_ulong outcomes[SG_OUTCOMES];
    atomic_ulong signed_by[SG_MAX_KEYS];
} sg_service;

/* Opens every configured key in the token (a missing or badly held key stops the start,
 * naming it), the state file and the transparency log (a log that does not verify stops
 * the start). */
kt_status sg_service_init(sg_service *s, const sg_config *cfg, kt_p11 *token);
void sg_service_free(sg_service *s);
/* The methods to register (2). */
size_t sg_service_methods(sg_service *s, kt_rpc_method *m);
void sg_service_metrics(sg_service *s, kt_buf *out);

#endif
