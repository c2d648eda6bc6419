/* The enclave's functions, in two tables: trusted functions (ECALL targets, called by
 * the host by name) and remote functions (reached only through an attested session;
 * never by ECALL). A name is in one table at most. Registration may run at load time,
 * from the constructors the macros make, before the runtime can report anything: the
 * first failure is kept and INIT fails with it. */
#include "trts.h"

#include <stdio.h>
#include <string.h>

static kt_fntab trusted = KT_FNTAB_INIT;
static kt_fntab remote = KT_FNTAB_INIT;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;
static kt_status first_error;
static char first_detail[256];

kt_fntab *kt_trts_functions(void)
{
    return &trusted;
}

kt_fntab *kt_trts_remote_functions(void)
{
    return &remote;
}

/* A remote function's name travels in session records: 1..255 printable ASCII bytes
 * without space (0x21..0x7E), as docs/protocol.md has it. */
static kt_status check_remote_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255) return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: a remote name has 1 to 255 bytes");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "register: byte %zu of a remote name is not printable ASCII",
                           i);
    return KT_OK;
}

static kt_status add(kt_fntab *t, const kt_function *f, bool builtin)
{
    kt_status st = KT_OK;
    kt_fntab *other = t == &trusted ? &remote : &trusted;
    /* one lock over both tables, so the cross-table check and the append are one step */
    pthread_mutex_lock(&add_lock);
    if (f && f->name && !builtin && strncmp(f->name, "kt.", 3) == 0)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "register: names starting with 'kt.' are reserved");
    else if (f && f->name && t == &remote)
        st = check_remote_name(f->name);
    if (!st && f && f->name && kt_fntab_find(other, f->name))
        st = kt_fail(KT_ERR_EXISTS, "register: '%s' is already a %s function", f->name,
                     other == &trusted ? "trusted" : "remote");
    if (!st) st = kt_fntab_add(t, f);
    if (st && !first_error) {
        first_error = st;
        snprintf(first_detail, sizeof first_detail, "registering %s: %s", f && f->name ? f->name : "(null)",
                 kt_last_error());
    }
    pthread_mutex_unlock(&add_lock);
    return st;
}

kt_status kt_trusted_register(const kt_function *f)
{
    return add(&trusted, f, false);
}

kt_status kt_remote_register(const kt_function *f)
{
    return add(&remote, f, false);
}

kt_status kt_trts_registration_status(char *detail, size_t cap)
{
    pthread_mutex_lock(&add_lock);
    kt_status st = first_error;
    if (st) kt_detail(detail, cap, first_detail);
    pthread_mutex_unlock(&add_lock);
    return st;
}

kt_status kt_trts_add_builtin(const kt_function *f)
{
    return add(&trusted, f, true);
}

kt_status kt_trts_add_remote_builtin(const kt_function *f)
{
    return add(&remote, f, true);
}

/* Runtime modules' teardown at FINI (the enclave service frees its sessions), in reverse
 * order of registration. */
#define MAX_FINI 8
static void (*fini_fns[MAX_FINI])(void);
static size_t n_fini;

kt_status kt_trts_add_fini(void (*fn)(void))
{
    kt_status st = KT_OK;
    pthread_mutex_lock(&add_lock);
    if (n_fini == MAX_FINI)
        st = kt_fail(KT_ERR_TOO_LARGE, "register: more than %d teardown hooks", MAX_FINI);
    else
        fini_fns[n_fini++] = fn;
    pthread_mutex_unlock(&add_lock);
    return st;
}

void kt_trts_run_fini(void)
{
    for (size_t i = n_fini; i > 0; i--) fini_fns[i - 1]();
}
