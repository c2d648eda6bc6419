/* Preloaded (LD_PRELOAD) under the test echo server, it stands in for the kernel failing
 * one accept4 with ENOBUFS, an error kubetee's accept4 (src/rpc/accept.c) passes on and
 * gRPC core 1.51 stops listening for good after (grpc/grpc#20418): kubetee's accept4 calls
 * the next one in the lookup order, which is this. The failure comes once, at the first
 * accept4 on the listener whose port the file named by KT_ACCEPT_FAULT holds, after the
 * file appears (it is removed then): the process's other listeners (libmicrohttpd's, for
 * /readyz, drains its own accept queue with accept4) never take it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The port the trigger file names, when it exists: decimal digits, at most 5 of them. */
static int trigger_port(const char *trigger)
{
    int f = open(trigger, O_RDONLY | O_CLOEXEC);
    if (f < 0) return -1;
    char b[8];
    ssize_t n = read(f, b, sizeof b);
    close(f);
    int port = 0;
    for (ssize_t i = 0; i < n && n < 7; i++) {
        if (b[i] < '0' || b[i] > '9') return -1;
        port = port * 10 + (b[i] - '0');
    }
    return n > 0 && n < 7 ? port : -1;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    const char *trigger = getenv("KT_ACCEPT_FAULT");
    int port = trigger ? trigger_port(trigger) : -1;
    if (port > 0 && port == local_port(fd) && unlink(trigger) == 0) {
        errno = ENOBUFS;
        return -1;
    }
    int (*next)(int, struct sockaddr *, socklen_t *, int) =
        (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(fd, addr, len, flags);
}
