/* Shared between the attest sources only. */
#ifndef KT_ATTEST_INTERNAL_H
#define KT_ATTEST_INTERNAL_H

#include <kubetee/attest.h>
#include <time.h>

/* A lock for the verifier's caches: a mutex in a process; inside an enclave (KT_TRUSTED,
 * no OS) a spin lock on a C11 atomic flag. Held only for copies and one ECDSA verify. */
#ifdef KT_TRUSTED
#include <stdatomic.h>
typedef struct {
    atomic_flag flag;
} kt_mutex;
#define KT_MUTEX_INIT {ATOMIC_FLAG_INIT}
static inline void kt_mutex_init(kt_mutex *m)
{
    atomic_flag_clear(&m->flag);
}
static inline void kt_mutex_lock(kt_mutex *m)
{
    while (atomic_flag_test_and_set_explicit(&m->flag, memory_order_acquire))
        ;
}
static inline void kt_mutex_unlock(kt_mutex *m)
{
    atomic_flag_clear_explicit(&m->flag, memory_order_release);
}
static inline void kt_mutex_destroy(kt_mutex *m)
{
    (void)m;
}
#else
#include <pthread.h>
typedef pthread_mutex_t kt_mutex;
#define KT_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static inline void kt_mutex_init(kt_mutex *m)
{
    pthread_mutex_init(m, NULL);
}
static inline void kt_mutex_lock(kt_mutex *m)
{
    pthread_mutex_lock(m);
}
static inline void kt_mutex_unlock(kt_mutex *m)
{
    pthread_mutex_unlock(m);
}
static inline void kt_mutex_destroy(kt_mutex *m)
{
    pthread_mutex_destroy(m);
}
#endif

/* What the PCK certificate's SGX extensions (OID 1.2.840.113741.1.13.1) say. */
typedef struct {
    uint8_t ppid[16];
    uint8_t comp[16]; /* SGX TCB components 1..16 */
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint8_t pceid[2];
    uint8_t fmspc[6];
} kt_pck_info;

#define KT_SGX_EXT_OID "1.2.840.113741.1.13.1"
/* SHA-256 of the DER of Intel's production SGX Root CA. */
#define KT_INTEL_ROOT_SHA256 "44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3"
/* Who signs TCB Info and QE Identity: the certificate of this common name, issued
 * directly by the root. Intel's under Intel's root; the sim PKI's under any other. */
#define KT_INTEL_TCB_SIGNER_CN "Intel SGX TCB Signing"
#define KT_SIM_TCB_SIGNER_CN "kubetee Simulation TCB Signing"
/* QE vendor IDs in quote headers: Intel's QE (939A7233-F79C-4CA9-940A-0DB3957F0607),
 * and the sim QE's. */
#define KT_INTEL_QE_VENDOR_ID "\x93\x9A\x72\x33\xF7\x9C\x4C\xA9\x94\x0A\x0D\xB3\x95\x7F\x06\x07"
#define KT_SIM_QE_VENDOR_ID "kubetee-sim-qe\0\0"

kt_status kt_pck_ext_parse(const uint8_t *der, size_t n, kt_pck_info *out);
kt_status kt_pck_ext_encode(const kt_pck_info *in, kt_buf *der);

/* ---- DER (der.c) ---- */
typedef struct {
    const uint8_t *p;
    size_t n;
} kt_der;

/* The next element of d, which must carry tag; value views its contents. Failures name
 * what. */
kt_status kt_der_next(kt_der *d, uint8_t tag, const char *what, kt_der *value);
bool kt_der_peek(const kt_der *d, uint8_t tag);
bool kt_der_is(kt_der v, const uint8_t *bytes, size_t n);
/* v is an INTEGER's content in its shortest form (no redundant leading 00 or FF). */
kt_status kt_der_int(kt_der v, const char *what);
/* A minimal non-negative INTEGER up to max. */
kt_status kt_der_uint(kt_der v, uint32_t max, const char *what, uint32_t *out);
/* The next element as a well-formed OBJECT IDENTIFIER. */
kt_status kt_der_oid(kt_der *d, const char *what, kt_der *oid);
/* n decimal digits as a number, or -1 (times in DER and in PCS JSON). */
int kt_decimal(const char *s, int n);
/* The next element as a UTCTime or GeneralizedTime. */
kt_status kt_der_time(kt_der *d, const char *what, time_t *out);
/* A UTC calendar date and time as Unix time: a real day (no 31 April, no 30 February),
 * hour 0..23, minute and second 0..59, year 1..9999. Pure arithmetic (no libc time
 * functions, which enclaves do not have). */
kt_status kt_utc_time(int year, int month, int day, int hour, int min, int sec, time_t *out);
/* t as "YYYY-MM-DDThh:mm:ssZ" for years 1..9999, else "@<seconds>". */
void kt_utc_format(time_t t, char out[24]);

/* ---- certificates and CRLs (cert.c), views into DER the caller keeps ---- */
#define KT_KU_DIGITAL_SIGNATURE 0x8000
#define KT_KU_KEY_CERT_SIGN 0x0400
#define KT_KU_CRL_SIGN 0x0200

typedef struct {
    kt_der der;             /* the whole certificate */
    kt_der tbs;             /* what the signature covers */
    kt_der serial;          /* the INTEGER's content bytes */
    kt_der issuer, subject; /* whole Name elements, compared byte for byte */
    time_t not_before, not_after;
    uint8_t pub[64]; /* P-256 X || Y */
    uint8_t sig[64]; /* ECDSA r || s by the issuer */
    bool is_ca;
    int path_len; /* -1: unconstrained */
    bool has_key_usage;
    uint16_t key_usage; /* KT_KU_* */
    kt_der sgx_ext;     /* the SGX extensions' DER, if present */
    kt_der crl_dp;      /* the CRL distribution points' DER, if present */
} kt_x509;

typedef struct {
    kt_der der; /* the whole CRL */
    kt_der tbs;
    kt_der issuer;
    time_t this_update, next_update;
    kt_der revoked; /* revokedCertificates' contents, checked by kt_crl_parse */
    uint8_t sig[64];
} kt_crl;

kt_status kt_x509_parse(const uint8_t *der, size_t n, kt_x509 *out);
kt_status kt_crl_parse(const uint8_t *der, size_t n, kt_crl *out);
/* Whether the CRL lists the certificate's serial number, compared as numbers. */
bool kt_crl_lists(const kt_crl *c, const kt_x509 *x);
/* Two serial numbers' INTEGER contents (shortest forms) are the same number. */
bool kt_serial_equal(kt_der a, kt_der b);
kt_status kt_x509_common_name(kt_der name, char *out, size_t cap);
/* The subject's common name for messages ("(no common name)" if it has none); out. */
#define KT_X509_LABEL 96
const char *kt_x509_label(const kt_x509 *x, char out[KT_X509_LABEL]);
kt_status kt_x509_crl_url(const kt_x509 *x, char *out, size_t cap);
kt_status kt_x509_key(const kt_x509 *x, kt_key **out);
kt_status kt_pck_info_from_cert(const kt_x509 *leaf, kt_pck_info *out);

/* A PEM bundle: the DER of its certificates in one buffer, a view and (made on demand)
 * the public key of each. */
#define KT_CHAIN_MAX 4
typedef struct {
    kt_buf der;
    unsigned count;
    kt_x509 cert[KT_CHAIN_MAX];
    kt_key *key[KT_CHAIN_MAX];
} kt_chain;

kt_status kt_chain_from_pem(const char *pem, size_t n, kt_chain *out);
kt_status kt_chain_key(kt_chain *c, unsigned i, const kt_key **out);
void kt_chain_free(kt_chain *c);

/* ---- the second reading, by OpenSSL (cert_crosscheck.c) ---- */
/* OpenSSL decodes the same DER and reads every field the verifier uses the same, or the
 * failure names the first that differs; what names the item. */
kt_status kt_x509_crosscheck(const kt_x509 *x, const char *what);
kt_status kt_crl_crosscheck(const kt_crl *c, const char *what);
/* The same, once per distinct DER in the process (the last 128 that agreed are kept). */
kt_status kt_chain_crosscheck_once(const kt_chain *c, const char *what);
kt_status kt_crl_crosscheck_once(const kt_crl *c, const char *what);
/* How many certificates OpenSSL has decoded for kt_x509_crosscheck in this process. */
unsigned long kt_x509_crosscheck_count(void);

/* ---- issuance (chain.c) ---- */
/* x names issuer, and issuer is a CA allowing cas_below CAs under it (no signature). */
kt_status kt_x509_check_issuer(const kt_x509 *x, const kt_x509 *issuer, unsigned cas_below,
                               const char *what);
/* x was issued by issuer: kt_x509_check_issuer, then the signature. */
kt_status kt_x509_check_issued(const kt_x509 *x, const kt_x509 *issuer, const kt_key *issuer_key,
                               unsigned cas_below, const char *what);
/* x is an end-entity certificate for digital signatures. */
kt_status kt_x509_check_signer(const kt_x509 *x, const char *what);
kt_status kt_crl_check_issued(const kt_crl *c, const kt_x509 *issuer, const kt_key *issuer_key,
                              const char *what);

/* ---- collateral JSON ---- */
typedef struct {
    uint8_t comp[16];
    uint16_t pcesvn;
    bool has_tdx;
    uint8_t tdx_comp[16];
    kt_tcb_status status;
    char (*advisories)[24];
    unsigned advisory_count;
} kt_tcb_level;

/* A TCB level judged by one ISVSVN (QE Identity, TDX module identities). */
typedef struct {
    uint16_t isvsvn;
    kt_tcb_status status;
    char (*advisories)[24];
    unsigned advisory_count;
} kt_svn_level;

typedef struct {
    char id[16];
    uint8_t mrsigner[48];
    uint64_t attributes, attributes_mask;
    kt_svn_level *levels;
    unsigned level_count;
} kt_tdx_module_identity;

typedef struct {
    char id[8]; /* "SGX" or "TDX" */
    int version;
    int tcb_type; /* how CPUSVN splits into components (0: byte i is component i+1) */
    long long eval_number; /* tcbEvaluationDataNumber (-1: none, as version 2 may have) */
    time_t issue_date, next_update;
    uint8_t fmspc[6], pceid[2];
    kt_tcb_level *levels;
    unsigned level_count;
    bool has_tdx_module;
    uint8_t module_mrsigner[48];
    uint64_t module_attributes, module_attributes_mask;
    kt_tdx_module_identity *modules;
    unsigned module_count;
    const uint8_t *signed_body; /* the exact bytes of the tcbInfo value */
    size_t signed_len;
    uint8_t signature[64];
} kt_tcb_info;

typedef struct {
    char id[8]; /* "QE" or "TD_QE" */
    int version;
    long long eval_number; /* tcbEvaluationDataNumber (-1: none) */
    time_t issue_date, next_update;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    kt_svn_level *levels;
    unsigned level_count;
    const uint8_t *signed_body;
    size_t signed_len;
    uint8_t signature[64];
} kt_qe_identity;

/* TCB Evaluation Data Numbers (PCS v4 Appendix C): which evaluation numbers Intel
 * supports, for one TEE. */
typedef struct {
    char id[8]; /* "SGX" or "TDX" */
    time_t issue_date, next_update;
    unsigned count;    /* entries of tcbEvalNumbers */
    long long highest; /* the highest tcbEvaluationDataNumber listed */
    const uint8_t *signed_body;
    size_t signed_len;
    uint8_t signature[64];
} kt_tcb_eval;
kt_status kt_tcb_eval_parse(const char *json, size_t n, kt_tcb_eval *out);

/* The exact bytes of the value of a top-level key in a JSON object. */
kt_status kt_json_raw_value(const char *json, size_t n, const char *key, const char **value,
                            size_t *len);

/* Parse a PCS body ({"tcbInfo":...,"signature":...}); views point into json, which must
 * outlive the result. Free with the matching _free. */
kt_status kt_tcb_info_parse(const char *json, size_t n, kt_tcb_info *out);
void kt_tcb_info_free(kt_tcb_info *t);
kt_status kt_qe_identity_parse(const char *json, size_t n, kt_qe_identity *out);
void kt_qe_identity_free(kt_qe_identity *q);

/* What verification has already established, keyed by the exact bytes it covered and
 * kept with the time window in which it holds. */
#define KT_PCK_CACHE 16
typedef struct {
    bool used;
    uint8_t chain_hash[32]; /* SHA-256 of the quote's PCK chain PEM */
    time_t from, to;        /* certificates and CRLs all valid */
    kt_pck_info pck;
    kt_key *key;
    uint8_t qe_check[32]; /* SHA-256 of a QE report and signature this key verified */
    bool qe_checked;
} kt_pck_entry;

typedef struct {
    kt_mutex lock;
    bool collateral_ok; /* CRLs, issuer chains, TCB Info and QE Identity */
    time_t collateral_from, collateral_to;
    kt_pck_entry pck[KT_PCK_CACHE];
    unsigned next;
} kt_verify_cache;

struct kt_collateral {
    kt_verify_cache *cache;
    kt_chain anchor; /* the trust anchor is its first certificate */
    uint8_t root_sha256[32]; /* SHA-256 of the anchor's DER */
    bool simulated;
    kt_buf root_crl_der, pck_crl_der;
    kt_crl root_crl, pck_crl;
    kt_chain pck_crl_chain, tcb_chain, qe_chain;
    kt_buf tcb_json, qe_json;
    kt_tcb_info tcb;
    kt_qe_identity qe;
};

/* The items of collateral, in this order (the directory's file names, the bundle's
 * order), each at most max bytes. */
#define KT_COLLATERAL_ITEMS 8
typedef struct {
    const char *name;
    size_t max;
} kt_collateral_item_file;
extern const kt_collateral_item_file kt_collateral_files[KT_COLLATERAL_ITEMS];
/* Collateral from the items' bytes (copied); anchor_name names the anchor in messages. */
kt_status kt_collateral_from_items(const kt_bytes items[KT_COLLATERAL_ITEMS], const char *anchor_name,
                                   kt_collateral **out);
kt_status kt_collateral_bundle_items(const kt_bytes items[KT_COLLATERAL_ITEMS], kt_buf *out);
/* Views of a bundle's items (into b), every length checked. */
kt_status kt_collateral_bundle_split(const uint8_t *b, size_t n, kt_bytes items[KT_COLLATERAL_ITEMS]);

/* Step 3 of verification: what the collateral vouches for by itself at `at` (both CRLs,
 * the issuer chains, TCB Info and QE Identity), remembered for the window it holds. */
kt_status kt_collateral_check(const kt_collateral *c, time_t at);

/* verify.c's steps for one item at a time (pcs_item.c): an issuer chain of exactly count
 * certificates to c's anchor judged by c's CRLs, a PCS body's signature by the TCB
 * signing certificate, validity windows (each narrows [from, to]). */
kt_status kt_verify_walk(const kt_collateral *c, const kt_chain *chain, unsigned count,
                         const char *shape, time_t at, const char *what, time_t *from, time_t *to);
kt_status kt_verify_signed_body(const kt_collateral *c, const kt_chain *chain, const uint8_t *body,
                                size_t len, const uint8_t sig[64], const char *what);
kt_status kt_verify_crl_at(const kt_crl *crl, const char *what, time_t at, time_t *from,
                           time_t *to);
kt_status kt_verify_cert_at(const kt_x509 *x, const char *what, time_t at, time_t *from,
                            time_t *to);
kt_status kt_verify_window(const char *what, time_t at, time_t from, time_t to);

#endif
