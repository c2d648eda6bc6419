/* The enclave service's test server: hosts an enclave built with kt_service_trusted on a
 * gRPC port with kt_service_host, /metrics on an HTTP port, until SIGTERM.
 *   service_server SIM_DIR ENCLAVE LIMITS  -> prints "grpc=<port> http=<port>" */
#include <kubetee/attest.h>
#include <kubetee/rpc.h>
#include <kubetee/service.h>
#include <kubetee/svc.h>
#include <kubetee/tff.h>

#include <signal.h>
#include <stdio.h>

static kt_service_host *host;
static kt_rpc_server *server;

static void metrics(void *ctx, kt_buf *out)
{
    (void)ctx;
    kt_service_host_metrics(host, out);
}

static bool ready(void *ctx)
{
    (void)ctx;
    return kt_rpc_server_listening(server);
}

int main(int argc, char **argv)
{
    if (argc != 4) return fprintf(stderr, "usage: service_server SIM_DIR ENCLAVE LIMITS\n"), 2;
    kt_service_limits l = {.max_message = 1 << 20, .max_sessions = 64, .max_per_peer = 8, .handshake_ms = 10000,
                           .idle_ms = 60000};
    kt_enclave_options o = {.sim_dir = argv[1]};
    kt_enclave *e = NULL;
    kt_rpc_method m[KT_SERVICE_METHODS];
    kt_http *http = NULL;
    int port = 0, hport = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (kt_service_limits_parse(argv[3], &l) || kt_attest_serve_quotes(argv[1]) || kt_enclave_create(argv[2], &o, &e) ||
        kt_service_host_new(e, &l, &host) ||
        kt_rpc_server_new("127.0.0.1:0", NULL, NULL, m, kt_service_host_methods(host, m), &server) ||
        kt_rpc_server_start(server, &port) || kt_http_start("127.0.0.1:0", ready, metrics, NULL, &http, &hport)) {
        fprintf(stderr, "service_server: %s\n", kt_last_error());
        return 1;
    }
    printf("grpc=%d http=%d\n", port, hport);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    kt_rpc_server_shutdown(server, 1000);
    kt_rpc_server_free(server);
    kt_http_stop(http);
    kt_service_host_free(host);
    kt_enclave_destroy(e);
    return 0;
}
