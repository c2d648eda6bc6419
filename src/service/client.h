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
/* One exchange: fill(ctx, buf, n) writes the step's message (n bytes) where the link
 * sends it from, got(ctx, p, len) sees the message that came back (valid during the
 * callback, untrusted). A failure of either ends the exchange with it. */
typedef kt_status (*kt_service_fill_fn)(void *ctx, uint8_t *buf, size_t n);
typedef kt_status (*kt_service_got_fn)(void *ctx, const uint8_t *p, size_t n);
kt_status kt_service_link_exchange(kt_service_link *l, kt_service_step step, size_t n, kt_service_fill_fn fill,
                                   kt_service_got_fn got, void *ctx, int timeout_ms);
/* The same with in as the message, and what came back appended to out (client.c). */
kt_status kt_service_link_send(kt_service_link *l, kt_service_step step, const uint8_t *in, size_t n, int timeout_ms,
                               kt_buf *out);
void kt_service_link_free(kt_service_link *l);

#endif
