/* /healthz, /readyz and /metrics with libmicrohttpd; optionally a POST path and TLS
 * (Debian's libmicrohttpd is built with GnuTLS). */
#include <kubetee/svc.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One libmicrohttpd daemon; a TLS reload makes a new one on the same socket while the old
 * one finishes its requests. */
typedef struct srv {
    struct MHD_Daemon *d;
    struct kt_http *h;
    atomic_int inflight;
    struct timespec since;
} srv;

enum { REFUSE_METHOD, REFUSE_NOT_FOUND, REFUSE_TYPE, REFUSE_SIZE, REFUSE_TARGET, REFUSE_COUNT };
static const char *refuse_names[REFUSE_COUNT] = {"method", "not_found", "content_type", "too_large",
                                                 "target"};

/* Connections: at most KT_HTTP_PER_IP from one address, so slow clients on one address
 * cannot take the slots kubelet's probes need; one silent for KT_HTTP_IDLE_S is closed. */
enum { KT_HTTP_CONNECTIONS = 512, KT_HTTP_PER_IP = 16, KT_HTTP_IDLE_S = 5 };

/* A path that takes a body: the spec's post path, or one of its routes. */
typedef struct {
    char *method, *path, *type;
    size_t max_body;
    kt_http_admit_fn admit;
    kt_http_body_fn reply;
    kt_http_post_fn post;
} route;

struct kt_http {
    kt_http_spec spec;
    char *prefix, *cert, *key;
    route *routes;
    size_t route_count;
    struct sockaddr_in sa;
    pthread_mutex_t lock; /* cur, old */
    srv *cur, *old;
    atomic_ullong refused[REFUSE_COUNT];
};

/* A request under way: a POST's body so far; for a get handler, the target as sent
 * (where it began in MHD's buffer too, to see that nothing followed a NUL) and whether the
 * headers have been seen (libmicrohttpd keeps a connection alive only when the response is
 * queued after the first call). */
typedef struct {
    kt_buf body;
    bool counted;
    bool started;
    char *uri;
    const char *uri_at;
} upload;

/* Before the handler's first call, for a spec with a get handler: the target as sent. */
static void *keep_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    upload *u = calloc(1, sizeof *u);
    if (u && !(u->uri = strdup(uri ? uri : ""))) {
        free(u);
        u = NULL;
    }
    if (u) u->uri_at = uri;
    return u;
}

const char *kt_http_request_header(const kt_http_reply *r, const char *name)
{
    return r && r->request ? MHD_lookup_connection_value(r->request, MHD_HEADER_KIND, name) : NULL;
}

static enum MHD_Result queue_reply(struct MHD_Connection *c, kt_http_reply *r);

/* A get handler's reply: body, type and "Name: value" header lines. */
static enum MHD_Result reply_get(kt_http *h, struct MHD_Connection *c, const char *method,
                                 const char *uri)
{
    kt_http_reply r = {.code = 500, .request = c};
    h->spec.get(h->spec.ctx, method, uri, &r);
    return queue_reply(c, &r);
}

static enum MHD_Result queue_reply(struct MHD_Connection *c, kt_http_reply *rp)
{
    kt_http_reply r = *rp;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r.body.len, r.body.len ? r.body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok = MHD_NO;
    bool whole = resp != NULL;
    if (resp)
        whole = MHD_add_response_header(resp, "Content-Type",
                                        r.content_type ? r.content_type : "text/plain") == MHD_YES;
    char *line = (char *)r.headers.data, *end = line + r.headers.len;
    while (whole && line && line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *colon = memchr(line, ':', (size_t)((nl ? nl : end) - line));
        if (!nl || !colon) break;
        *nl = *colon = '\0';
        whole =
            MHD_add_response_header(resp, line, colon[1] == ' ' ? colon + 2 : colon + 1) == MHD_YES;
        line = nl + 1;
    }
    if (whole && line == end) ok = MHD_queue_response(c, r.code, resp);
    if (resp) MHD_destroy_response(resp);
    kt_buf_free(&r.body);
    kt_buf_free(&r.headers);
    return ok;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result refuse(kt_http *h, struct MHD_Connection *c, const char *url, int why,
                              unsigned code, const char *msg)
{
    atomic_fetch_add(&h->refused[why], 1);
    kt_log(KT_LOG_WARN, "http.refused", "reason", refuse_names[why], "path", url, NULL);
    return reply(c, code, "text/plain", msg, strlen(msg));
}

/* application/json, or application/json; charset=utf-8 */
static bool type_is(const char *got, const char *want)
{
    size_t n = strlen(want);
    if (!got || strncasecmp(got, want, n)) return false;
    return got[n] == '\0' || got[n] == ';' || got[n] == ' ';
}

/* GET and HEAD take no body: refused from the headers, before any body byte is read. */
static bool has_body(struct MHD_Connection *c)
{
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return te || (cl && strcmp(cl, "0"));
}

static enum MHD_Result take_body(srv *s, struct MHD_Connection *c, const route *rt,
                                 const char *method, const char *upload_data, size_t *upload_size,
                                 void **state)
{
    kt_http *h = s->h;
    upload *u = *state;
    if (!u || !u->started) { /* headers only: the cheap checks, before any of the body is read */
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (rt->type && !type_is(type, rt->type)) {
            char msg[160];
            snprintf(msg, sizeof msg, "Content-Type must be %s\n", rt->type);
            return refuse(h, c, rt->path, REFUSE_TYPE, 415, msg);
        }
        if (!rt->type && has_body(c))
            return refuse(h, c, rt->path, REFUSE_SIZE, 413,
                          "request bodies are not accepted here\n");
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        uint64_t n = 0;
        if (len && (kt_decimal_parse(len, UINT64_MAX, &n) || n > rt->max_body))
            return refuse(h, c, rt->path, REFUSE_SIZE, 413, "request body too large\n");
        if (rt->admit) {
            kt_http_reply r = {.code = 500, .request = c};
            if (!rt->admit(h->spec.ctx, &r)) return queue_reply(c, &r);
            kt_buf_free(&r.body);
            kt_buf_free(&r.headers);
        }
        if (!u && !(u = calloc(1, sizeof *u))) return MHD_NO;
        u->started = u->counted = true;
        atomic_fetch_add(&s->inflight, 1);
        *state = u;
        return MHD_YES;
    }
    if (*upload_size) { /* chunked bodies carry no length: the limit holds as they come */
        if (u->body.len + *upload_size > rt->max_body) {
            /* no response can be queued halfway through a body: the connection is closed
             * rather than the rest read */
            atomic_fetch_add(&h->refused[REFUSE_SIZE], 1);
            kt_log(KT_LOG_WARN, "http.refused", "reason", "too_large", "path", rt->path, NULL);
            return MHD_NO;
        }
        if (kt_buf_append(&u->body, upload_data, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rt->reply) {
        kt_http_reply r = {.code = 500, .request = c};
        rt->reply(h->spec.ctx, method, u->uri ? u->uri : rt->path, u->body.data, u->body.len, &r);
        return queue_reply(c, &r);
    }
    kt_buf out = {0};
    const char *out_type = "application/json";
    unsigned code = rt->post(h->spec.ctx, u->body.data, u->body.len, &out, &out_type);
    enum MHD_Result ok = reply(c, code, out_type, out.data ? (char *)out.data : "", out.len);
    kt_buf_free(&out);
    return ok;
}

/* The request target must be exactly the path MHD hands over: no NUL inside it ("/healthz\0x"
 * would otherwise be served as /healthz), no query, no %-escapes (no endpoint takes one).
 * The operator endpoints take none of these. MHD parses the request line in place, so the target's
 * raw bytes run from url up to the space before version; anything MHD cut off or unescaped makes
 * the two differ, and an MHD that copied the strings elsewhere would fail closed (every request
 * 400, which the tests would show at once). */
static bool target_is_path(const char *url, const char *version)
{
    return version == url + strlen(url) + 1;
}

/* Where a request to url goes: the route of its method, else (*path_known) whether any
 * route has that path. */
static const route *find_route(const kt_http *h, const char *url, const char *method,
                               bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < h->route_count; i++) {
        if (strcmp(url, h->routes[i].path)) continue;
        *path_known = true;
        if (!strcmp(method, h->routes[i].method)) return &h->routes[i];
    }
    return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **state)
{
    srv *s = cls;
    kt_http *h = s->h;
    /* the POST path may carry a query (kube-apiserver adds ?timeout=10s), which its
     * handler never reads */
    bool path_known;
    const route *rt = find_route(h, url, method, &path_known);
    upload *u = *state; /* a spec with a get handler: every request has one */
    if (rt && h->spec.get) {
        /* the handler reads the target as sent: its path must be the route's exactly
         * (nothing %-escaped in it, no NUL) */
        size_t pl = strlen(rt->path);
        if (!u || version != u->uri_at + strlen(u->uri) + 1 || strncmp(u->uri, rt->path, pl) ||
            (u->uri[pl] && u->uri[pl] != '?'))
            return refuse(h, c, url, REFUSE_TARGET, 400,
                          "request target must be the path as named, with no NUL\n");
    }
    if (rt) return take_body(s, c, rt, method, upload_data, upload_size, state);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (path_known && (!get || !h->spec.get))
        return refuse(h, c, url, REFUSE_METHOD, 405, "method not allowed\n");
    if (*upload_size) return MHD_NO;
    bool operator= !strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics");
    if (h->spec.get && !operator) {
        /* the handler reads the target as sent, query and all; a NUL in it would hide what
         * follows, so the target must end where the request line says */
        if (!u || version != u->uri_at + strlen(u->uri) + 1)
            return refuse(h, c, url, REFUSE_TARGET, 400, "request target must hold no NUL\n");
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return refuse(h, c, url, REFUSE_METHOD, 405, "method not allowed\n");
        if (has_body(c))
            return refuse(h, c, url, REFUSE_SIZE, 413, "request bodies are not accepted here\n");
        if (!u->started) {
            u->started = u->counted = true;
            atomic_fetch_add(&s->inflight, 1);
            return MHD_YES;
        }
        return reply_get(h, c, method, u->uri);
    }
    if (!target_is_path(url, version))
        return refuse(h, c, url, REFUSE_TARGET, 400,
                      "request target must be a plain path (no NUL, query or escapes)\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return refuse(h, c, url, REFUSE_METHOD, 405, "method not allowed\n");
    if (has_body(c))
        return refuse(h, c, url, REFUSE_SIZE, 413, "request bodies are not accepted here\n");
    if (!strcmp(url, "/healthz")) return reply(c, 200, "text/plain", "ok\n", 3);
    if (!strcmp(url, "/readyz")) {
        bool ready = !h->spec.ready || h->spec.ready(h->spec.ctx);
        return ready ? reply(c, 200, "text/plain", "ready\n", 6)
                     : reply(c, 503, "text/plain", "not ready\n", 10);
    }
    if (!strcmp(url, "/metrics")) {
        kt_buf b = {0};
        if (h->spec.metrics) h->spec.metrics(h->spec.ctx, &b);
        if (h->prefix) {
            char name[160];
            snprintf(name, sizeof name, "%s_http_refusals_total", h->prefix);
            for (int i = 0; i < REFUSE_COUNT; i++) {
                char label[64];
                snprintf(label, sizeof label, "reason=\"%s\"", refuse_names[i]);
                kt_metric(&b, name, "counter",
                          i ? NULL : "HTTP requests refused before the handler, by reason", label,
                          (double)atomic_load(&h->refused[i]));
            }
        }
        enum MHD_Result ok =
            reply(c, 200, "text/plain; version=0.0.4", b.data ? (char *)b.data : "", b.len);
        kt_buf_free(&b);
        return ok;
    }
    return refuse(h, c, url, REFUSE_NOT_FOUND, 404, "not found\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode why)
{
    (void)c, (void)why;
    srv *s = cls;
    upload *u = *state;
    if (!u) return;
    if (u->counted) atomic_fetch_sub(&s->inflight, 1);
    kt_buf_free(&u->body);
    free(u->uri);
    free(u);
    *state = NULL;
}

/* A daemon on the address, or on fd (a socket another daemon gave up) when fd >= 0. */
static srv *srv_start(kt_http *h, const char *cert, const char *key, int fd)
{
    srv *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->h = h;
    clock_gettime(CLOCK_MONOTONIC, &s->since);
    /* epoll, not select(): a process holding more than FD_SETSIZE descriptors (a gRPC
     * server with many connections) must still answer its probes */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | (cert ? MHD_USE_TLS : 0);
    unsigned threads = h->spec.threads > 1 ? h->spec.threads : 0;
    struct MHD_OptionItem opts[] = {
        {fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR, fd, fd >= 0 ? NULL : &h->sa},
        {MHD_OPTION_CONNECTION_LIMIT, KT_HTTP_CONNECTIONS, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT,
         h->spec.per_address ? h->spec.per_address : KT_HTTP_PER_IP, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, threads, NULL},
        /* a get handler sees the target as sent; MHD passes it decoded */
        {h->spec.get ? MHD_OPTION_URI_LOG_CALLBACK : MHD_OPTION_CONNECTION_TIMEOUT,
         h->spec.get ? (intptr_t)keep_uri : KT_HTTP_IDLE_S, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, KT_HTTP_IDLE_S, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16384, NULL}, /* request line and headers */
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s},
        /* without a certificate the list ends here: plain HTTP */
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key},
        /* TLS 1.2 and 1.3 only, our order of ciphers */
        {MHD_OPTION_HTTPS_PRIORITIES, 0,
         (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"},
        {MHD_OPTION_END, 0, NULL},
    };
    s->d = MHD_start_daemon(flags, ntohs(h->sa.sin_port), NULL, NULL, handle, s, MHD_OPTION_ARRAY,
                            opts, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    return s;
}

static void srv_stop(srv *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}

static void http_free(kt_http *h)
{
    for (size_t i = 0; h->routes && i < h->route_count; i++) {
        free(h->routes[i].method);
        free(h->routes[i].path);
        free(h->routes[i].type);
    }
    free(h->routes);
    free(h->prefix);
    free(h->cert);
    if (h->key) {
        OPENSSL_cleanse(h->key, strlen(h->key));
        free(h->key);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *ok = false;
    return d;
}

kt_status kt_http_serve(const kt_http_spec *spec, kt_http **out, int *port)
{
    if (!spec || !spec->address || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: NULL argument");
    if (spec->post_path && (!spec->post || !spec->post_type || !spec->max_body))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: a POST path needs a handler, type, size");
    for (size_t i = 0; i < spec->route_count; i++)
        if (!spec->get || !spec->routes[i].method || !spec->routes[i].path ||
            !spec->routes[i].reply || (spec->routes[i].type && !spec->routes[i].max_body))
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "http: a route needs a get handler beside it, a method, path, handler "
                           "and a size for its body");
    if (!spec->tls_cert_pem != !spec->tls_key_pem)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: TLS needs both a certificate and a key");
    const char *address = spec->address;
    const char *colon = strrchr(address, ':');
    char host[64] = "0.0.0.0";
    if (!colon || colon - address >= (long)sizeof host)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: address '%s' is not host:port", address);
    if (colon > address) snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    uint64_t p = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (kt_decimal_parse(colon + 1, 65535, &p) || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: address '%s' is not IPv4 host:port",
                       address);
    sa.sin_port = htons((uint16_t)p);
    kt_http *h = calloc(1, sizeof *h);
    if (!h) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&h->lock, NULL);
    h->spec = *spec;
    h->sa = sa;
    bool ok = true;
    h->route_count = spec->route_count + (spec->post_path != NULL);
    h->routes = calloc(h->route_count ? h->route_count : 1, sizeof *h->routes);
    ok = h->routes != NULL;
    for (size_t i = 0; ok && i < spec->route_count; i++) {
        const kt_http_route *from = &spec->routes[i];
        route *to = &h->routes[i];
        to->method = dup_or_null(from->method, &ok);
        to->path = dup_or_null(from->path, &ok);
        to->type = dup_or_null(from->type, &ok);
        to->max_body = from->max_body;
        to->admit = from->admit;
        to->reply = from->reply;
    }
    if (ok && spec->post_path) { /* the POST path: one more route */
        route *to = &h->routes[spec->route_count];
        to->method = dup_or_null("POST", &ok);
        to->path = dup_or_null(spec->post_path, &ok);
        to->type = dup_or_null(spec->post_type, &ok);
        to->max_body = spec->max_body;
        to->post = spec->post;
    }
    h->prefix = dup_or_null(spec->metric_prefix, &ok);
    h->cert = dup_or_null(spec->tls_cert_pem, &ok);
    h->key = dup_or_null(spec->tls_key_pem, &ok);
    h->spec.address = h->spec.post_path = h->spec.post_type = h->spec.metric_prefix = NULL;
    h->spec.routes = NULL;
    h->spec.tls_cert_pem = h->spec.tls_key_pem = NULL;
    if (!ok) {
        http_free(h);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    if (!(h->cur = srv_start(h, h->cert, h->key, -1))) {
        http_free(h);
        return kt_fail(KT_ERR_IO, "http: cannot listen on %s%s", address,
                       spec->tls_cert_pem ? " (or the TLS certificate or key is unusable)" : "");
    }
    if (port) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->cur->d, MHD_DAEMON_INFO_BIND_PORT);
        *port = i ? i->port : (int)p;
    }
    kt_log(KT_LOG_INFO, "http.listening", "address", address, "tls",
           spec->tls_cert_pem ? "true" : "false", NULL);
    *out = h;
    return KT_OK;
}

kt_status kt_http_start(const char *address, kt_http_ready_fn ready, kt_http_metrics_fn metrics,
                        void *ctx, kt_http **out, int *port)
{
    kt_http_spec spec = {.address = address, .ready = ready, .metrics = metrics, .ctx = ctx};
    return kt_http_serve(&spec, out, port);
}

kt_status kt_http_reload_tls(kt_http *h, const char *cert_pem, const char *key_pem)
{
    if (!h || !cert_pem || !key_pem || !h->cert)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "http: reload needs a TLS server, cert and key");
    char *cert = strdup(cert_pem), *key = strdup(key_pem);
    if (!cert || !key) {
        free(cert);
        free(key);
        return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    }
    pthread_mutex_lock(&h->lock);
    srv_stop(h->old); /* a server replaced one reload ago has had its time */
    h->old = NULL;
    MHD_socket fd = MHD_quiesce_daemon(h->cur->d);
    kt_status st = KT_OK;
    srv *s = fd == MHD_INVALID_SOCKET ? NULL : srv_start(h, cert, key, fd);
    if (!s) {
        st = kt_fail(KT_ERR_CRYPTO, "http: the new TLS certificate or key is unusable");
        free(cert);
        OPENSSL_cleanse(key, strlen(key));
        free(key);
        s = fd == MHD_INVALID_SOCKET ? NULL : srv_start(h, h->cert, h->key, fd);
        if (!s) { /* cannot happen short of memory: keep the quiesced one, log it */
            pthread_mutex_unlock(&h->lock);
            kt_log(KT_LOG_ERROR, "http.reload_lost_listener", NULL);
            return kt_fail(KT_ERR_IO, "http: the listening socket was lost in a reload");
        }
    } else {
        free(h->cert);
        OPENSSL_cleanse(h->key, strlen(h->key));
        free(h->key);
        h->cert = cert;
        h->key = key;
    }
    h->old = h->cur;
    h->cur = s;
    pthread_mutex_unlock(&h->lock);
    return st;
}

static long age_ms(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

void kt_http_retire(kt_http *h, unsigned max_ms)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    if (h->old && (atomic_load(&h->old->inflight) == 0 || age_ms(&h->old->since) >= max_ms)) {
        srv_stop(h->old);
        h->old = NULL;
    }
    pthread_mutex_unlock(&h->lock);
}

void kt_http_drain(kt_http *h, unsigned max_ms)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    MHD_socket fd = MHD_quiesce_daemon(h->cur->d);
    /* connections that would wait in the backlog are refused now; the descriptor itself
     * stays open until the daemon has stopped, as libmicrohttpd asks */
    if (fd != MHD_INVALID_SOCKET) shutdown(fd, SHUT_RDWR);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (age_ms(&t0) < max_ms &&
           (atomic_load(&h->cur->inflight) > 0 || (h->old && atomic_load(&h->old->inflight) > 0)))
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    pthread_mutex_unlock(&h->lock);
    kt_http_stop(h);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void kt_http_stop(kt_http *h)
{
    if (!h) return;
    srv_stop(h->old);
    srv_stop(h->cur);
    http_free(h);
}

void kt_metric(kt_buf *out, const char *name, const char *type, const char *help,
               const char *labels, double value)
{
    if (help) kt_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    kt_buf_printf(out, "%s%s%s%s %.17g\n", name, labels ? "{" : "", labels ? labels : "",
                  labels ? "}" : "", value);
}
