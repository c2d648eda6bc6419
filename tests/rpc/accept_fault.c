/* Preloaded (LD_PRELOAD) under the test echo server, it stands in for the kernel failing
 * one accept4 with ENOBUFS, an error kubetee's accept4 (src/rpc/accept.c) passes on and
 * gRPC core 1.51 stops listening for good after (grpc/grpc#20418): kubetee's accept4 calls
 * the next one in the lookup order, which is this. The failure comes once, at the first
 * accept4 after the file named by KT_ACCEPT_FAULT appears (it is removed then). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    const char *trigger = getenv("KT_ACCEPT_FAULT");
    if (trigger && unlink(trigger) == 0) {
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
