/* Every function of the AECS enclave with the messages it decodes: the remote functions
 * (aecs.*, called through a session by admins, service admins, TAs and anyone), the ECALLs
 * of its untrusted host (aecs.Start, aecs.HostStatus, aecs.Stop) and the answers of the
 * host to its OCALLs (the request is the enclave's own; the answer the host's). The fuzz
 * target fuzz_aecs_requests decodes any bytes as each; test_aecs checks that this list is
 * the AECS enclave's own (kt.Describe) so that a new function cannot go unfuzzed. */
#ifndef FUZZ_AECS_REQUESTS_H
#define FUZZ_AECS_REQUESTS_H

#include "aecs.pb-c.h"

#include <stddef.h>

typedef enum { AECS_REMOTE, AECS_ECALL, AECS_OCALL } aecs_fn_kind;

typedef struct {
    const char *name;
    aecs_fn_kind kind;
    const ProtobufCMessageDescriptor *request, *response; /* their sizeof_message: the C types' */
} aecs_fn;

/* X(name after "aecs.", kind, request, response): the messages by their aecs.proto names as
 * protobuf-c spells them (kubetee__aecs__v1__<name>__descriptor) */
#define AECS_FNS(X)                                                                                \
    /* admin.c */                                                                                  \
    X("Status", REMOTE, status_request, status_response)                                           \
    X("Init", REMOTE, init_request, init_response)                                                 \
    X("AddAdmin", REMOTE, add_admin_request, done)                                                 \
    X("RegisterService", REMOTE, register_service_request, done)                                   \
    X("UnregisterService", REMOTE, unregister_service_request, done)                               \
    X("ListServices", REMOTE, list_services_request, list_services_response)                       \
    X("AuditHead", REMOTE, audit_head_request, audit_head_response)                                \
    /* clock.c, platform.c, ta_signers.c */                                                        \
    X("AcceptClock", REMOTE, accept_clock_request, accept_clock_response)                          \
    X("SetTaPlatform", REMOTE, set_ta_platform_request, done)                                      \
    X("SetTaSigners", REMOTE, set_ta_signers_request, done)                                        \
    X("ListTaSigners", REMOTE, list_ta_signers_request, list_ta_signers_response)                  \
    /* recovery.c, restore.c, rotate.c */                                                          \
    X("Backup", REMOTE, backup_request, backup_response)                                           \
    X("SetRecovery", REMOTE, set_recovery_request, backup_response)                                \
    X("Restore", REMOTE, restore_request, restore_response)                                        \
    X("RotateKey", REMOTE, rotate_key_request, backup_response)                                    \
    /* secrets.c */                                                                                \
    X("CreateSecret", REMOTE, create_secret_request, secret_info)                                  \
    X("UpdateSecret", REMOTE, update_secret_request, secret_info)                                  \
    X("DestroySecret", REMOTE, destroy_secret_request, done)                                       \
    X("DeleteSecret", REMOTE, delete_secret_request, done)                                         \
    X("ListSecrets", REMOTE, list_secrets_request, list_secrets_response)                          \
    X("GetPublic", REMOTE, get_public_request, get_public_response)                                \
    X("GetSecret", REMOTE, get_secret_request, get_secret_response)                                \
    /* ta_secrets.c */                                                                             \
    X("TaCreateSecret", REMOTE, ta_create_secret_request, get_secret_response)                     \
    X("TaGetSecret", REMOTE, ta_secret_request, get_secret_response)                               \
    X("TaDestroySecret", REMOTE, ta_secret_request, done)                                          \
    X("ListTaSecrets", REMOTE, list_ta_secrets_request, list_ta_secrets_response)                  \
    X("DeleteTaSecret", REMOTE, delete_ta_secret_request, done)                                    \
    /* use.c */                                                                                    \
    X("Sign", REMOTE, key_op_request, key_op_response)                                             \
    X("Encrypt", REMOTE, key_op_request, key_op_response)                                          \
    X("Decrypt", REMOTE, key_op_request, key_op_response)                                          \
    X("Wrap", REMOTE, key_op_request, key_op_response)                                             \
    X("Unwrap", REMOTE, key_op_request, key_op_response)                                           \
    X("SignBatch", REMOTE, sign_batch_request, sign_batch_response)                                \
    /* start.c: the host's ECALLs */                                                               \
    X("Start", ECALL, start_request, start_response)                                               \
    X("HostStatus", ECALL, host_status_request, start_response)                                    \
    X("Stop", ECALL, stop_request, done)                                                           \
    /* objects.c, audit.c, clock.c, rotate.c: OCALLs, whose answers the enclave decodes */         \
    X("store.Get", OCALL, store_get_request, store_get_response)                                   \
    X("store.Put", OCALL, store_put_request, store_put_response)                                   \
    X("store.Delete", OCALL, store_delete_request, done)                                           \
    X("store.List", OCALL, store_list_request, store_list_response)                                \
    X("store.PutBatch", OCALL, store_put_batch_request, store_put_batch_response)                  \
    X("audit.Append", OCALL, audit_append_request, done)                                           \
    X("Time", OCALL, time_request, time_response)                                                  \
    X("Pause", OCALL, pause_request, done)

#define AECS_FN_ROW(name, kind, req, res)                                                          \
    {"aecs." name, AECS_##kind, &kubetee__aecs__v1__##req##__descriptor,                           \
     &kubetee__aecs__v1__##res##__descriptor},
static const aecs_fn aecs_fns[] = {AECS_FNS(AECS_FN_ROW)};
#undef AECS_FN_ROW

enum { AECS_FN_COUNT = sizeof aecs_fns / sizeof aecs_fns[0] };

#endif
