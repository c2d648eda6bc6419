/* The signer's gRPC methods over a token, a configuration and the ISVSVN state. */
#ifndef KT_SIGNER_SERVICE_H
#define KT_SIGNER_SERVICE_H

#include "signer.h"
#include <kubetee/rpc.h>
#include <kubetee/tlog.h>
#include <stdatomic.h>

/* Approvals given for one key and MRENCLAVE, until a signature uses them up or they
 * expire (SG_APPROVAL_TTL seconds after the first). */
#define SG_MAX_PENDING 1024
#define SG_APPROVAL_TTL 3600
typedef struct {
    bool used, claimed; /* claimed: a Sign is using them right now */
    size_t key;
    uint8_t mrenclave[32];
    uint64_t by; /* bit i: clients[i] approved */
    uint64_t since;
} sg_approval;

/* The approvals (approvals.c), kept in a file across restarts. */
typedef struct sg_approvals sg_approvals;
kt_status sg_approvals_open(const sg_config *cfg, const char *path, sg_approvals **out);
void sg_approvals_free(sg_approvals *s);
/* client approves (key, mre): written to the file before KT_OK; *have: approvals now. */
kt_status sg_approvals_add(sg_approvals *s, size_t key, const uint8_t mre[32], int client, unsigned *have);
/* Claims M approvals of others than the requester for a signature, taking them out of the
 * file first: KT_OK with the approvers in *by (0 when the key needs none), KT_ERR_STATE
 * saying how many so far, or KT_ERR_UNAVAILABLE when the file cannot be written. */
kt_status sg_approvals_claim(sg_approvals *s, const sg_key *k, size_t key, int requester, const uint8_t mre[32],
                             uint64_t *by);
/* After the signature (used): gone; after a failure: given back, into the file again. */
void sg_approvals_release(sg_approvals *s, const sg_key *k, size_t key, const uint8_t mre[32], bool used);
/* The live approvals, at most cap. */
size_t sg_approvals_list(sg_approvals *s, sg_approval *out, size_t cap);
/* The file's text into s (for tests and the fuzz target); *dropped: valid lines not kept. */
kt_status sg_approvals_parse(sg_approvals *s, const char *text, size_t n, size_t *dropped);

typedef struct {
    const sg_config *cfg;
    sg_approvals *approvals;
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
/* The methods to register (5). */
size_t sg_service_methods(sg_service *s, kt_rpc_method *m);
void sg_service_metrics(sg_service *s, kt_buf *out);

#endif
