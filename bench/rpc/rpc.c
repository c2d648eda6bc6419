/* bench/rpc: unary echo calls/s with 8 and 64 clients, and the messages/s of one
 * server stream, through kubetee's rpc server against gRPC core's C API driven directly
 * (core_server.c), both on loopback in processes of their own, driven by the same load
 * in the same run. Rounds alternate between the two servers and each keeps its best, so
 * a burst of other work on the machine hits both alike. Target: at least 0.8 of core.
 * On a machine busy with other work the rates swing; the CPU each server process spends
 * per call (from /proc, printed before each BENCH line) is the steadier comparison.
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

#define ROUNDS 5
#define SECONDS 1.0 /* per measurement */

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

/* CPU seconds a process has used, every thread (utime + stime); -1 if unreadable. */
static double cpu_of(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')'); /* the name in parentheses may hold spaces */
    unsigned long utime, stime;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct {
    double rate;     /* best calls (messages) per second */
    double cpu_call; /* least server CPU seconds per call (message) */
} result;

/* Best of ROUNDS for each server, alternating; clients 0 means the stream. */
static int measure(server *kt, server *core, int clients, result *ours, result *base)
{
    *ours = *base = (result){0, 1e9};
    for (int r = 0; r < ROUNDS; r++) {
        for (int which = 0; which < 2; which++) {
            server *s = which ? kt : core;
            long total = 0;
            double cpu = cpu_of(s->pid);
            double v = clients ? load_unary(s->target, clients, SECONDS, &total)
                               : load_stream(s->target, SECONDS, &total);
            cpu = cpu_of(s->pid) - cpu;
            if (v < 0) {
                fprintf(stderr, "bench_rpc: calls to the %s server failed\n",
                        which ? "kubetee" : "core");
                return -1;
            }
            result *best = which ? ours : base;
            if (v > best->rate) best->rate = v;
            if (total > 0 && cpu / (double)total < best->cpu_call)
                best->cpu_call = cpu / (double)total;
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
        long total;
        double v = clients > 0 ? load_unary(argv[2], clients, SECONDS, &total)
                               : load_stream(argv[2], SECONDS, &total);
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
        result ours, base;
        failed = measure(&kt, &core, runs[i].clients, &ours, &base);
        if (failed) break;
        printf("%s: server CPU per %s: kubetee %.1f us, core %.1f us\n", runs[i].name,
               runs[i].clients ? "call" : "message", ours.cpu_call * 1e6, base.cpu_call * 1e6);
        bench_line(runs[i].name, ours.rate / base.rate, ">=", 0.8, ours.rate, base.rate);
        fflush(stdout);
    }
    stop(&kt);
    stop(&core);
    return failed;
}
