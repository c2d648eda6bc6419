/* aecs-server: loads the AECS enclave, serves its enclave service over gRPC and its
 * operator endpoints over HTTP, keeps its sealed objects, until SIGTERM, then drains. */
#include "aecs_server.h"
#include "aecs.pb-c.h"
#include <kubetee/attest.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static kt_enclave *enclave;
static kt_service_host *host;
static kt_rpc_server *server;
static kt_store *store;
static bool store_fs; /* probed by /readyz; etcd's readability shows in its lock's renewals */

static int fail(const char *what)
{
    char shown[1024];
    kt_log(KT_LOG_ERROR, "aecs.failed", "step", what, "reason",
           kt_escape_text(kt_last_error(), strlen(kt_last_error()), shown, sizeof shown), NULL);
    return 1;
}

/* Whether an fs store reads now: aecs/master, which every initialised store holds, read
 * from its file (which fs verifies again); the bytes are not looked at. An etcd store's
 * reads are shown by its lock's renewals (aecs_holder_holds), each bounded by the lock's
 * deadline, so /readyz never waits on an etcd that does not answer. */
static bool store_reads(void)
{
    if (!store_fs) return true;
    kt_store_object o = {0};
    kt_status st = kt_store_get(store, "aecs/master", &o);
    kt_store_object_free(&o);
    return st == KT_OK;
}

/* ready once initialised, with the store held and readable now (the enclave says whether
 * it is initialised; the store is read here, so a store that stops reading after the start
 * is not ready either) */
static bool ready(void *ctx)
{
    (void)ctx;
    Kubetee__Aecs__V1__HostStatusRequest rq = KUBETEE__AECS__V1__HOST_STATUS_REQUEST__INIT;
    Kubetee__Aecs__V1__StartResponse rs = KUBETEE__AECS__V1__START_RESPONSE__INIT;
    bool ok = kt_rpc_server_listening(server) && aecs_holder_holds(store) &&
              !kt_enclave_call(enclave, "aecs.HostStatus", &rq, &rs) && rs.state &&
              !strcmp(rs.state, "ready") && store_reads();
    kt_message_clear(&rs);
    return ok;
}

static void metrics(void *ctx, kt_buf *out)
{
    (void)ctx;
    Kubetee__Aecs__V1__HostStatusRequest rq = KUBETEE__AECS__V1__HOST_STATUS_REQUEST__INIT;
    Kubetee__Aecs__V1__StartResponse rs = KUBETEE__AECS__V1__START_RESPONSE__INIT;
    static const char *const states[] = {"uninitialized", "ready", "restore", "damaged"};
    bool got = !kt_enclave_call(enclave, "aecs.HostStatus", &rq, &rs);
    kt_buf_printf(out, "# HELP kubetee_aecs_state the AECS enclave's state (1 for the one it is in)\n"
                       "# TYPE kubetee_aecs_state gauge\n");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        kt_buf_printf(out, "kubetee_aecs_state{state=\"%s\"} %d\n", states[i], got && !strcmp(rs.state, states[i]));
    kt_buf_printf(out, "# HELP kubetee_aecs_objects sealed objects the enclave knows\n# TYPE kubetee_aecs_objects gauge\n"
                       "kubetee_aecs_objects %llu\n",
                  (unsigned long long)(got ? rs.objects : 0));
    /* an unfinished key rotation (a store that fails one object's put can keep it so):
     * the key before still opens objects until it is done */
    kt_metric(out, "kubetee_aecs_storage_key_generation", "gauge",
              "the storage key's generation (+1 at each rotation)", NULL,
              got ? (double)rs.key_generation : 0);
    kt_metric(out, "kubetee_aecs_key_rotation_unfinished", "gauge",
              "1 while a key rotation is unfinished (the key before still opens objects)", NULL,
              got && rs.rotation_unfinished);
    kt_metric(out, "kubetee_aecs_key_rotation_objects_left", "gauge",
              "objects still sealed under the key before", NULL,
              got ? (double)rs.rotation_objects_left : 0);
    kt_metric(out, "kubetee_aecs_writes_stopped", "gauge",
              "1 while AECS writes nothing until its next start (a store write's outcome is unknown)", NULL,
              got && rs.writes_stopped);
    /* every refusal, written to the audit log or not (docs/aecs.md "Audit log"); the
     * labels are the proto's names, never the enclave's words */
    const ProtobufCEnumDescriptor *d = &kubetee__aecs__v1__handshake_refusal__descriptor;
    kt_buf_printf(out, "# HELP kubetee_aecs_handshake_refusals_total TAs the AECS enclave refused at the handshake, "
                       "by reason\n# TYPE kubetee_aecs_handshake_refusals_total counter\n");
    for (unsigned i = 0; i < d->n_values; i++) {
        char label[48];
        snprintf(label, sizeof label, "%s", d->values[i].name + strlen("HANDSHAKE_REFUSAL_"));
        for (char *p = label; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        int v = d->values[i].value;
        uint64_t n = got && v >= 0 && (size_t)v < rs.n_handshake_refusals ? rs.handshake_refusals[v] : 0;
        kt_buf_printf(out, "kubetee_aecs_handshake_refusals_total{reason=\"%s\"} %llu\n", label, (unsigned long long)n);
    }
    kt_message_clear(&rs);
    aecs_host_metrics(out);
    aecs_holder_metrics(store, out);
    kt_service_host_metrics(host, out);
    kt_rpc_server_metrics(&server, 1, out);
}

/* Collateral and time for the TAs' quotes, which the enclave verifies and judges by the
 * TA platform policy its admin set: the host only hands them over. */
static kt_status serve_collateral(const aecs_config *c)
{
    const char *coll = c->collateral;
    bool url = !strncmp(coll, "http://", 7) || !strncmp(coll, "https://", 8);
    if (url && (!c->collateral_root[0] || !c->collateral_cache[0]))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "a collateral URL needs collateral_root and collateral_cache");
    kt_sim_qe *qe = NULL;
    if (!coll[0]) {
        kt_status st = kt_sim_qe_open(c->sim_dir[0] ? c->sim_dir : NULL, &qe);
        if (st) return kt_fail_context(st, "the sim platform's collateral (or set collateral)");
        coll = kt_sim_qe_collateral_dir(qe);
    }
    kt_status st = kt_attest_serve_collateral(coll, c->collateral_root[0] ? c->collateral_root : NULL,
                                              c->collateral_cache[0] ? c->collateral_cache : NULL);
    if (!st) kt_log(KT_LOG_INFO, "aecs.collateral", "source", coll, NULL);
    kt_sim_qe_free(qe);
    return st;
}

static kt_status start_enclave(const aecs_config *c)
{
    char **tail = NULL;
    size_t n = 0;
    kt_status st = aecs_host_audit_tail(c->audit_file, 4096, &tail, &n);
    if (st) return st;
    Kubetee__Aecs__V1__StartRequest rq = KUBETEE__AECS__V1__START_REQUEST__INIT;
    Kubetee__Aecs__V1__StartResponse rs = KUBETEE__AECS__V1__START_RESPONSE__INIT;
    rq.max_services = c->max_services;
    rq.max_secrets = c->max_secrets;
    rq.max_data = c->max_data;
    rq.keep_versions = c->keep_versions;
    rq.max_ta_secrets = c->max_ta_secrets;
    rq.max_ta_total = c->max_ta_total;
    rq.ta_session_max_age = c->ta_session_max_age;
    rq.ta_session_idle = c->ta_session_idle;
    rq.ta_session_requests = c->ta_session_requests;
    rq.audit_tail = tail;
    rq.n_audit_tail = n;
    st = kt_enclave_call(enclave, "aecs.Start", &rq, &rs);
    aecs_host_free_lines(tail, n);
    kt_message_clear(&rs);
    return st;
}

int main(int argc, char **argv)
{
    aecs_config c;
    bool help;
    if (aecs_config_load(argc, argv, &c, &help)) {
        fprintf(stderr, "aecs-server: configuration: %s (--help lists the settings)\n", kt_last_error());
        return KT_SVC_EXIT_SETTINGS;
    }
    if (help) return 0;
    kt_log_set_format(strcmp(c.log_format, "json") ? KT_LOG_KV : KT_LOG_JSON);
    aecs_config_log(&c);
    int sfd = kt_svc_signalfd(); /* before any thread */
    if (sfd < 0) return fail("signals");
    kt_service_limits l = {.max_message = 1 << 20, .max_sessions = 256, .max_per_peer = 16, .handshake_ms = 10000,
                           .idle_ms = 300000};
    if (kt_service_limits_parse(c.limits, &l)) return fail("limits");
    const char *sim = c.sim_dir[0] ? c.sim_dir : NULL;
    kt_enclave_options o = {.sim_dir = sim};
    kt_store_options so = {.tls_ca = c.store_tls_ca, .tls_cert = c.store_tls_cert, .tls_key = c.store_tls_key,
                           .server_name = c.store_server_name, .insecure = !strcmp(c.store_insecure, "true"),
                           .user = c.store_user, .password_file = c.store_password_file};
    if (aecs_holder_options(&c, &so) || kt_store_open_with(c.store, &so, &store)) return fail("store");
    store_fs = !strncmp(c.store, "fs:", 3);
    if (aecs_host_open(store, c.audit_file)) return fail("audit file");
    if (sim && kt_attest_serve_quotes(sim)) return fail("sim quoting enclave");
    if (serve_collateral(&c)) return fail("collateral for TA quotes");
    if (kt_enclave_create(c.enclave, &o, &enclave)) return fail("enclave");
    if (start_enclave(&c)) return fail("enclave start");
    kt_rpc_method m[KT_SERVICE_METHODS];
    kt_http *http = NULL;
    int port = 0, hport = 0;
    if (kt_service_host_new(enclave, &l, &host)) return fail("listening");
    size_t nm =
        aecs_holder_gate(store, m, kt_service_host_methods(host, m)); /* none past the lease */
    if (kt_rpc_server_new(c.listen, NULL, NULL, m, nm, &server) ||
        kt_rpc_server_start(server, &port))
        return fail("listening");
    if (kt_http_start(c.http, ready, metrics, NULL, &http, &hport)) return fail("http");
    char ps[16], hs[16];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(hs, sizeof hs, "%d", hport);
    kt_log(KT_LOG_INFO, "aecs.serving", "grpc_port", ps, "http_port", hs, "store", c.store, NULL);
    /* until SIGTERM (SIGHUP is taken and ignored), or the store's lock is lost */
    struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = aecs_holder_fd(), .events = POLLIN}};
    while (!aecs_holder_lost()) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (!(pf[0].revents & POLLIN)) continue;
        struct signalfd_siginfo si;
        ssize_t r = read(sfd, &si, sizeof si);
        if (r < 0 && errno == EINTR) continue;
        if (r != (ssize_t)sizeof si || si.ssi_signo != SIGHUP) break;
    }
    bool lost = aecs_holder_lost();
    if (lost) /* another host may hold the store now: every write is refused; drain and exit */
        kt_log(KT_LOG_ERROR, "aecs.store_lock_lost", "store", c.store, "note",
               "this host no longer holds its store; it stops (exit 3) and refuses every write until then", NULL);
    kt_log(KT_LOG_INFO, "aecs.stopping", NULL);
    kt_rpc_server_shutdown(server, (int)c.drain_ms);
    unsigned left = kt_rpc_server_active(server);
    if (left) {
        /* a call still runs in the enclave past drain_ms (a key rotation of a big store):
         * stopping and destroying the enclave under it would pull its memory away. End as a
         * crash ends, which every write survives (atomic puts; the next start finishes a
         * rotation), without the last audit checkpoint and the lock's release. */
        char n[16];
        snprintf(n, sizeof n, "%u", left);
        kt_log(KT_LOG_ERROR, "aecs.stop_abandoned", "calls", n, "note",
               "calls still ran in the enclave after drain_ms; exiting without stopping it (as a "
               "crash)",
               NULL);
        _exit(lost ? 3 : 1);
    }
    kt_rpc_server_free(server);
    kt_http_stop(http);
    kt_service_host_free(host);
    Kubetee__Aecs__V1__StopRequest srq = KUBETEE__AECS__V1__STOP_REQUEST__INIT;
    Kubetee__Aecs__V1__Done srs = KUBETEE__AECS__V1__DONE__INIT;
    if (kt_enclave_call(enclave, "aecs.Stop", &srq, &srs)) /* the audit's last checkpoint */
        kt_log(KT_LOG_WARN, "aecs.stop_failed", "reason", kt_last_error(), NULL);
    kt_enclave_destroy(enclave);
    aecs_host_close();
    kt_store_free(store);
    close(sfd);
    kt_log(KT_LOG_INFO, "aecs.stopped", NULL);
    return lost ? 3 : 0;
}
