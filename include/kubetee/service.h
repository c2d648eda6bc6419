/* kubetee service: the host's half of the enclave service (proto/enclave_service.proto).
 *
 * The enclave holds every session's keys and state; the host routes session messages to
 * it by session id and keeps the limits that protect the service's availability, which
 * the host controls anyway: message size, open sessions, sessions per peer identity,
 * unfinished handshakes, idle sessions. Each refusal is counted by reason for /metrics.
 *
 * The session table here is that bookkeeping: it never sees a key or a payload byte.
 * Times are milliseconds on a monotonic clock the caller reads (kt_service_now_ms). */
#ifndef KUBETEE_SERVICE_H
#define KUBETEE_SERVICE_H

#include <kubetee/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_SERVICE_ID_LEN 16       /* a session id, as the session library makes it */
#define KT_SERVICE_PEER_ID_LEN 32  /* a peer identity: SHA-256 of what the handshake proved */

typedef struct {
    size_t max_message;      /* bytes of one Handshake, Call or Close message */
    size_t max_sessions;     /* open sessions, handshaking ones included */
    size_t max_per_peer;     /* established sessions of one peer identity */
    uint64_t handshake_ms;   /* a handshake not finished by then is ended */
    uint64_t idle_ms;        /* an established session with no call for this long is ended */
} kt_service_limits;

/* Why the host refused or ended something; the label in /metrics is the name. */
typedef enum {
    KT_SERVICE_TOO_LARGE,       /* "too_large": a message over max_message */
    KT_SERVICE_SESSIONS,        /* "sessions": max_sessions open */
    KT_SERVICE_PEER_SESSIONS,   /* "peer_sessions": the peer has max_per_peer open */
    KT_SERVICE_UNKNOWN_SESSION, /* "unknown_session": no open session has that id */
    KT_SERVICE_NOT_ESTABLISHED, /* "not_established": a call before the handshake ended */
    KT_SERVICE_HANDSHAKE_TIMEOUT, /* "handshake_timeout": ended unfinished */
    KT_SERVICE_IDLE,            /* "idle": ended after idle_ms without a call */
    KT_SERVICE_REASON_COUNT
} kt_service_reason;
const char *kt_service_reason_name(kt_service_reason r);

typedef struct kt_service_table kt_service_table;

/* Sets limits from "max_message=65536,max_sessions=64,max_per_peer=4,handshake_ms=10000,
 * idle_ms=300000"; unknown names, repeats, zero and values that are not decimal numbers
 * are refused by name. NULL or "" changes nothing. */
kt_status kt_service_limits_parse(const char *spec, kt_service_limits *l);

/* Every limit must be set (no zero means "unlimited"). */
kt_status kt_service_table_new(const kt_service_limits *limits, kt_service_table **out);
void kt_service_table_free(kt_service_table *t);

uint64_t kt_service_now_ms(void);

/* Counts a refusal the caller made for a reason of its own kind. */
void kt_service_count(kt_service_table *t, kt_service_reason r);

/* A message of n bytes: KT_ERR_TOO_LARGE (counted) past max_message. */
kt_status kt_service_check_size(kt_service_table *t, size_t n);

/* A Hello arrived: reserves a place for a new session, or KT_ERR_TOO_LARGE (counted as
 * sessions) when max_sessions are open. *slot names the place until kt_service_bind or
 * kt_service_release. */
kt_status kt_service_open(kt_service_table *t, uint64_t now, size_t *slot);
/* The enclave's Reply gave the session its id. KT_ERR_EXISTS for an id already open. */
kt_status kt_service_bind(kt_service_table *t, size_t slot, const uint8_t id[KT_SERVICE_ID_LEN]);
/* Gives the place back (the enclave refused the Hello). */
void kt_service_release(kt_service_table *t, size_t slot);

/* The handshake ended with a peer of this identity. KT_ERR_TOO_LARGE (counted as
 * peer_sessions) when the peer already has max_per_peer sessions, KT_ERR_NOT_FOUND
 * (unknown_session) for an id not open, KT_ERR_STATE when it is already established.
 * On a refusal the session stays open, unestablished, for the caller to end. */
kt_status kt_service_establish(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN],
                               const uint8_t peer[KT_SERVICE_PEER_ID_LEN], uint64_t now);

/* A call on session id. Waits its turn: the calls of one session run one at a time, in
 * the order they entered kt_service_call_begin. KT_ERR_NOT_FOUND (unknown_session; also
 * when the session is removed while the call waits), KT_ERR_STATE (not_established). On
 * KT_OK the caller runs the call and then gives *call to kt_service_call_end. */
kt_status kt_service_call_begin(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN], uint64_t now,
                                size_t *call);
void kt_service_call_end(kt_service_table *t, size_t call, uint64_t now);

/* Removes a session (closed, or refused by the enclave). KT_ERR_NOT_FOUND when it is not
 * open. A session in a call is removed when its last call ends. */
kt_status kt_service_remove(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN]);

/* Ends sessions whose handshake or idle time ran out at now (none that are in a call):
 * their ids go to ended(ctx, id) so the caller can drop them in the enclave too. Counts
 * each. Returns how many ended. */
size_t kt_service_expire(kt_service_table *t, uint64_t now,
                         void (*ended)(void *ctx, const uint8_t id[KT_SERVICE_ID_LEN]), void *ctx);

size_t kt_service_open_count(kt_service_table *t);
/* Calls of session id waiting for their turn (0 for an id not open). */
size_t kt_service_waiting(kt_service_table *t, const uint8_t id[KT_SERVICE_ID_LEN]);

/* Appends the table's metrics (Prometheus text): open and established sessions, and
 * refusals by reason, every reason listed (0 included) so a dashboard sees each one. */
void kt_service_metrics(kt_service_table *t, kt_buf *out);

#ifdef KT_TRUSTED
/* ---- in the enclave (kt_service_trusted) ----
 * The enclave's end of the service: built-in ECALLs kt.service.Hello, .Finish, .Call and
 * .Drop that hold every session inside the enclave and run requests with
 * kt_remote_invoke. The clients it serves are P-256 keys (x||y) the enclave compiles in,
 * so they are measured and no host chooses them:
 *   KT_SERVICE_CLIENT_KEYS({0xef, 0xf6, ...}, {...})
 * Client enclaves proving themselves by quote are served under a policy the enclave
 * compiles in (JSON: inside an enclave YAML is read in its JSON form only), verified
 * inside the enclave with collateral and time from the host (kt_attest_serve_collateral
 * in the host program; docs/protocol.md "Attestation inside an enclave"):
 *   KT_SERVICE_CLIENT_POLICY("{\"allow_simulation\":false,\"rules\":[{\"mrsigner\":\"...\"}]}")
 * Keys and a policy may be given together: a client is served when either admits it. */
#include <kubetee/session.h>
#define KT_SERVICE_MAX_CLIENTS 64
void kt_service_set_clients(const uint8_t (*keys)[64], size_t n);
/* Or every key peer that proves it holds its key (P-256 or SM2), listed or not: the
 * enclave's remote functions then decide what each caller may do, by kt_service_caller
 * (AECS: admins and service admins are keys kept in its sealed store). */
void kt_service_accept_any_key(void);
#define KT_SERVICE_ANY_CLIENT_KEY()                                                                \
    __attribute__((constructor)) static void kt__service_any_key(void)                            \
    {                                                                                              \
        kt_service_accept_any_key();                                                              \
    }
/* The policy quote clients must pass (NULL: no quote client is served); the text stays
 * the caller's and is parsed at the first Hello (a bad one refuses every Hello, naming
 * what is wrong). */
void kt_service_set_client_policy(const char *json);
#define KT_SERVICE_CLIENT_POLICY(json)                                                             \
    __attribute__((constructor)) static void kt__service_client_policy_set(void)                   \
    {                                                                                              \
        kt_service_set_client_policy(json);                                                        \
    }
/* Or any client enclave whose quote verifies here (collateral and time from the host, as
 * above) and whose platform passes p (kt_platform_policy: simulation root pinned by its
 * hash, debug, TCB statuses), whoever it is: its identity is left to the remote
 * functions (kt_service_caller; AECS: each secret's rules). Set at run time from the
 * enclave's own state (AECS: what its admin sealed), never from the host's word; p is
 * copied. Until it is set, and after NULL, no such enclave is served. KT_ERR_STATE when
 * the enclave compiled in KT_SERVICE_CLIENT_POLICY (one gate for quote clients), a
 * policy's error when p is not a usable one. Sessions established before a change keep
 * what their handshake proved. */
kt_status kt_service_accept_any_enclave(const kt_platform_policy *p);
/* Quote peers' sessions end by their age and idleness too, by the host's clock as their
 * quote's verification (seconds; 0: no limit): a request more than max_age seconds after
 * the handshake, or more than max_idle after the session's last request, is refused as
 * expired with the reason, and the session ends (the peer must re-attest with a new
 * handshake). A clock that steps back makes no session younger. And by their requests,
 * which no clock counts (0: no limit): the request after max_requests served is refused
 * the same way, so a host that holds its clock still sees sessions end. A session takes
 * the limits in force at its Hello. Key peers' sessions are not limited here. */
void kt_service_set_quote_session_limits(uint32_t max_age, uint32_t max_idle, uint32_t max_requests);
/* A peer the gate refused at the handshake (KT_SESSION_PEER_REFUSED), handed to the
 * enclave to record: the reason in the session library's words (also the peer's answer)
 * and what its proof proved (kt_session_peer_claim: a verified quote the policy refused, a
 * key that signed), or NULL when it proved nothing (a quote that does not verify, one
 * refused before it was verified): such a proof names whoever its maker typed. Malformed and forged
 * handshake messages are not handed over (the host counts them). Called in the Finish's
 * ECALL after the service's lock is let go, so it may make OCALLs. NULL: none. */
typedef void (*kt_service_refused_fn)(const char *reason, const kt_session_peer_info *claim);
void kt_service_on_refused(kt_service_refused_fn fn);
/* Inside a remote function the service runs for a session: what that session's
 * handshake proved about its peer (the only source of a caller's identity), and the
 * session id. KT_ERR_STATE anywhere else (an ECALL, another thread). */
kt_status kt_service_caller(kt_session_peer_info *info, uint8_t id[KT_SERVICE_ID_LEN]);
#define KT_SERVICE_CLIENT_KEYS(...)                                                                \
    static const uint8_t kt__service_clients[][64] = {__VA_ARGS__};                                 \
    __attribute__((constructor)) static void kt__service_clients_set(void)                         \
    {                                                                                              \
        kt_service_set_clients(kt__service_clients,                                               \
                               sizeof kt__service_clients / sizeof kt__service_clients[0]);       \
    }
#endif

#ifndef KT_TRUSTED
/* ---- on the host (kt_service_host) ----
 * Serves an enclave built with kt_service_trusted: the three methods of
 * kubetee.enclave.v1.EnclaveService for a kt_rpc server, each relaying bytes to the
 * enclave's kt.service.* ECALLs under the limits, and a thread that ends expired
 * sessions in the table and in the enclave. */
#include <kubetee/rpc.h>
#define KT_SERVICE_METHODS 3
typedef struct kt_enclave kt_enclave;
typedef struct kt_service_host kt_service_host;
kt_status kt_service_host_new(kt_enclave *e, const kt_service_limits *limits, kt_service_host **out);
void kt_service_host_free(kt_service_host *h); /* after the server that uses its methods */
size_t kt_service_host_methods(kt_service_host *h, kt_rpc_method out[KT_SERVICE_METHODS]);
/* The table's metrics, and the enclave's refusals by the session library's reasons. */
void kt_service_host_metrics(kt_service_host *h, kt_buf *out);
size_t kt_service_host_open(kt_service_host *h); /* sessions open, handshaking ones included */

/* ---- serving an enclave with one call ----
 * A gRPC server with the service's methods (plus any extra ones, on the same worker
 * threads), /healthz /readyz /metrics on an HTTP address, one log line per event:
 * started, each session established, closed, refused or expired (refusals at most 10 a
 * second in the log, all of them in /metrics), stopping, stopped. */
typedef struct {
    const char *listen;              /* gRPC "host:port" or "unix:/path" (port 0 picks one) */
    const kt_rpc_tls *tls;           /* NULL: plaintext */
    const kt_rpc_limits *rpc_limits; /* NULL: kt_rpc's defaults */
    const kt_service_limits *limits; /* NULL: kt_service_limits_default */
    const char *http;                /* /healthz /readyz /metrics address; NULL or "": none */
    int drain_ms;                    /* at the stop, calls under way get this long (0: 10 s) */
    const kt_rpc_method *extra;      /* more methods on the same server (n_extra of them) */
    size_t n_extra;
} kt_service_config;

/* max_message 1 MiB, max_sessions 64, max_per_peer 8, handshake_ms 10 s, idle_ms 5 min. */
void kt_service_limits_default(kt_service_limits *l);

typedef struct kt_service_server kt_service_server;
/* Starts serving e (which must outlive the server). */
kt_status kt_service_server_start(kt_enclave *e, const kt_service_config *c, kt_service_server **out);
int kt_service_server_port(const kt_service_server *s);      /* the gRPC port bound */
int kt_service_server_http_port(const kt_service_server *s); /* 0 without HTTP */
kt_service_host *kt_service_server_host(kt_service_server *s);
/* Drains (no new calls; calls under way get drain_ms), stops and frees. */
void kt_service_server_stop(kt_service_server *s);
/* The one call: blocks SIGTERM, SIGINT and SIGHUP (call it, or kt_svc_signalfd, before
 * starting other threads), serves until SIGTERM or SIGINT, then drains and returns. */
kt_status kt_service_serve(kt_enclave *e, const kt_service_config *c);
#endif

/* A request refused because its session ended (a quote peer's attestation, or the
 * enclave's session age or idle limit) is answered in the session, sealed: a CallResult
 * with KT_ERR_CANCELLED and this text before the reason, so the client knows, from
 * the enclave's own word and not the host's, that the request did not run and the session is
 * over (the host counts it as the refusal `expired`). */
#define KT_SERVICE_ENDED_EXPIRED "session ended (expired): "

/* ---- the client (kt_service_client in plain processes, kt_service_client_trusted in
 * enclaves: the same calls) ----
 * A session with the enclave that kubetee-serve (kt_service_serve) hosts, and remote
 * calls through it. This side proves itself with a registered key (P-256 or SM2) or, in
 * an enclave, a quote; the server's enclave must pass peer (a policy and collateral for
 * its quote). Only the Hello is sent before the server's quote has passed: no request,
 * not even the Finish, leaves before the server is verified. In an enclave the bytes go
 * out through the OCALL kt.service.Relay, which the host serves with
 * kt_service_relay_serve. One caller at a time per client. */
#include <kubetee/session.h>
#include <kubetee/tff_common.h>
typedef struct kt_service_client kt_service_client;
typedef struct {
    const kt_key *key;         /* this side's proof: a key (it outlives the client), or */
    kt_session_quote_fn quote; /* a quote of this enclave (in an enclave: kt_quote_create) */
    void *quote_ctx;
    kt_session_peer_rule peer; /* what the server must be (it outlives the handshake) */
    time_t now;                /* when the server's quote is judged (0: now; enclaves set it) */
    size_t max_payload;        /* the session's record limit (0: the session's default) */
    int timeout_ms;            /* each exchange with the service (0: 10 s) */
#ifndef KT_TRUSTED
    const kt_rpc_tls *tls; /* NULL: plaintext gRPC (the session protects the calls anyway) */
#endif
} kt_service_client_config;

/* A client for target ("host:port", "unix:/path"; in an enclave, what the host relays
 * to). Nothing is sent yet. */
kt_status kt_service_client_new(const char *target, const kt_service_client_config *c, kt_service_client **out);
/* The handshake. On failure, kt_service_client_refusal says whether this side refused
 * the server (KT_SESSION_PEER_REFUSED: its proof did not pass peer) and why; a refusal by
 * the server comes back as the service's error. */
kt_status kt_service_client_handshake(kt_service_client *c);
kt_session_refusal kt_service_client_refusal(const kt_service_client *c);
/* Whether the session can go on: false before the handshake passed and once a step failed
 * midway (the link, or the server ending the session: only free remains). A remote
 * function's refusal, answered through the session, leaves it usable. */
bool kt_service_client_usable(const kt_service_client *c);
/* new + handshake; nothing to free on failure. */
kt_status kt_service_client_connect(const char *target, const kt_service_client_config *c, kt_service_client **out);
/* What the handshake proved about the server. */
kt_status kt_service_client_peer(const kt_service_client *c, kt_session_peer_info *info);
/* The session's id (what a server may sign to prove something over this session). */
kt_status kt_service_client_session_id(const kt_service_client *c, uint8_t id[KT_SERVICE_ID_LEN]);
/* One remote call by name: request (packed, of request_type) in, the packed response of
 * response_type appended to response. The function's or the gate's failure comes back
 * as its status with its reason. A failure in the middle of the exchange (the transport)
 * ends the session: the next call is KT_ERR_STATE. */
kt_status kt_service_client_call_bytes(kt_service_client *c, const char *function, const char *request_type,
                                       const uint8_t *request, size_t n, const char *response_type, kt_buf *response);
/* The same with messages: *response is freed with protobuf_c_message_free_unpacked. */
kt_status kt_service_client_call(kt_service_client *c, const char *function, const ProtobufCMessage *request,
                                 const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **response);
/* kt.Describe: a packed kubetee.enclave.v1.DescribeResponse (its remote functions and
 * their types), through the session, so no host can hand the client other field numbers. */
kt_status kt_service_client_describe(kt_service_client *c, kt_buf *describe);
/* The authenticated close, both ways (the server's close record must come back). */
kt_status kt_service_client_close(kt_service_client *c);
void kt_service_client_free(kt_service_client *c);

#ifndef KT_TRUSTED
/* For a host whose enclaves are clients: serves the OCALL kt.service.Relay,
 * carrying each step to the service the enclave names over gRPC (TLS when tls is given;
 * what it points to must stay valid). */
kt_status kt_service_relay_serve(const kt_rpc_tls *tls);
#endif

#ifdef __cplusplus
}
#endif
#endif
