/* Shared between the pkcs11 sources only. */
#ifndef KT_PKCS11_INTERNAL_H
#define KT_PKCS11_INTERNAL_H

#include <kubetee/pkcs11.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>

#define KT_P11_IDLE_MAX 16 /* idle sessions kept for signing */

struct kt_p11 {
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE main; /* logged in; keeps the login while the token is open */
    bool logged_in;         /* this kt_p11's login (logged out when freed) */
    pthread_mutex_t lock;   /* idle */
    CK_SESSION_HANDLE idle[KT_P11_IDLE_MAX];
    unsigned nidle;
};

struct kt_p11_key {
    kt_p11 *t;
    CK_OBJECT_HANDLE priv;
    kt_key *pub;
    char label[KT_P11_LABEL_MAX + 1];
};

/* Records "what: <p11-kit's words for rv> (CKR_... 0x..)" and returns st. */
kt_status kt_p11_fail(kt_status st, CK_RV rv, const char *what);
/* A session for one operation, and giving it back (closed when broken or too many idle). */
kt_status kt_p11_session_take(kt_p11 *t, CK_SESSION_HANDLE *s);
void kt_p11_session_give(kt_p11 *t, CK_SESSION_HANDLE s, bool broken);

#endif
