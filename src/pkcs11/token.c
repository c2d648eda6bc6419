/* A PKCS#11 token: the module loaded through p11-kit, the one slot whose token has the
 * label asked for, a user login, and a pool of sessions for concurrent signing. */
#include "internal.h"

#include <p11-kit/p11-kit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kt_status kt_p11_fail(kt_status st, CK_RV rv, const char *what)
{
    return kt_fail(st, "%s: %s (PKCS#11 0x%lx)", what, p11_kit_strerror(rv), (unsigned long)rv);
}

/* A blank-padded CK_UTF8CHAR field, as a C string without the padding. */
static void field_string(const CK_UTF8CHAR *f, size_t n, char *out, size_t cap)
{
    while (n && f[n - 1] == ' ')
        n--;
    kt_escape(f, n, out, cap);
}

static kt_status find_slot(kt_p11 *t, const char *token)
{
    CK_ULONG n = 0;
    CK_RV rv = t->f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK) return kt_p11_fail(KT_ERR_IO, rv, "listing the module's slots");
    if (n == 0 || n > 4096) return kt_fail(KT_ERR_NOT_FOUND, "the PKCS#11 module has no token");
    CK_SLOT_ID *slots = calloc(n, sizeof *slots);
    if (!slots) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);
    unsigned found = 0;
    kt_status st = KT_OK;
    char tok[96];
    kt_escape(token, strlen(token), tok, sizeof tok);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        if (t->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
        char label[sizeof ti.label * 4 + 1];
        field_string(ti.label, sizeof ti.label, label, sizeof label);
        if (strcmp(label, token)) continue;
        if (found++) continue;
        t->slot = slots[i];
        if (!(ti.flags & CKF_TOKEN_INITIALIZED) || !(ti.flags & CKF_USER_PIN_INITIALIZED))
            st = kt_fail(KT_ERR_STATE, "token '%s' has no user PIN set", tok);
        else if (ti.flags & CKF_USER_PIN_LOCKED)
            st = kt_fail(KT_ERR_DENIED, "token '%s': its user PIN is locked", tok);
    }
    free(slots);
    if (rv != CKR_OK) return kt_p11_fail(KT_ERR_IO, rv, "listing the module's slots");
    if (found == 0) return kt_fail(KT_ERR_NOT_FOUND, "no token labelled '%s'", tok);
    if (found > 1)
        return kt_fail(KT_ERR_DENIED, "%u tokens are labelled '%s': which one is meant is "
                                      "ambiguous",
                       found, tok);
    return st;
}

kt_status kt_p11_open(const char *module, const char *token, const kt_buf *pin, kt_p11 **out)
{
    if (!module || !token || !pin || !out)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "pkcs11: NULL argument");
    *out = NULL;
    if (module[0] != '/')
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "PKCS#11 module must be an absolute path");
    if (!token[0] || strlen(token) > 32)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "token label must be 1 to 32 bytes");
    if (!pin->len || pin->len > KT_P11_PIN_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "PIN must be 1 to %d bytes", KT_P11_PIN_MAX);
    kt_p11 *t = calloc(1, sizeof *t);
    if (!t) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    t->main = CK_INVALID_HANDLE;
    char name[256];
    kt_escape(module, strlen(module), name, sizeof name);
    t->f = p11_kit_module_load(module, 0);
    if (!t->f) {
        free(t);
        return kt_fail(KT_ERR_NOT_FOUND, "PKCS#11 module %s does not load: %s", name,
                       p11_kit_message() ? p11_kit_message() : "no reason given");
    }
    CK_RV rv = p11_kit_module_initialize(t->f);
    if (rv != CKR_OK) {
        p11_kit_module_release(t->f);
        free(t);
        return kt_p11_fail(KT_ERR_IO, rv, "initialising the PKCS#11 module");
    }
    kt_status st = find_slot(t, token);
    if (!st) {
        rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                 &t->main);
        if (rv != CKR_OK) st = kt_p11_fail(KT_ERR_IO, rv, "opening a session");
    }
    if (!st) {
        CK_UTF8CHAR_PTR p = (CK_UTF8CHAR_PTR)pin->data;
        rv = t->f->C_Login(t->main, CKU_USER, p, pin->len);
        if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
            st = kt_fail(KT_ERR_DENIED, "login to the token: the PIN is wrong");
        else if (rv == CKR_USER_ALREADY_LOGGED_IN) /* the PIN was not checked */
            st = kt_fail(KT_ERR_STATE, "login to the token: this process is logged in "
                                       "already (open the token once)");
        else if (rv != CKR_OK)
            st = kt_p11_fail(KT_ERR_DENIED, rv, "login to the token");
        t->logged_in = !st;
    }
    if (st) {
        kt_p11_free(t);
        return st;
    }
    *out = t;
    return KT_OK;
}

void kt_p11_free(kt_p11 *t)
{
    if (!t) return;
    for (unsigned i = 0; i < t->nidle; i++)
        t->f->C_CloseSession(t->idle[i]);
    if (t->main != CK_INVALID_HANDLE) {
        if (t->logged_in) t->f->C_Logout(t->main);
        t->f->C_CloseSession(t->main);
    }
    p11_kit_module_finalize(t->f);
    p11_kit_module_release(t->f);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

kt_status kt_p11_session_take(kt_p11 *t, CK_SESSION_HANDLE *s)
{
    pthread_mutex_lock(&t->lock);
    bool have = t->nidle > 0;
    if (have) *s = t->idle[--t->nidle];
    pthread_mutex_unlock(&t->lock);
    if (have) return KT_OK;
    CK_RV rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, s);
    return rv == CKR_OK ? KT_OK : kt_p11_fail(KT_ERR_UNAVAILABLE, rv, "opening a session");
}

void kt_p11_session_give(kt_p11 *t, CK_SESSION_HANDLE s, bool broken)
{
    pthread_mutex_lock(&t->lock);
    bool keep = !broken && t->nidle < KT_P11_IDLE_MAX;
    if (keep) t->idle[t->nidle++] = s;
    pthread_mutex_unlock(&t->lock);
    if (!keep) t->f->C_CloseSession(s);
}
