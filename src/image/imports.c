/* What an enclave may not import. Trusted code has no OS: files, sockets, time,
 * environment and processes go through OCALLs. The same list holds on hardware, so an
 * enclave that signs here is not refused there. */
#include <kubetee/image.h>

#include <string.h>

static const struct {
    const char *category;
    const char *const *names;
} rules[] = {
    {"files",
     (const char *const[]){
         "open",         "open64",   "openat",   "openat64",  "creat",   "creat64",   "fopen",
         "fopen64",      "freopen",  "fdopen",   "read",      "write",   "pread",     "pread64",
         "pwrite",       "pwrite64", "readv",    "writev",    "close",   "lseek",     "lseek64",
         "stat",         "stat64",   "fstat",    "fstat64",   "lstat",   "lstat64",   "fstatat",
         "__xstat",      "__fxstat", "__lxstat", "statx",     "unlink",  "unlinkat",  "rename",
         "renameat",     "mkdir",    "rmdir",    "opendir",   "readdir", "readdir64", "closedir",
         "chmod",        "chown",    "truncate", "ftruncate", "fsync",   "fdatasync", "dup",
         "dup2",         "dup3",     "pipe",     "pipe2",     "ioctl",   "fcntl",     "fcntl64",
         "mkstemp",      "tmpfile",  "realpath", "access",    "chdir",   "getcwd",    "link",
         "symlink",      "readlink", "fread",    "fwrite",    "fgets",   "fputs",     "puts",
         "printf",       "fprintf",  "vprintf",  "vfprintf",  "putchar", "getchar",   "scanf",
         "fscanf",       "perror",   "fflush",   "fclose",    "stdin",   "stdout",    "stderr",
         "memfd_create", NULL}},
    {"sockets", (const char *const[]){"socket",
                                      "socketpair",
                                      "connect",
                                      "bind",
                                      "listen",
                                      "accept",
                                      "accept4",
                                      "send",
                                      "sendto",
                                      "sendmsg",
                                      "recv",
                                      "recvfrom",
                                      "recvmsg",
                                      "shutdown",
                                      "setsockopt",
                                      "getsockopt",
                                      "getaddrinfo",
                                      "gethostbyname",
                                      "gethostbyname_r",
                                      "getnameinfo",
                                      "select",
                                      "poll",
                                      "ppoll",
                                      "epoll_create",
                                      "epoll_create1",
                                      "epoll_ctl",
                                      "epoll_wait",
                                      NULL}},
    {"time", (const char *const[]){"time", "gettimeofday", "clock_gettime", "clock", "localtime",
                                   "localtime_r", "mktime", "nanosleep", "clock_nanosleep", "sleep",
                                   "usleep", "alarm", "timer_create", "setitimer", "times", NULL}},
    {"environment", (const char *const[]){"getenv", "secure_getenv", "setenv", "unsetenv", "putenv",
                                          "clearenv", "environ", "__environ", "getuid", "geteuid",
                                          "getgid", "gethostname", "uname", NULL}},
    {"processes",
     (const char *const[]){
         "fork",        "vfork",        "clone",   "execve",  "execv",          "execvp", "execvpe",
         "execl",       "execlp",       "execle",  "fexecve", "system",         "popen",  "pclose",
         "posix_spawn", "posix_spawnp", "waitpid", "wait",    "wait4",          "kill",   "signal",
         "sigaction",   "getpid",       "getppid", "exit",    "_exit",          "_Exit",  "setuid",
         "setgid",      "ptrace",       "prctl",   "syscall", "pthread_create", "dlopen", "dlmopen",
         "dlsym",       "dlclose",      NULL}},
    {"memory mapping", (const char *const[]){"mmap", "mmap64", "munmap", "mprotect", "mremap",
                                             "madvise", "brk", "sbrk", NULL}},
    {"OS randomness (use kt_random)",
     (const char *const[]){"getrandom", "getentropy", "rand", "rand_r", "random", "srand",
                           "srandom", NULL}},
};

const char *kt_forbidden_import(const char *name)
{
    if (!name) return NULL;
    /* versioned references ("fopen@GLIBC_2.2.5") are judged by their base name */
    size_t len = strcspn(name, "@");
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
        for (const char *const *p = rules[r].names; *p; p++)
            if (strlen(*p) == len && strncmp(*p, name, len) == 0) return rules[r].category;
    return NULL;
}

static kt_status check_one(const char *name, void *arg)
{
    (void)arg;
    const char *cat = kt_forbidden_import(name);
    if (cat)
        return kt_fail(KT_ERR_DENIED,
                       "enclave imports '%s' (%s): trusted code may not call the OS; use an OCALL",
                       name, cat);
    return KT_OK;
}

kt_status kt_elf_check_imports(const kt_elf *elf)
{
    return kt_elf_imports(elf, check_one, NULL);
}
