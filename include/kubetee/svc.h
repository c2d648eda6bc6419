/* kubetee svc: what every kubetee service exposes over HTTP for its operators:
 *   /healthz  200 while the process serves requests at all
 *   /readyz   200 when ready() says so, else 503
 *   /metrics  Prometheus text exposition from metrics()
 * (libmicrohttpd, its own thread). kt_http_serve adds TLS, one POST path for services
 * that take requests over HTTP (sgx-webhook), a service's own GET paths and routes with
 * other methods (the collateral proxy). */
#ifndef KUBETEE_SVC_H
#define KUBETEE_SVC_H

#include <kubetee/base.h>
#include <kubetee/yaml.h>

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_http kt_http;
typedef bool (*kt_http_ready_fn)(void *ctx);
/* Appends metrics in Prometheus text format to out. */
typedef void (*kt_http_metrics_fn)(void *ctx, kt_buf *out);

/* address: "host:port" or ":port" (all interfaces); port 0 picks one, returned in *port. */
kt_status kt_http_start(const char *address, kt_http_ready_fn ready, kt_http_metrics_fn metrics,
                        void *ctx, kt_http **out, int *port);
void kt_http_stop(kt_http *h);

/* A service that takes requests too (a webhook): the same operator endpoints, plus POST
 * bodies on one path, over TLS when a certificate is given. The body's Content-Type must be
 * post_type (parameters after ';' allowed) and its size at most max_body, both checked
 * before the body is read (415, 413); other methods on post_path get 405. The handler
 * writes the response body to out and returns the HTTP status; *out_type is its type. */
typedef unsigned (*kt_http_post_fn)(void *ctx, const uint8_t *body, size_t n, kt_buf *out,
                                    const char **out_type);
/* A service's own GET and HEAD paths (the collateral proxy): every other path, the request
 * target as sent (path and query, nothing decoded). The handler fills the reply. */
typedef struct {
    unsigned code;
    const char *content_type; /* a static string; NULL: text/plain */
    kt_buf body;
    kt_buf headers; /* "Name: value\n" lines, values on one line */
    void *request;  /* in: the request, for kt_http_request_header (NULL: none) */
} kt_http_reply;
/* A header of the request a reply answers (NULL when absent, or for a reply with none). */
const char *kt_http_request_header(const kt_http_reply *r, const char *name);
/* A service's paths that take a method other than GET (the collateral proxy's admin
 * paths): method and path exactly; the body's Content-Type must be type (NULL: no body is
 * taken, a Content-Length above 0 gets 413) and its size at most max_body, both checked
 * before the body is read; admit, when set, judges the headers before any of the body is
 * read and fills the reply when it refuses. The handler sees the target as sent (the
 * query too, nothing decoded: a spec with routes needs a get handler) and fills the reply
 * like a get handler. GET and HEAD on a route's path go to the get handler. */
typedef void (*kt_http_body_fn)(void *ctx, const char *method, const char *raw_uri,
                                const uint8_t *body, size_t n, kt_http_reply *reply);
typedef bool (*kt_http_admit_fn)(void *ctx, kt_http_reply *reply);
typedef struct {
    const char *method, *path, *type;
    size_t max_body;
    kt_http_admit_fn admit;
    kt_http_body_fn reply;
} kt_http_route;
typedef void (*kt_http_get_fn)(void *ctx, const char *method, const char *raw_uri,
                               kt_http_reply *reply);
typedef struct {
    const char *address;      /* "host:port" or ":port" */
    const char *tls_cert_pem; /* NULL: plain HTTP; else a PEM chain (TLS 1.2 and 1.3 only) */
    const char *tls_key_pem;
    kt_http_ready_fn ready;
    kt_http_metrics_fn metrics;
    const char *post_path; /* NULL: no POST */
    const char *post_type;
    size_t max_body;
    kt_http_post_fn post;
    void *ctx;
    const char *metric_prefix;   /* refusals before the handler: <prefix>_http_refusals_total */
    unsigned per_address;        /* connections from one address at once (0: 16, for probes) */
    kt_http_get_fn get;          /* NULL: other paths are 404 */
    unsigned threads;            /* serving threads; 0: one */
    const kt_http_route *routes; /* route_count of them, copied */
    size_t route_count;
} kt_http_spec;

kt_status kt_http_serve(const kt_http_spec *spec, kt_http **out, int *port);
/* New TLS credentials without closing the listening socket: a new server takes it over,
 * the old one finishes the requests it has (kt_http_retire stops it). On failure the old
 * credentials stay in use. */
kt_status kt_http_reload_tls(kt_http *h, const char *cert_pem, const char *key_pem);
/* Stops a replaced server once its requests are done or it is older than max_ms. */
void kt_http_retire(kt_http *h, unsigned max_ms);
/* Stops accepting, waits up to max_ms for requests under way, then stops. */
void kt_http_drain(kt_http *h, unsigned max_ms);

/* Blocks SIGTERM, SIGINT and SIGHUP (before any thread starts, so every thread inherits
 * the mask), ignores SIGPIPE, and returns a signalfd that reads them (-1 on failure). */
int kt_svc_signalfd(void);

/* Appends one sample: name{labels} value, with a HELP/TYPE header when help is given. */
void kt_metric(kt_buf *out, const char *name, const char *type, const char *help,
               const char *labels, double value);

/* The exit status of every service whose settings or command line are refused (a bad
 * key, variable, flag or value; a configuration file that does not read): docs/operations.md,
 * "Configuration (every service)". */
#define KT_SVC_EXIT_SETTINGS 2

/* ---- settings (settings.c, settings_value.c, settings_text.c) ----
 * A service's settings as one table: each row a YAML key of the configuration file, an
 * environment variable and a flag, read into a field of the service's own struct.
 * Precedence: a flag wins over the environment, which wins over the file, which wins
 * over the row's default. Every source is checked whole: an unknown YAML key, flag or
 * variable with the service's prefix, a key or flag given twice, a value that is not of
 * its type (numbers are plain decimal: no sign, base prefix, leading zero or trailing
 * bytes) or out of its range is an error naming the source (file:line, the variable or
 * the flag) and the value, escaped; a secret's value is never shown. docs/operations.md,
 * "Configuration". */
typedef enum {
    KT_SET_STRING,   /* one line of text (no control bytes): char[size] */
    KT_SET_PATH,     /* a file name, the same; KT_SET_ABSOLUTE: starting with '/' */
    KT_SET_BOOL,     /* true or false: bool */
    KT_SET_UINT,     /* decimal min..max: an unsigned integer of size 4 or 8 */
    KT_SET_DURATION, /* decimal with ms, s, m or h (bare: the field's unit), min..max in it */
    KT_SET_ENUM,     /* one of words: char[size] */
    KT_SET_LIST      /* comma-separated (YAML: a list too), min..max items, each once:
                        char[size] as item,item */
} kt_setting_type;

#define KT_SET_SECRET 1u   /* a token, key or password: never printed (dump, errors) */
#define KT_SET_REQUIRED 2u /* empty after every source is an error */
#define KT_SET_NO_FILE 4u  /* not a YAML key (environment or flag only) */
#define KT_SET_ABSOLUTE 8u /* a path that starts with '/' */
#define KT_SET_ENV_NAME 16u /* names an environment variable that is then not unknown */

typedef struct {
    const char *name;  /* the YAML key; "tls.cert": key cert of the mapping tls */
    kt_setting_type type;
    size_t off, size;  /* the field in the service's struct (KT_SET_FIELD) */
    const char *def;   /* the default, as text (NULL: empty, false or 0) */
    const char *help;
    uint64_t min, max;        /* uint, duration: the range; list: how many items */
    const char *const *words; /* enum: the values allowed, NULL-terminated */
    unsigned unit_ms;         /* duration: the field's unit, 1000 (s) or 1 (ms; 0 too) */
    const char *env;          /* NULL: the prefix and NAME ('.' and '-' as '_'); "": none */
    const char *flag;         /* NULL: the name ('.' and '_' as '-'); "": none */
    unsigned opts;            /* KT_SET_SECRET ... */
} kt_setting;
#define KT_SET_FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)
/* A spec's table and count from an array. */
#define KT_SET_TABLE(rows) .table = rows, .count = sizeof rows / sizeof rows[0]

typedef struct {
    const char *prog;         /* in errors and usage */
    const char *usage;        /* the lines of --help before the settings */
    const char *env_prefix;   /* "KT_COLLATERAL_": every such variable must be a setting's */
    const kt_setting *table;
    size_t count;
    const char *const *sections; /* top-level YAML keys the service reads itself (NULL: none) */
    bool config_required;        /* --config (or <prefix>CONFIG) must be given */
} kt_settings_spec;

/* Fills obj: defaults, then the YAML file of --config FILE or <prefix>CONFIG, then the
 * environment, then argv[0..argc) (--name VALUE or --name=VALUE; no program name). --help
 * or -h prints the usage to stdout and sets *help. With doc, the file's document is kept
 * there for the sections (NULL without a file; kt_yaml_free). Errors in argv itself (an
 * unknown or repeated flag, a missing value, a stray argument) are KT_ERR_INVALID_ARGUMENT,
 * bad values KT_ERR_MALFORMED or KT_ERR_TOO_LARGE. */
kt_status kt_settings_load(const kt_settings_spec *s, void *obj, int argc, char *const *argv,
                           bool *help, kt_y **doc);
/* Defaults, then YAML bytes (name: the file's name in errors): the file step alone. */
kt_status kt_settings_parse(const kt_settings_spec *s, void *obj, const char *text, size_t n,
                            const char *name, kt_y **doc);
/* --help: s->usage, then each setting with its variable, flag, type and default. */
void kt_settings_usage(const kt_settings_spec *s, FILE *f);
/* One log line of the settings in effect (event: e.g. "collateral.settings"), each a
 * field; secrets say only whether they are set. */
void kt_settings_log(const kt_settings_spec *s, const void *obj, const char *event);

#ifdef __cplusplus
}
#endif
#endif
