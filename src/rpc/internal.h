/* Shared between the rpc sources only. */
#ifndef KT_RPC_INTERNAL_H
#define KT_RPC_INTERNAL_H

#include <kubetee/rpc.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <kubetee/svc.h>
#include <stdatomic.h>

#define KT_RPC_MAX_MESSAGE (4u << 20)

/* grpc_init, the first time for good (see common.c); pair each with grpc_shutdown. */
void kt_rpc_grpc_init(void);
/* protobuf-c message <-> gRPC byte buffer. */
kt_status kt_rpc_pack(const void *msg, grpc_byte_buffer **out);
/* Unpacks into an initialised message with allocator (NULL: malloc; fields then belong
 * to the caller). */
kt_status kt_rpc_unpack(grpc_byte_buffer *bb, size_t max, void *msg, ProtobufCAllocator *allocator);
/* A received message's bytes in one slice (the message's own when it came in one, else
 * joined), unreferenced by the caller: refuses none, compressed ones and those over max
 * bytes. */
kt_status kt_rpc_bytes(grpc_byte_buffer *bb, size_t max, grpc_slice *all);
grpc_status_code kt_rpc_code_of(kt_status st);
kt_status kt_rpc_status_of(grpc_status_code code);
/* Reads PEM files into a key/cert pair and root certificates; frees with _free. */
typedef struct {
    char *cert, *key, *ca;
} kt_rpc_pems;
kt_status kt_rpc_pems_load(const kt_rpc_tls *tls, kt_rpc_pems *p);
void kt_rpc_pems_free(kt_rpc_pems *p);
gpr_timespec kt_rpc_deadline(int timeout_ms);
/* Refuses invalid UTF-8 and embedded NULs in the string fields of a message's wire bytes
 * (KT_ERR_INVALID_ARGUMENT naming the field). */
kt_status kt_rpc_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t n);

/* server.c: the call the handler on this thread serves, or NULL. */
grpc_call *kt_rpc_current_call(void);

/* A log line budget: at most KT_RPC_LOG_PER_SECOND lines a second. kt_rpc_log_allowed
 * says whether this line may go out and, when it may, writes into not_logged how many
 * were held back since the last that went out. */
#define KT_RPC_LOG_PER_SECOND 10
typedef struct {
    atomic_long second;
    atomic_uint logged, suppressed;
} kt_rpc_log_budget;
bool kt_rpc_log_allowed(kt_rpc_log_budget *b, char not_logged[16]);

/* limits.c: channel arguments for a server's limits and a client's (a[] holds KT_RPC_MAX_ARGS). */
#define KT_RPC_MAX_ARGS 24
size_t kt_rpc_server_args(const kt_rpc_limits *l, grpc_resource_quota *quota, grpc_arg *a);
size_t kt_rpc_client_args(unsigned max_receive, grpc_arg *a);
void kt_rpc_limits_log(const kt_rpc_limits *l, const char *address);

/* pool.c: serving threads that wait for work themselves (see pool.c). wait() blocks for
 * the next item and returns it, NULL for nothing to serve, or KT_RPC_POOL_DONE once the
 * source is shut down; serve() runs an item; full() refuses one that found every worker
 * serving and the queue full. */
#define KT_RPC_POOL_DONE ((void *)-1)
typedef struct {
    void *(*wait)(void *ctx);
    void (*serve)(void *item);
    void (*full)(void *item);
    void *ctx;
} kt_rpc_pool_fns;
typedef struct kt_rpc_pool kt_rpc_pool;
kt_status kt_rpc_pool_new(unsigned workers, unsigned queue, const kt_rpc_pool_fns *fns,
                          kt_rpc_pool **out);
kt_status kt_rpc_pool_start(kt_rpc_pool *p); /* the first thread */
void kt_rpc_pool_counts(kt_rpc_pool *p, unsigned *busy, unsigned *queued, unsigned *threads);
bool kt_rpc_pool_wait_idle(kt_rpc_pool *p, int ms); /* true: nothing running or queued */
void kt_rpc_pool_join(kt_rpc_pool *p); /* after wait() returned DONE: joins every thread */
void kt_rpc_pool_free(kt_rpc_pool *p); /* joined or never started */

/* meter.c: what a client sends on one HTTP/2 connection, frame by frame (see meter.c). */
typedef struct {
    uint32_t header_block; /* bytes of one header block */
    uint32_t resets;       /* RST_STREAM frames a second (bursts of 10 s) */
    uint32_t control;      /* PING, SETTINGS, WINDOW_UPDATE, PRIORITY, empty DATA a second */
    uint32_t streams;      /* streams open at once */
    uint32_t unfinished;   /* bytes of request messages not yet complete, one connection */
    uint64_t unfinished_total; /* ... and all connections together */
    uint32_t max_message;  /* bytes of one request message (0: no limit), counted only */
} kt_rpc_meter_limits;
typedef enum {
    KT_METER_OK,
    KT_METER_OFF, /* not cleartext HTTP/2: not metered */
    KT_METER_HEADER_BLOCK,
    KT_METER_RESETS,
    KT_METER_CONTROL,
    KT_METER_STREAMS,
    KT_METER_UNFINISHED,
    KT_METER_UNFINISHED_TOTAL,
    KT_METER_FRAMING, /* a request framed wrongly whose message could not be marked */
    KT_METER_N
} kt_rpc_meter_verdict;
/* How a stream's request message is framed wrongly (gRPC's 5-byte prefix: a flag byte, 0
 * or 1 for compressed, and a big-endian length). Every method of ours takes one request
 * message: anything after it is refused. */
typedef enum {
    KT_FRAMING_OK,
    KT_FRAMING_FLAGS,      /* a flag byte other than 0 and 1 */
    KT_FRAMING_COMPRESSED, /* the compressed flag (gRPC core refuses gzip's; identity's: us) */
    KT_FRAMING_SECOND,     /* a second message */
    KT_FRAMING_TRAILING,   /* bytes after the message that are no message */
    KT_FRAMING_TOO_LARGE,  /* longer than max_message (gRPC core refuses it; counted) */
    KT_FRAMING_N
} kt_rpc_framing;
/* A request message the meter found framed wrongly reaches gRPC core marked: flag byte 0
 * and its first two bytes MARK0, MARK0 + the kt_rpc_framing: a tag of field 0, which no
 * protobuf message has, so it can never be served, and the server names the refusal. */
#define KT_RPC_MARK0 0x00
#define KT_RPC_MARK1 0xf0
/* The refusal a request message's first bytes are marked with (KT_FRAMING_OK: none). */
kt_rpc_framing kt_rpc_framing_mark(const uint8_t *p, size_t n);
const char *kt_rpc_framing_name(kt_rpc_framing f);
/* A stream the client opened and the server has not ended: bytes of its request message
 * so far, until the client ended it; the message's framing as it passes. */
typedef struct {
    uint32_t id, bytes;
    bool ended;
    uint8_t have, prefix[5]; /* the message prefix being read */
    uint8_t messages;        /* prefixes read (at most 2: more is refused anyway) */
    uint8_t mark;            /* kt_rpc_framing the first message is to be marked with */
    uint32_t left, size;     /* its body still to come, and its length */
    /* where the first message's flag byte and first two body bytes passed (NULL: not yet),
     * and in which read: only this read's can still be marked */
    uint8_t *at[3];
    uint32_t at_read[3];
} kt_rpc_meter_stream;
/* Frames as they come: the header being read, then the payload to pass over (a client's
 * DATA payload is read for the message framing: data bytes, then padding). */
typedef struct {
    uint32_t skip;
    uint8_t head[9], have;
    uint32_t data_id;        /* the DATA frame's stream (0: not a DATA frame) */
    uint32_t data_left;      /* its data bytes still to come (the rest is padding) */
    bool pad_length;         /* its first payload byte is the pad length */
} kt_rpc_meter_frames;
typedef struct {
    uint32_t preface, block;
    kt_rpc_meter_frames in, out; /* what the client sends, what the server sends */
    bool in_block;
    kt_rpc_meter_verdict verdict; /* sticky once not OK */
    int64_t resets, control;      /* tokens, in thousandths */
    int64_t window;               /* WINDOW_UPDATE tokens: also earned by what is sent */
    int64_t sent_pings;           /* control tokens earned by sending, not yet counted in */
    int64_t last_ms;
    uint32_t last_id;              /* the highest stream the client opened */
    kt_rpc_meter_stream *streams;  /* open, in no order */
    uint32_t nstreams, cap;
    uint64_t unfinished;           /* bytes of this connection's messages not yet complete */
    _Atomic uint64_t *total;       /* ... and of every connection sharing this counter */
    uint32_t reads;                /* kt_rpc_meter_read calls: which bytes are still ours */
    uint32_t framing[KT_FRAMING_N]; /* requests framed wrongly, until the caller takes them */
} kt_rpc_meter;
/* total: the counter the connections share (never NULL). */
void kt_rpc_meter_init(kt_rpc_meter *m, const kt_rpc_meter_limits *l, int64_t now_ms,
                       _Atomic uint64_t *total);
/* One read's bytes follow (fed in one or more pieces): bytes of earlier reads are gRPC
 * core's by now and can no longer be marked. */
void kt_rpc_meter_read(kt_rpc_meter *m);
/* The client's bytes, in order. A request message framed wrongly is marked in p (see
 * KT_RPC_MARK0) and counted in m->framing; one whose bytes went to gRPC core in an
 * earlier read cuts the connection instead (KT_METER_FRAMING). */
kt_rpc_meter_verdict kt_rpc_meter_feed(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                       uint8_t *p, size_t n, int64_t now_ms);
/* Bytes the server sent the client, in order: they earn WINDOW_UPDATEs and PINGs, and
 * the streams the server ended are no longer open. */
void kt_rpc_meter_sent(kt_rpc_meter *m, const kt_rpc_meter_limits *l, const uint8_t *p, size_t n);
/* The connection is gone: its unfinished bytes leave the total; frees the stream table. */
void kt_rpc_meter_release(kt_rpc_meter *m);

/* conn.c: meters every accepted connection's reads (recvmsg, and SSL_read for TLS) and
 * cuts the ones over. */
void kt_rpc_conn_limits(const kt_rpc_limits *l); /* the most lenient of the servers' */
bool kt_rpc_conn_opened(int fd); /* false: max_connections are open (close it) */
void kt_rpc_conn_metrics(kt_buf *out);

/* accept.c: the process's connection budget; returns the fd cap now in force. */
int kt_rpc_accept_guard(unsigned headroom);
void kt_rpc_accept_serving(int port); /* an rpc server's TCP port */
bool kt_rpc_accept_failed(int port); /* the listener on port (<= 0: a Unix socket) died */
void kt_rpc_accept_metrics(kt_buf *out);

#endif
