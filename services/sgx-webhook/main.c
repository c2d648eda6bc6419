/* sgx-webhook: the mutating admission webhook for SGX pods (review.h, mutate.c), served
 * over HTTPS by libmicrohttpd (Debian builds it with GnuTLS). One thread for signals and
 * the certificate watch; requests run on the server's thread. */
#include "config.h"
#include <kubetee/svc.h>

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const outcome_names[] = {"unchanged", "mutated", "refused", "invalid"};

typedef struct {
    wh_settings s;
    atomic_bool ready;
    atomic_ullong outcomes[4], reasons[WH_REASONS], ops, reloads_ok, reloads_failed;
    atomic_llong not_after;
} webhook;

static unsigned on_post(void *ctx, const uint8_t *body, size_t n, kt_buf *out,
                        const char **out_type)
{
    webhook *w = ctx;
    wh_result r;
    unsigned code = wh_review(&w->s.review, body, n, out, &r);
    *out_type = r.outcome == WH_INVALID ? "text/plain" : "application/json";
    atomic_fetch_add(&w->outcomes[r.outcome], 1);
    if (r.reason) atomic_fetch_add(&w->reasons[r.reason], 1);
    atomic_fetch_add(&w->ops, r.ops);
    char ops[24];
    snprintf(ops, sizeof ops, "%zu", r.ops);
    kt_log(r.outcome >= WH_REFUSED ? KT_LOG_WARN : KT_LOG_INFO, "wh.review", "uid", r.uid,
           "namespace", r.namespace_, "pod", r.pod, "outcome", outcome_names[r.outcome], "reason",
           wh_reason_names[r.reason], "ops", ops, "message", r.message, NULL);
    return code;
}

static bool ready(void *ctx)
{
    return atomic_load(&((webhook *)ctx)->ready);
}

static void metrics(void *ctx, kt_buf *out)
{
    webhook *w = ctx;
    char l[64];
    for (int i = 0; i < 4; i++) {
        snprintf(l, sizeof l, "outcome=\"%s\"", outcome_names[i]);
        kt_metric(out, "kubetee_webhook_reviews_total", "counter",
                  i ? NULL : "AdmissionReviews answered, by outcome", l,
                  (double)atomic_load(&w->outcomes[i]));
    }
    for (int i = 1; i < WH_REASONS; i++) {
        snprintf(l, sizeof l, "reason=\"%s\"", wh_reason_names[i]);
        kt_metric(out, "kubetee_webhook_refusals_total", "counter",
                  i > 1 ? NULL : "reviews refused or unanswerable, by reason", l,
                  (double)atomic_load(&w->reasons[i]));
    }
    kt_metric(out, "kubetee_webhook_patch_operations_total", "counter",
              "JSON Patch operations returned", NULL, (double)atomic_load(&w->ops));
    kt_metric(out, "kubetee_webhook_tls_reloads_total", "counter",
              "serving certificate reloads, by result", "result=\"ok\"",
              (double)atomic_load(&w->reloads_ok));
    kt_metric(out, "kubetee_webhook_tls_reloads_total", NULL, NULL, "result=\"failed\"",
              (double)atomic_load(&w->reloads_failed));
    kt_metric(out, "kubetee_webhook_tls_not_after_seconds", "gauge",
              "the serving certificate's notAfter, Unix time", NULL,
              (double)atomic_load(&w->not_after));
    kt_metric(out, "kubetee_webhook_ready", "gauge", "1 while serving, 0 while draining", NULL,
              atomic_load(&w->ready));
}

/* Reads the certificate and key and checks that they belong together, so a bad pair is
 * named here rather than as a failed handshake later. */
static kt_status load_pair(webhook *w, kt_buf *cert, kt_buf *key)
{
    kt_status st = kt_file_read(w->s.cert_file, 1 << 20, cert);
    if (!st) st = kt_file_read(w->s.key_file, 1 << 20, key);
    if (!st) st = kt_buf_append(cert, "", 1) || kt_buf_append(key, "", 1);
    if (st) return st;
    BIO *cb = BIO_new_mem_buf(cert->data, (int)cert->len), *kb = BIO_new_mem_buf(key->data, (int)key->len);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    if (!x) st = kt_fail(KT_ERR_MALFORMED, "%s: no PEM certificate", w->s.cert_file);
    else if (!k) st = kt_fail(KT_ERR_MALFORMED, "%s: no PEM private key", w->s.key_file);
    else if (X509_check_private_key(x, k) != 1)
        st = kt_fail(KT_ERR_VERIFY, "%s is not the key of %s", w->s.key_file, w->s.cert_file);
    else {
        struct tm tm;
        if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) atomic_store(&w->not_after, timegm(&tm));
    }
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return st;
}

typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} stamp;

static void stamp_of(const char *path, stamp *s)
{
    struct stat sb;
    memset(s, 0, sizeof *s);
    if (stat(path, &sb) == 0) *s = (stamp){sb.st_dev, sb.st_ino, sb.st_size, sb.st_mtim};
}

static bool stamp_same(const stamp *a, const stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void reload(webhook *w, kt_http *h, const char *why)
{
    kt_buf cert = {0}, key = {0};
    kt_status st = load_pair(w, &cert, &key);
    if (!st) st = kt_http_reload_tls(h, (char *)cert.data, (char *)key.data);
    kt_buf_free(&cert);
    kt_buf_free(&key);
    atomic_fetch_add(st ? &w->reloads_failed : &w->reloads_ok, 1);
    if (st)
        kt_log(KT_LOG_ERROR, "wh.tls_reload_failed", "why", why, "reason", kt_last_error(),
               "serving", "previous certificate", NULL);
    else
        kt_log(KT_LOG_INFO, "wh.tls_reloaded", "why", why, "cert", w->s.cert_file, NULL);
}

int main(int argc, char **argv)
{
    static webhook w;
    int rc = wh_settings_load(argc, argv, &w.s);
    if (rc) return rc < 0 ? 0 : rc;
    kt_log_set_format(w.s.log_json ? KT_LOG_JSON : KT_LOG_KV);
    wh_settings_log(&w.s);
    int sfd = kt_svc_signalfd();
    kt_buf cert = {0}, key = {0};
    if (load_pair(&w, &cert, &key)) {
        kt_log(KT_LOG_ERROR, "wh.tls_unusable", "reason", kt_last_error(), NULL);
        return 1;
    }
    stamp cs, ks;
    stamp_of(w.s.cert_file, &cs);
    stamp_of(w.s.key_file, &ks);
    atomic_store(&w.ready, true);
    kt_http_spec spec = {.address = w.s.listen, .tls_cert_pem = (char *)cert.data,
                         .tls_key_pem = (char *)key.data, .ready = ready, .metrics = metrics,
                         .post_path = "/mutate", .post_type = "application/json",
                         .max_body = w.s.review.max_body, .post = on_post, .ctx = &w,
                         .metric_prefix = "kubetee_webhook", .per_address = w.s.per_address};
    kt_http *h = NULL;
    int port = 0;
    kt_status st = kt_http_serve(&spec, &h, &port);
    kt_buf_free(&cert);
    kt_buf_free(&key);
    if (st) {
        kt_log(KT_LOG_ERROR, "wh.listen_failed", "reason", kt_last_error(), NULL);
        return 1;
    }
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    kt_log(KT_LOG_INFO, "wh.serving", "port", ps, "path", "/mutate", "aesm_delivery",
           w.s.review.aesm_resource ? "resource" : "volume", NULL);
    time_t last = time(NULL);
    for (;;) {
        struct pollfd p = {sfd, POLLIN, 0};
        int r = poll(&p, 1, 1000);
        if (r < 0 && errno != EINTR) break;
        kt_http_retire(h, w.s.drain_seconds * 1000);
        if (r > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si) continue;
            if (si.ssi_signo == SIGHUP) {
                reload(&w, h, "SIGHUP");
                continue;
            }
            kt_log(KT_LOG_INFO, "wh.draining", "signal", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
                   NULL);
            break;
        }
        if (!w.s.reload_seconds || time(NULL) - last < (time_t)w.s.reload_seconds) continue;
        last = time(NULL);
        stamp c2, k2;
        stamp_of(w.s.cert_file, &c2);
        stamp_of(w.s.key_file, &k2);
        if (stamp_same(&cs, &c2) && stamp_same(&ks, &k2)) continue;
        cs = c2;
        ks = k2;
        reload(&w, h, "changed");
    }
    atomic_store(&w.ready, false);
    kt_http_drain(h, w.s.drain_seconds * 1000);
    close(sfd);
    kt_log(KT_LOG_INFO, "wh.stopped", NULL);
    return 0;
}
