/* bench/rpc: unary echo calls/s with 8 and 64 clients, and the messages/s of one
 * server stream, through kubetee's rpc server against gRPC core's C API driven directly
 * (core_server.c), both on loopback in processes of their own, driven by the same load
 * in the same run. Rounds alternate between the two servers and each keeps its best, so
 * a burst of other work on the machine hits both alike. Target: at least 0.8 of core.
 *
 * `bench_rpc` runs everything; `bench_rpc serve-core|serve-kt ADDRESS` is one server and
 * `bench_rpc load TARGET CLIENTS` one load (CLIENTS 0: the stream), to profile with. */
#include "rpc.h"
#include "../bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 3
#define SECONDS 1.5 /* per measurement */

typedef struct {
    pid_t pid;
    char target[64];
} server;

/* Starts `self serve-<kind>` and waits for its READY line. */
static int spawn(const char *self, const char *kind, server *out)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(self, self, kind, "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    int port = 0;
    if (!f || fscanf(f, "READY %d", &port) != 1 || port <= 0) {
        fprintf(stderr, "bench_rpc: %s did not start\n", kind);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    fclose(f);
    out->pid = pid;
    snprintf(out->target, sizeof out->target, "127.0.0.1:%d", port);
    return 0;
}

static void stop(server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* Best of ROUNDS for each server, alternating; clients 0 means the stream. */
static int measure(server *kt, server *core, int clients, double *rate, double *baseline)
{
    *rate = *baseline = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int which = 0; which < 2; which++) {
            const char *target = which ? kt->target : core->target;
            double v =
                clients ? load_unary(target, clients, SECONDS) : load_stream(target, SECONDS);
            if (v < 0) {
                fprintf(stderr, "bench_rpc: calls to the %s server failed\n",
                        which ? "kubetee" : "core");
                return -1;
            }
            double *best = which ? rate : baseline;
            if (v > *best) *best = v;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "serve-core")) return core_serve(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "serve-kt")) return kt_serve(argv[2]);
    /* one load against a server started by hand, to profile it */
    if (argc == 4 && !strcmp(argv[1], "load")) {
        int clients = atoi(argv[3]);
        double v =
            clients > 0 ? load_unary(argv[2], clients, SECONDS) : load_stream(argv[2], SECONDS);
        printf("%.0f/s\n", v);
        return v < 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: bench_rpc [serve-core|serve-kt ADDRESS | load TARGET CLIENTS]\n");
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    alarm(300); /* a stuck server ends the run instead of hanging it */
    server core, kt;
    if (spawn(self, "serve-core", &core)) return 1;
    if (spawn(self, "serve-kt", &kt)) {
        stop(&core);
        return 1;
    }
    static const struct {
        const char *name;
        int clients;
    } runs[] = {{"rpc_echo_8", 8}, {"rpc_echo_64", 64}, {"rpc_stream", 0}};
    int failed = 0;
    for (size_t i = 0; i < sizeof runs / sizeof *runs && !failed; i++) {
        double rate, baseline;
        failed = measure(&kt, &core, runs[i].clients, &rate, &baseline);
        if (!failed) bench_line(runs[i].name, rate / baseline, ">=", 0.8, rate, baseline);
        fflush(stdout);
    }
    stop(&kt);
    stop(&core);
    return failed;
}
