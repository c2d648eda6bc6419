/* Internal to the trusted runtime. */
#ifndef KT_TRTS_H
#define KT_TRTS_H

#include <kubetee/trusted.h>
#include "../common/gate.h"
#include "../common/runtime.h"

/* Set at INIT, read-only afterwards. */
extern const kt_gate_host *kt_trts_host;
extern size_t kt_trts_max_message;

kt_fntab *kt_trts_functions(void);
kt_fntab *kt_trts_remote_functions(void);
/* The first error a load-time registration hit, reported by INIT. */
kt_status kt_trts_registration_status(char *detail, size_t cap);
kt_status kt_trts_register_builtins(void);
kt_status kt_trts_add_builtin(const kt_function *f);
kt_status kt_trts_add_remote_builtin(const kt_function *f);
/* A runtime module's teardown, run at FINI (before the identity is freed). */
kt_status kt_trts_add_fini(void (*fn)(void));
void kt_trts_run_fini(void);
/* kt.Describe, the remote function every enclave has (describe.c). */
kt_status kt_trts_register_describe(void);

/* A remote function run on a packed request, its packed response (*len bytes) at what
 * place(ctx, *len) gives (NULL: out of memory). */
kt_status kt_remote_run(const char *name, const char *req_type, const char *res_type, const uint8_t *req, size_t n,
                        uint8_t *(*place)(void *ctx, size_t n), void *ctx, size_t *len);

/* EGETKEY, with the CPU's refusal worded as a reason. */
kt_status kt_trts_egetkey(const kt_keyrequest *kr, uint8_t key[16]);

kt_status kt_trts_self_init(void);
kt_status kt_identity_init(void);
void kt_identity_fini(void);

#endif
