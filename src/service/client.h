/* Internal to the enclave service's client: the transport under kt_service_client, one
 * exchange of bytes with the service per step. A plain process speaks gRPC
 * (client_rpc.c); an enclave asks its host to (client_ocall.c, relay.c on the host). */
#ifndef KT_SERVICE_CLIENT_INTERNAL_H
#define KT_SERVICE_CLIENT_INTERNAL_H

#include <kubetee/base.h>

typedef enum { KT_SERVICE_HANDSHAKE = 0, KT_SERVICE_CALL = 1, KT_SERVICE_CLOSE = 2 } kt_service_step;
/* "Handshake", "Call", "Close"; NULL for anything else */
const char *kt_service_step_name(kt_service_step m);

typedef struct kt_service_link kt_service_link;
/* tls: a kt_rpc_tls (plain processes; NULL: plaintext); ignored in an enclave */
kt_status kt_service_link_open(const char *target, const void *tls, kt_service_link **out);
/* Sends in as the step's message and appends what came back to out. */
kt_status kt_service_link_send(kt_service_link *l, kt_service_step step, const uint8_t *in, size_t n, int timeout_ms,
                               kt_buf *out);
void kt_service_link_free(kt_service_link *l);

#endif
