/* kubetee rpc: gRPC (the core C API) with protobuf-c messages.
 *
 * Servers with unary and server-streaming methods, clients for both, on Unix sockets
 * ("unix:/path") or TCP ("host:port"), plaintext, TLS or mutual TLS from PEM files, with
 * deadlines and a shutdown that lets in-flight calls finish. Each call runs in a thread
 * of its own, so a handler may block (a stream may wait for events for hours). */
#ifndef KUBETEE_RPC_H
#define KUBETEE_RPC_H

#include <kubetee/tff_common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_rpc_server kt_rpc_server;
typedef struct kt_rpc_stream kt_rpc_stream;

/* A unary handler fills res (an initialised message; call memory from kt_call_alloc is
 * freed after it is sent). A non-OK status goes to the client as a gRPC error, with
 * kt_last_error() as its message. */
typedef kt_status (*kt_rpc_unary_fn)(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *res);
/* A streaming handler sends with kt_rpc_stream_send until it is done or the stream ends. */
typedef kt_status (*kt_rpc_stream_fn)(void *ctx, const ProtobufCMessage *req, kt_rpc_stream *out);

typedef struct {
    const char *method; /* "/package.Service/Method" */
    const ProtobufCMessageDescriptor *request, *response;
    kt_rpc_unary_fn unary; /* exactly one of unary and stream */
    kt_rpc_stream_fn stream;
    void *ctx;
} kt_rpc_method;

/* TLS from PEM files. Server: cert and key, plus client_ca for mutual TLS (clients must
 * then present a certificate from that CA). Client: ca to verify the server, plus cert
 * and key for mutual TLS; server_name overrides the name checked in the server's
 * certificate. */
typedef struct {
    const char *cert, *key, *ca;
    bool require_client_cert; /* server: mutual TLS against ca */
    const char *server_name;  /* client */
} kt_rpc_tls;

kt_status kt_rpc_server_new(const char *address, const kt_rpc_tls *tls,
                            const kt_rpc_method *methods, size_t n, kt_rpc_server **out);
/* Starts taking calls. For "host:0" the bound port is in *port (may be NULL). */
kt_status kt_rpc_server_start(kt_rpc_server *s, int *port);
/* Stops taking calls, ends streams, lets unary calls in flight finish for up to grace_ms,
 * then cancels what is left. Safe to call more than once. */
void kt_rpc_server_shutdown(kt_rpc_server *s, int grace_ms);
void kt_rpc_server_free(kt_rpc_server *s);
/* Calls being served right now. */
unsigned kt_rpc_server_active(kt_rpc_server *s);

/* Sends one message of the method's response type. KT_ERR_CANCELLED when the client
 * went away or the server is shutting down: the handler should return. */
kt_status kt_rpc_stream_send(kt_rpc_stream *s, const void *msg);
/* Waits up to ms for the stream to end; true when it has (client gone or shutdown). */
bool kt_rpc_stream_wait_closed(kt_rpc_stream *s, int ms);

typedef struct kt_rpc_client kt_rpc_client;
kt_status kt_rpc_client_new(const char *target, const kt_rpc_tls *tls, kt_rpc_client **out);
void kt_rpc_client_free(kt_rpc_client *c);
/* A unary call; res must be initialised, and on KT_OK the caller owns its fields
 * (kt_message_clear). timeout_ms <= 0: no deadline. Errors map gRPC codes to kt_status
 * (DEADLINE_EXCEEDED -> KT_ERR_TIMEOUT, UNAVAILABLE -> KT_ERR_UNAVAILABLE, ...). */
kt_status kt_rpc_call(kt_rpc_client *c, const char *method, const void *req, void *res,
                      int timeout_ms);
/* A server-streaming call: on_message sees each message (valid during the callback);
 * returning non-OK cancels the call. Returns when the stream ends. */
typedef kt_status (*kt_rpc_on_message)(void *ctx, const ProtobufCMessage *msg);
kt_status kt_rpc_call_stream(kt_rpc_client *c, const char *method, const void *req,
                             const ProtobufCMessageDescriptor *res_type,
                             kt_rpc_on_message on_message, void *ctx, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
