/* Shared between the attest sources only. */
#ifndef KT_ATTEST_INTERNAL_H
#define KT_ATTEST_INTERNAL_H

#include <kubetee/attest.h>
#include <openssl/x509.h>
#include <pthread.h>

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

kt_status kt_pck_ext_parse(const uint8_t *der, size_t n, kt_pck_info *out);
kt_status kt_pck_ext_encode(const kt_pck_info *in, kt_buf *der);
kt_status kt_pck_info_from_cert(X509 *leaf, kt_pck_info *out);

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
    pthread_mutex_t lock;
    bool json_ok; /* TCB Info and QE Identity chains and signatures */
    time_t json_from, json_to;
    kt_pck_entry pck[KT_PCK_CACHE];
    unsigned next;
} kt_verify_cache;

struct kt_collateral {
    kt_verify_cache *cache;
    X509 *root;
    bool simulated;
    X509_CRL *root_crl, *pck_crl;
    STACK_OF(X509) * pck_crl_chain, *tcb_chain, *qe_chain;
    STACK_OF(X509) * pool; /* every distinct certificate above, parsed once */
    kt_buf tcb_json, qe_json;
    kt_tcb_info tcb;
    kt_qe_identity qe;
};

/* A certificate's P-256 public key. */
kt_status kt_key_of_x509(X509 *x, kt_key **out);
/* A PEM bundle as a stack of certificates. */
kt_status kt_pem_chain(const char *pem, size_t n, STACK_OF(X509) * *out);
/* The same, reusing certificates of pool whose DER is identical instead of parsing. */
kt_status kt_pem_chain_pooled(const char *pem, size_t n, STACK_OF(X509) * pool,
                              STACK_OF(X509) * *out);

#endif
