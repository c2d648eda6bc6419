/* The enclave's trusted functions. Registration may run at load time, from the
 * constructors KT_TRUSTED_FUNCTION makes, before the runtime can report anything: the
 * first failure is kept and INIT fails with it. */
#include "trts.h"

#include <stdio.h>
#include <string.h>

static kt_fntab trusted = KT_FNTAB_INIT;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static kt_status first_error;
static char first_detail[256];

kt_fntab *kt_trts_functions(void)
{
    return &trusted;
}

static kt_status add(const kt_function *f, bool builtin)
{
    kt_status st;
    if (!builtin && f && f->name && strncmp(f->name, "kt.", 3) == 0)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "register: names starting with 'kt.' are reserved");
    else
        st = kt_fntab_add(&trusted, f);
    if (st) {
        pthread_mutex_lock(&err_lock);
        if (!first_error) {
            first_error = st;
            snprintf(first_detail, sizeof first_detail, "registering %s: %s",
                     f && f->name ? f->name : "(null)", kt_last_error());
        }
        pthread_mutex_unlock(&err_lock);
    }
    return st;
}

kt_status kt_trusted_register(const kt_function *f)
{
    return add(f, false);
}

kt_status kt_trts_registration_status(char *detail, size_t cap)
{
    pthread_mutex_lock(&err_lock);
    kt_status st = first_error;
    if (st) kt_detail(detail, cap, first_detail);
    pthread_mutex_unlock(&err_lock);
    return st;
}

kt_status kt_trts_add_builtin(const kt_function *f)
{
    return add(f, true);
}
