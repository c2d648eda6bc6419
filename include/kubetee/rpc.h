/* kubetee rpc: gRPC (the core C API) with protobuf-c messages.
 *
 * Servers with unary and server-streaming methods, clients for both, on Unix sockets
 * ("unix:/path") or TCP ("host:port"), plaintext, TLS or mutual TLS from PEM files, with
 * deadlines and a bounded shutdown. Calls are served by a bounded pool of worker threads
 * with a bounded queue in front; a call that finds both full is refused at once with
 * RESOURCE_EXHAUSTED. A handler may block, but it holds a worker while it does (a stream
 * that waits for events for hours holds one for hours): size the pool for the streams a
 * server keeps open. Every limit is in kt_rpc_limits (docs/operations.md). */
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
 * kt_last_error() as its message: KT_ERR_TOO_LARGE (a limit) and KT_ERR_NO_MEMORY as
 * RESOURCE_EXHAUSTED, KT_ERR_INVALID_ARGUMENT and KT_ERR_MALFORMED as INVALID_ARGUMENT. */
typedef kt_status (*kt_rpc_unary_fn)(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *res);
/* A streaming handler sends with kt_rpc_stream_send until it is done or the stream ends. */
typedef kt_status (*kt_rpc_stream_fn)(void *ctx, const ProtobufCMessage *req, kt_rpc_stream *out);

/* A unary handler over the messages' bytes, for a relay that passes them on without
 * unpacking and packing them again (no protobuf-c copies): req is the request's wire
 * bytes (valid during the call, which checks nothing in them: the handler does), and the
 * response's bytes are handed over with kt_rpc_reply_take (none: an empty message). */
typedef struct kt_rpc_reply {
    uint8_t *data; /* malloc'd, the server's to free (a wrapper around a handler may read it) */
    size_t len;
} kt_rpc_reply;
typedef kt_status (*kt_rpc_raw_fn)(void *ctx, const uint8_t *req, size_t n, kt_rpc_reply *reply);
/* p is malloc'd memory holding the response message's n bytes; the server frees it (also
 * when the handler fails after giving it). */
void kt_rpc_reply_take(kt_rpc_reply *r, uint8_t *p, size_t n);

typedef struct {
    const char *method; /* "/package.Service/Method" */
    const ProtobufCMessageDescriptor *request, *response;
    kt_rpc_unary_fn unary; /* exactly one of unary, stream and raw */
    kt_rpc_stream_fn stream;
    void *ctx;
    kt_rpc_raw_fn raw; /* request and response still name the types, for the record */
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

/* What one server lets its clients use. A field left 0 takes its default; a duration set
 * below 0 means never. kt_rpc_limits_parse reads "key=value,..." with the same names. */
typedef struct {
    unsigned workers;         /* threads serving calls (default: 2 per CPU, 4 to 64) */
    unsigned queue;           /* received calls waiting for a worker (default: 4 x workers) */
    unsigned per_connection;  /* calls one connection may have running or queued (default:
                                 workers + queue; below workers keeps workers free for
                                 other connections); Unix socket clients share one */
    unsigned streams;         /* concurrent streams per connection (default: 32) */
    unsigned max_message;     /* bytes in one request message (default: 4 MiB) */
    unsigned max_metadata;    /* bytes of a request's header list (default: 8 KiB) */
    unsigned memory_mb;       /* gRPC core's memory for the whole server (default: 256) */
    unsigned fd_headroom;     /* connections refused within this many fds of RLIMIT_NOFILE
                                 (default: 64) */
    int first_request_ms;     /* handshake until the client's HTTP/2 SETTINGS (default: 10 s) */
    int idle_ms;              /* a connection without calls is closed (default: 5 min) */
    int max_age_ms;           /* a connection is told to go away (default: 30 min) */
    int age_grace_ms;         /* and closed this much later (default: 1 min) */
    int keepalive_ms;         /* server pings a quiet client (default: 1 min) */
    int keepalive_timeout_ms; /* and closes it without an answer (default: 20 s) */
    int min_ping_ms;    /* pings from a client closer than this are strikes (default: 1 min) */
    int cancel_wait_ms; /* shutdown: after the grace, how long cancelled handlers get to
                           return (default: 1 s) */
    /* read off each cleartext connection's frames before gRPC core sees them; a connection
     * over either is closed (and one whose header block passes 4 x max_metadata + 16 KiB) */
    unsigned resets;         /* RST_STREAM frames a second, after a 10 s burst (default: 100) */
    unsigned control_frames; /* PING, SETTINGS, WINDOW_UPDATE, PRIORITY, empty DATA frames a
                                second, after a 2 s burst, beyond what requests and messages
                                (and, for WINDOW_UPDATE, bytes sent) earn (default: 100) */
    int send_stall_ms;       /* a stream send the client's flow control holds this long ends
                                the call with RESOURCE_EXHAUSTED (default: 30 s) */
    unsigned max_connections; /* accepted connections open in the process, past it closed at
                                 accept (default: 16 x memory_mb) */
    unsigned per_address;     /* calls the connections from one client address may have running
                                 or queued together (default: workers + queue) */
    unsigned unfinished_bytes; /* bytes of request messages a connection has sent and not yet
                                  completed (default: 2 x max_message); past it the
                                  connection is closed */
    unsigned unfinished_mb;    /* ... and all connections in the process together (default:
                                  memory_mb / 2) */
} kt_rpc_limits;

/* Fills every 0 field of l with its default. */
void kt_rpc_limits_resolve(kt_rpc_limits *l);
/* Sets fields from "workers=8,queue=64,idle_ms=-1"; unknown names, repeats and values
 * that are not numbers in range are refused by name. NULL or "" changes nothing. */
kt_status kt_rpc_limits_parse(const char *spec, kt_rpc_limits *l);

/* limits NULL: every default. */
kt_status kt_rpc_server_new(const char *address, const kt_rpc_tls *tls, const kt_rpc_limits *limits,
                            const kt_rpc_method *methods, size_t n, kt_rpc_server **out);
/* Starts taking calls. For "host:0" the bound port is in *port (may be NULL). */
kt_status kt_rpc_server_start(kt_rpc_server *s, int *port);
/* Stops taking calls (new ones get UNAVAILABLE), ends streams, lets calls already received
 * (running or queued) finish for up to grace_ms, then ends what is left with UNAVAILABLE,
 * never CANCELLED, and gives those handlers cancel_wait_ms to see kt_rpc_cancelled() and
 * return. Safe to call more than once. */
void kt_rpc_server_shutdown(kt_rpc_server *s, int grace_ms);
/* A handler still running after the shutdown is logged and the server left allocated
 * for it (the process is about to exit); otherwise everything is freed. */
void kt_rpc_server_free(kt_rpc_server *s);
/* Calls being served or queued right now. */
unsigned kt_rpc_server_active(kt_rpc_server *s);
/* false once the server's listener stopped accepting connections (readiness). */
bool kt_rpc_server_listening(kt_rpc_server *s);
/* Appends Prometheus metrics for the servers (each family once, one sample per server,
 * labelled server="<address>"), and the process's refused connections. */
void kt_rpc_server_metrics(kt_rpc_server *const *servers, size_t n, kt_buf *out);

/* For the handler running on the calling thread (false / -1 on any other thread):
 * kt_rpc_cancelled: the client cancelled or went away, the deadline passed, or the server
 * is ending the call; a handler that sees it should return. kt_rpc_time_left_ms: ms until
 * the call's deadline (0 once passed), -1 when the call has none. */
bool kt_rpc_cancelled(void);
long kt_rpc_time_left_ms(void);

/* For the handler running on the calling thread: the client's certificate under mutual
 * TLS (as gRPC verified it against the server's CA), its subject and issuer names in
 * one line each as kt_cert_subject writes them. KT_ERR_NOT_FOUND when the call came
 * without one; KT_ERR_TOO_LARGE when a name does not fit (never cut short). */
kt_status kt_rpc_peer_names(char *subject, size_t scap, char *issuer, size_t icap);

/* Sends one message of the method's response type. KT_ERR_CANCELLED when the client
 * went away or the server is shutting down: the handler should return. */
kt_status kt_rpc_stream_send(kt_rpc_stream *s, const void *msg);
/* Waits up to ms for the stream to end; true when it has (client gone, deadline passed or
 * shutdown). */
bool kt_rpc_stream_wait_closed(kt_rpc_stream *s, int ms);

typedef struct kt_rpc_client kt_rpc_client;
kt_status kt_rpc_client_new(const char *target, const kt_rpc_tls *tls, kt_rpc_client **out);
/* kt_rpc_client_new with more to choose: max_receive is the largest response message the
 * client accepts (0: 4 MiB, as kt_rpc_client_new; at most 2^31 - 1), for a server whose
 * answers are not bounded by the request (an etcd watch's catch-up). */
typedef struct {
    const kt_rpc_tls *tls; /* NULL: plaintext */
    unsigned max_receive;
} kt_rpc_client_options;
kt_status kt_rpc_client_open(const char *target, const kt_rpc_client_options *o, kt_rpc_client **out);
/* One header (gRPC metadata) sent with every call from now on, e.g. etcd's "token"; a
 * value of NULL removes it. Names are lowercase [a-z0-9._-] (not grpc-), values up to
 * KT_RPC_HEADER_VALUE_MAX printable ASCII bytes; anything else is refused. Safe while
 * other threads call. */
#define KT_RPC_HEADER_VALUE_MAX 2048
kt_status kt_rpc_client_set_header(kt_rpc_client *c, const char *key, const char *value);
void kt_rpc_client_free(kt_rpc_client *c);
/* A unary call; res must be initialised, and on KT_OK the caller owns its fields
 * (kt_message_clear). timeout_ms <= 0: no deadline. Errors map gRPC codes to kt_status
 * (DEADLINE_EXCEEDED -> KT_ERR_TIMEOUT, UNAVAILABLE -> KT_ERR_UNAVAILABLE,
 * RESOURCE_EXHAUSTED -> KT_ERR_TOO_LARGE, ...). */
kt_status kt_rpc_call(kt_rpc_client *c, const char *method, const void *req, void *res,
                      int timeout_ms);
/* A unary call over the messages' bytes (no protobuf-c copies): fill writes the request's
 * n bytes straight into the message gRPC sends; got sees the response's bytes in place
 * (valid during the callback; nothing in them is checked). A failure of either is the
 * call's. */
typedef kt_status (*kt_rpc_fill_fn)(void *ctx, uint8_t *buf, size_t n);
typedef kt_status (*kt_rpc_got_fn)(void *ctx, const uint8_t *p, size_t n);
kt_status kt_rpc_call_raw(kt_rpc_client *c, const char *method, size_t n, kt_rpc_fill_fn fill, kt_rpc_got_fn got,
                          void *ctx, int timeout_ms);
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
