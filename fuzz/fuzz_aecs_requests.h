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
    const ProtobufCMessageDescriptor *request, *response;
    size_t request_size, response_size;
} aecs_fn;

#define AECS_FN(name, kind, Req, req, Res, res)                                                    \
    {                                                                                              \
        "aecs." name, kind, &kubetee__aecs__v1__##req##__descriptor,                               \
            &kubetee__aecs__v1__##res##__descriptor, sizeof(Kubetee__Aecs__V1__##Req),             \
            sizeof(Kubetee__Aecs__V1__##Res)                                                       \
    }
#define REMOTE(name, Req, req, Res, res) AECS_FN(name, AECS_REMOTE, Req, req, Res, res)

static const aecs_fn aecs_fns[] = {
    /* admin.c */
    REMOTE("Status", StatusRequest, status_request, StatusResponse, status_response),
    REMOTE("Init", InitRequest, init_request, InitResponse, init_response),
    REMOTE("AddAdmin", AddAdminRequest, add_admin_request, Done, done),
    REMOTE("RegisterService", RegisterServiceRequest, register_service_request, Done, done),
    REMOTE("UnregisterService", UnregisterServiceRequest, unregister_service_request, Done, done),
    REMOTE("ListServices", ListServicesRequest, list_services_request, ListServicesResponse,
           list_services_response),
    REMOTE("AuditHead", AuditHeadRequest, audit_head_request, AuditHeadResponse,
           audit_head_response),
    /* clock.c, platform.c, ta_signers.c */
    REMOTE("AcceptClock", AcceptClockRequest, accept_clock_request, AcceptClockResponse,
           accept_clock_response),
    REMOTE("SetTaPlatform", SetTaPlatformRequest, set_ta_platform_request, Done, done),
    REMOTE("SetTaSigners", SetTaSignersRequest, set_ta_signers_request, Done, done),
    REMOTE("ListTaSigners", ListTaSignersRequest, list_ta_signers_request, ListTaSignersResponse,
           list_ta_signers_response),
    /* recovery.c, restore.c, rotate.c */
    REMOTE("Backup", BackupRequest, backup_request, BackupResponse, backup_response),
    REMOTE("SetRecovery", SetRecoveryRequest, set_recovery_request, BackupResponse,
           backup_response),
    REMOTE("Restore", RestoreRequest, restore_request, RestoreResponse, restore_response),
    REMOTE("RotateKey", RotateKeyRequest, rotate_key_request, BackupResponse, backup_response),
    /* secrets.c */
    REMOTE("CreateSecret", CreateSecretRequest, create_secret_request, SecretInfo, secret_info),
    REMOTE("UpdateSecret", UpdateSecretRequest, update_secret_request, SecretInfo, secret_info),
    REMOTE("DestroySecret", DestroySecretRequest, destroy_secret_request, Done, done),
    REMOTE("DeleteSecret", DeleteSecretRequest, delete_secret_request, Done, done),
    REMOTE("ListSecrets", ListSecretsRequest, list_secrets_request, ListSecretsResponse,
           list_secrets_response),
    REMOTE("GetPublic", GetPublicRequest, get_public_request, GetPublicResponse,
           get_public_response),
    REMOTE("GetSecret", GetSecretRequest, get_secret_request, GetSecretResponse,
           get_secret_response),
    /* ta_secrets.c */
    REMOTE("TaCreateSecret", TaCreateSecretRequest, ta_create_secret_request, GetSecretResponse,
           get_secret_response),
    REMOTE("TaGetSecret", TaSecretRequest, ta_secret_request, GetSecretResponse,
           get_secret_response),
    REMOTE("TaDestroySecret", TaSecretRequest, ta_secret_request, Done, done),
    REMOTE("ListTaSecrets", ListTaSecretsRequest, list_ta_secrets_request, ListTaSecretsResponse,
           list_ta_secrets_response),
    REMOTE("DeleteTaSecret", DeleteTaSecretRequest, delete_ta_secret_request, Done, done),
    /* use.c */
    REMOTE("Sign", KeyOpRequest, key_op_request, KeyOpResponse, key_op_response),
    REMOTE("Encrypt", KeyOpRequest, key_op_request, KeyOpResponse, key_op_response),
    REMOTE("Decrypt", KeyOpRequest, key_op_request, KeyOpResponse, key_op_response),
    REMOTE("Wrap", KeyOpRequest, key_op_request, KeyOpResponse, key_op_response),
    REMOTE("Unwrap", KeyOpRequest, key_op_request, KeyOpResponse, key_op_response),
    REMOTE("SignBatch", SignBatchRequest, sign_batch_request, SignBatchResponse,
           sign_batch_response),
    /* start.c: the host's ECALLs */
    AECS_FN("Start", AECS_ECALL, StartRequest, start_request, StartResponse, start_response),
    AECS_FN("HostStatus", AECS_ECALL, HostStatusRequest, host_status_request, StartResponse,
            start_response),
    AECS_FN("Stop", AECS_ECALL, StopRequest, stop_request, Done, done),
    /* objects.c, audit.c, clock.c, rotate.c: OCALLs, whose answers the enclave decodes */
    AECS_FN("store.Get", AECS_OCALL, StoreGetRequest, store_get_request, StoreGetResponse,
            store_get_response),
    AECS_FN("store.Put", AECS_OCALL, StorePutRequest, store_put_request, StorePutResponse,
            store_put_response),
    AECS_FN("store.Delete", AECS_OCALL, StoreDeleteRequest, store_delete_request, Done, done),
    AECS_FN("store.List", AECS_OCALL, StoreListRequest, store_list_request, StoreListResponse,
            store_list_response),
    AECS_FN("audit.Append", AECS_OCALL, AuditAppendRequest, audit_append_request, Done, done),
    AECS_FN("Time", AECS_OCALL, TimeRequest, time_request, TimeResponse, time_response),
    AECS_FN("Pause", AECS_OCALL, PauseRequest, pause_request, Done, done),
};
#undef REMOTE
#undef AECS_FN

enum { AECS_FN_COUNT = sizeof aecs_fns / sizeof aecs_fns[0] };

#endif
