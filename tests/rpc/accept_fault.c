/* Preloaded (LD_PRELOAD) under the test echo server, it stands in for the kernel failing one
 * accept4 with ENOBUFS, an error kubetee's accept4 (src/rpc/accept.c) passes on and gRPC
 * core 1.51 stops listening for good after (grpc/grpc#20418): kubetee's accept4 calls the
 * next one in the lookup order, which is this. The failure comes once, on the listener
 * whose TCP port the file named by KT_ACCEPT_FAULT holds, at its first accept4 after the
 * file appears (the file is removed then). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* gRPC listens on 127.0.0.1 through a v4-mapped IPv6 socket when it can */
static int port_of(int fd)
{
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &n)) return -1;
    if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
    if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
    return -1;
}

static int wanted_port(const char *trigger)
{
    int f = open(trigger, O_RDONLY | O_CLOEXEC);
    if (f < 0) return -1;
    char buf[16] = {0};
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    return n > 0 ? atoi(buf) : -1;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    const char *trigger = getenv("KT_ACCEPT_FAULT");
    int port = trigger ? wanted_port(trigger) : -1;
    if (port > 0 && port == port_of(fd) && unlink(trigger) == 0) {
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
