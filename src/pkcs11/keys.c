/* Enclave signing keys in the token: RSA-3072 e=3, generated there as private, sensitive,
 * never-extractable token objects, found by label, refused unless they still are. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

kt_status kt_p11_label_check(const char *label)
{
    if (!label) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key label: NULL");
    size_t n = strlen(label);
    if (n == 0 || n > KT_P11_LABEL_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "key label must be 1 to %d bytes (got %zu)",
                       KT_P11_LABEL_MAX, n);
    for (size_t i = 0; i < n; i++)
        if (label[i] < 0x20 || label[i] > 0x7e) {
            char e[KT_P11_LABEL_MAX * 4 + 1];
            return kt_fail(KT_ERR_INVALID_ARGUMENT,
                           "key label '%s' has a byte that is not printable ASCII",
                           kt_escape(label, n, e, sizeof e));
        }
    if (label[0] == ' ' || label[n - 1] == ' ')
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "key label '%s' begins or ends with a space",
                       label);
    return KT_OK;
}

/* Every object of class cls with this label (NULL: any label), at most cap handles. */
static kt_status find_objects(kt_p11 *t, CK_OBJECT_CLASS cls, const char *label,
                              CK_OBJECT_HANDLE *h, CK_ULONG cap, CK_ULONG *n)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                           {CKA_LABEL, (void *)label, label ? strlen(label) : 0}};
    CK_SESSION_HANDLE s;
    kt_status st = kt_p11_session_take(t, &s);
    if (st) return st;
    CK_RV rv = t->f->C_FindObjectsInit(s, tmpl, label ? 2 : 1);
    if (rv == CKR_OK) {
        rv = t->f->C_FindObjects(s, h, cap, n);
        CK_RV rv2 = t->f->C_FindObjectsFinal(s);
        if (rv == CKR_OK) rv = rv2;
    }
    kt_p11_session_give(t, s, rv != CKR_OK);
    return rv == CKR_OK ? KT_OK : kt_p11_fail(KT_ERR_IO, rv, "searching the token");
}

/* Reads one attribute of a fixed size; KT_ERR_DENIED when the token refuses it. */
static CK_RV get_attr(kt_p11 *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, void *v, CK_ULONG *n)
{
    CK_SESSION_HANDLE s;
    if (kt_p11_session_take(t, &s)) return CKR_SESSION_HANDLE_INVALID;
    CK_ATTRIBUTE a = {type, v, *n};
    CK_RV rv = t->f->C_GetAttributeValue(s, o, &a, 1);
    kt_p11_session_give(t, s, false);
    *n = a.ulValueLen;
    return rv;
}

static bool get_bool(kt_p11 *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ULONG n = sizeof b;
    return get_attr(t, o, type, &b, &n) == CKR_OK && n == sizeof b && b == CK_TRUE;
}

kt_status kt_p11_key_attributes(kt_p11_key *k, kt_p11_attrs *a)
{
    if (!k || !a) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key attributes: NULL argument");
    kt_p11 *t = k->t;
    a->token = get_bool(t, k->priv, CKA_TOKEN);
    a->private_obj = get_bool(t, k->priv, CKA_PRIVATE);
    a->sensitive = get_bool(t, k->priv, CKA_SENSITIVE);
    a->always_sensitive = get_bool(t, k->priv, CKA_ALWAYS_SENSITIVE);
    a->never_extractable = get_bool(t, k->priv, CKA_NEVER_EXTRACTABLE);
    /* CKA_EXTRACTABLE unreadable counts as extractable: only a clear false passes */
    CK_BBOOL b = CK_TRUE;
    CK_ULONG n = sizeof b;
    a->extractable = get_attr(t, k->priv, CKA_EXTRACTABLE, &b, &n) != CKR_OK || b != CK_FALSE;
    static const CK_ATTRIBUTE_TYPE secret[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2};
    a->value_refused = true;
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        uint8_t buf[KT_RSA3072_LEN];
        n = sizeof buf;
        CK_RV rv = get_attr(t, k->priv, secret[i], buf, &n);
        kt_wipe(buf, sizeof buf);
        if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) a->value_refused = false;
    }
    return KT_OK;
}

/* The private key's modulus and exponent as the public key; refuses anything but
 * RSA-3072 e=3 and a key that is not held the way a signing key must be. */
static kt_status open_key(kt_p11 *t, CK_OBJECT_HANDLE h, const char *label, kt_p11_key **out)
{
    kt_p11_key *k = calloc(1, sizeof *k);
    if (!k) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    k->t = t;
    k->priv = h;
    strcpy(k->label, label);
    CK_KEY_TYPE kt = 0;
    CK_ULONG n = sizeof kt;
    uint8_t mod[KT_RSA3072_LEN + 1], e[8];
    CK_ULONG mlen = sizeof mod, elen = sizeof e;
    kt_status st = KT_OK;
    if (get_attr(t, h, CKA_KEY_TYPE, &kt, &n) != CKR_OK || kt != CKK_RSA)
        st = kt_fail(KT_ERR_DENIED, "key '%s' is not an RSA key", label);
    else if (get_attr(t, h, CKA_MODULUS, mod, &mlen) != CKR_OK || mlen != KT_RSA3072_LEN ||
             !(mod[0] & 0x80))
        st = kt_fail(KT_ERR_DENIED, "key '%s' is not RSA-3072", label);
    else if (get_attr(t, h, CKA_PUBLIC_EXPONENT, e, &elen) != CKR_OK || elen == 0 ||
             elen > sizeof e || e[elen - 1] != 3 ||
             (elen > 1 && memcmp(e, "\0\0\0\0\0\0\0", elen - 1)))
        st = kt_fail(KT_ERR_DENIED, "key '%s' does not have public exponent 3", label);
    kt_p11_attrs a;
    if (!st) st = kt_p11_key_attributes(k, &a);
    if (!st && (!a.token || !a.private_obj || !a.sensitive || a.extractable ||
                !a.always_sensitive || !a.never_extractable || !a.value_refused))
        st = kt_fail(KT_ERR_DENIED,
                     "key '%s' is not held as a signing key must be (token %d, private %d, "
                     "sensitive %d, extractable %d, always sensitive %d, never extractable %d)",
                     label, a.token, a.private_obj, a.sensitive, a.extractable,
                     a.always_sensitive, a.never_extractable);
    if (!st) st = kt_key_from_public_raw(KT_KEY_RSA3072_E3, mod, KT_RSA3072_LEN, &k->pub);
    if (st) {
        kt_p11_key_free(k);
        return st;
    }
    *out = k;
    return KT_OK;
}

kt_status kt_p11_key_find(kt_p11 *t, const char *label, kt_p11_key **out)
{
    if (!t || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key find: NULL argument");
    *out = NULL;
    kt_status st = kt_p11_label_check(label);
    if (st) return st;
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    if ((st = find_objects(t, CKO_PRIVATE_KEY, label, h, 2, &n))) return st;
    if (n == 0) return kt_fail(KT_ERR_NOT_FOUND, "no key labelled '%s' in the token", label);
    if (n > 1)
        return kt_fail(KT_ERR_DENIED, "several keys are labelled '%s': which one is meant is "
                                      "ambiguous",
                       label);
    return open_key(t, h[0], label, out);
}

kt_status kt_p11_generate(kt_p11 *t, const char *label, kt_p11_key **out)
{
    if (!t || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key generate: NULL argument");
    *out = NULL;
    kt_status st = kt_p11_label_check(label);
    if (st) return st;
    CK_OBJECT_HANDLE h[1];
    CK_ULONG n = 0;
    if ((st = find_objects(t, CKO_PRIVATE_KEY, label, h, 1, &n))) return st;
    if (!n && (st = find_objects(t, CKO_PUBLIC_KEY, label, h, 1, &n))) return st;
    if (n) return kt_fail(KT_ERR_EXISTS, "the token already holds a key labelled '%s'", label);

    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 3072;
    CK_BYTE e3[] = {3};
    uint8_t id[16];
    if ((st = kt_random(id, sizeof id))) return st;
    CK_ULONG ll = strlen(label);
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes},      {CKA_ENCRYPT, &no, sizeof no},
        {CKA_WRAP, &no, sizeof no},          {CKA_MODULUS_BITS, &bits, sizeof bits},
        {CKA_PUBLIC_EXPONENT, e3, sizeof e3}, {CKA_LABEL, (void *)label, ll},
        {CKA_ID, id, sizeof id},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},   {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},        {CKA_DECRYPT, &no, sizeof no},
        {CKA_UNWRAP, &no, sizeof no},        {CKA_DERIVE, &no, sizeof no},
        {CKA_MODIFIABLE, &no, sizeof no},    {CKA_LABEL, (void *)label, ll},
        {CKA_ID, id, sizeof id},
    };
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE hpub, hpriv;
    pthread_mutex_lock(&t->lock); /* the main session is shared */
    CK_RV rv = t->f->C_GenerateKeyPair(t->main, &m, pub, sizeof pub / sizeof pub[0], priv,
                                       sizeof priv / sizeof priv[0], &hpub, &hpriv);
    pthread_mutex_unlock(&t->lock);
    if (rv != CKR_OK) return kt_p11_fail(KT_ERR_CRYPTO, rv, "generating an RSA-3072 e=3 key");
    return open_key(t, hpriv, label, out);
}

void kt_p11_key_free(kt_p11_key *k)
{
    if (!k) return;
    kt_key_free(k->pub);
    free(k);
}

const kt_key *kt_p11_key_public(const kt_p11_key *k)
{
    return k ? k->pub : NULL;
}

const char *kt_p11_key_label(const kt_p11_key *k)
{
    return k ? k->label : NULL;
}

kt_status kt_p11_list(kt_p11 *t, kt_status (*fn)(void *arg, const char *label), void *arg)
{
    if (!t || !fn) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key list: NULL argument");
    CK_OBJECT_HANDLE h[256];
    CK_ULONG n = 0;
    kt_status st = find_objects(t, CKO_PRIVATE_KEY, NULL, h, 256, &n);
    for (CK_ULONG i = 0; !st && i < n; i++) {
        char label[KT_P11_LABEL_MAX + 1];
        CK_ULONG len = KT_P11_LABEL_MAX;
        if (get_attr(t, h[i], CKA_LABEL, label, &len) != CKR_OK || len > KT_P11_LABEL_MAX)
            continue;
        label[len] = 0;
        if (kt_p11_label_check(label)) {
            kt_clear_error();
            continue;
        }
        st = fn(arg, label);
    }
    return st;
}
