/* kubetee attest: DCAP quotes (SGX v3, TDX v4/v5), their verification against Intel
 * collateral (PCS v4: PCK chain and CRLs, TCB Info, QE Identity), and policies.
 *
 * One verification path serves real Intel quotes and the sim platform's: only the trust
 * anchor differs, and a quote that chains to the simulation root passes only a policy
 * that says allow_simulation. */
#ifndef KUBETEE_ATTEST_H
#define KUBETEE_ATTEST_H

#include <kubetee/image.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_QUOTE_MAX (1u << 20)

/* ---- quotes ---- */
typedef enum { KT_TEE_SGX = 0, KT_TEE_TDX = 0x81 } kt_tee_type;

typedef struct {
    uint8_t tee_tcb_svn[16];
    uint8_t mrseam[48], mrsignerseam[48];
    uint64_t seam_attributes, td_attributes, xfam;
    uint8_t mrtd[48], mrconfigid[48], mrowner[48], mrownerconfig[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    bool td15; /* TD report 1.5: the two fields below are present */
    uint8_t tee_tcb_svn2[16];
    uint8_t mr_servicetd[48];
} kt_td_report;

/* A parsed quote; views point into the bytes it was parsed from. */
typedef struct {
    uint16_t version;
    kt_tee_type tee;
    uint16_t att_key_type;
    uint8_t qe_vendor_id[16];
    kt_report_body sgx;         /* when tee == KT_TEE_SGX */
    kt_td_report td;            /* when tee == KT_TEE_TDX */
    const uint8_t *signed_part; /* header and body: what the attestation key signed */
    size_t signed_len;
    uint8_t signature[64];    /* r||s */
    uint8_t attest_key[64];   /* x||y */
    const uint8_t *qe_report; /* 384-byte QE report body */
    uint8_t qe_report_sig[64];
    const uint8_t *qe_auth;
    size_t qe_auth_len;
    const char *pck_chain_pem; /* certification data type 5 */
    size_t pck_chain_len;
} kt_quote;

/* Parses and bounds-checks a quote; anything malformed is refused with the reason.
 * Bytes after the declared signature data are allowed (some producers pad). */
kt_status kt_quote_parse(const uint8_t *data, size_t n, kt_quote *q);

/* "2025-06-19T10:56:11Z" (a fraction of a second may precede the Z) as Unix time. */
kt_status kt_time_parse(const char *iso, time_t *out);

/* ---- collateral ---- */
typedef struct kt_collateral kt_collateral;

/* Loads a collateral directory: intel_root_ca.pem (the trust anchor), root_ca_crl.der,
 * pck_crl.der, pck_crl_issuer_chain.pem, tcb_info.json, tcb_info_issuer_chain.pem,
 * qe_identity.json, qe_identity_issuer_chain.pem. `root` overrides the anchor file.
 * Parses everything; signatures and validity are checked at verification time. */
kt_status kt_collateral_load_dir(const char *dir, const char *root_pem_path, kt_collateral **out);
void kt_collateral_free(kt_collateral *c);
/* Fetches the collateral a quote needs from a PCCS or Intel PCS (API v4: tcb, qe/identity,
 * pckcrl, rootcacrl) into <cache_dir>/<tee>-<fmspc>-<ca>, unless the copy there is valid
 * at `at`; writes that directory's path to dir_out. The trust anchor is root_pem, never
 * fetched. Nothing is trusted for being cached: load and verify the directory as always. */
kt_status kt_collateral_fetch(const char *base_url, const uint8_t *quote, size_t n,
                              const char *root_pem, const char *cache_dir, time_t at, char *dir_out,
                              size_t cap);
/* The same, with the root CA CRL from root_crl_url (NULL: the PCCS's rootcacrl, else the
 * CRL distribution point in the trust anchor, which is where Intel PCS users find it). */
kt_status kt_collateral_fetch_ex(const char *base_url, const char *root_crl_url,
                                 const uint8_t *quote, size_t n, const char *root_pem,
                                 const char *cache_dir, time_t at, char *dir_out, size_t cap);
/* The first http(s) CRL distribution point named in a PEM certificate. */
kt_status kt_crl_distribution_point(const char *cert_pem_path, char *url, size_t cap);
/* True when the trust anchor is a kubetee simulation root, not Intel's. */
bool kt_collateral_is_simulated(const kt_collateral *c);
/* SHA-256 of the trust anchor's DER (what a policy's simulation_root names). */
kt_status kt_collateral_root_sha256(const kt_collateral *c, uint8_t out[32]);

/* ---- collateral as bytes: what a host hands an enclave ----
 * A bundle is "KTCOLL1\n" then the eight items of a collateral directory (intel_root_ca.pem
 * first, then as kt_collateral_load_dir lists them), each as a 32-bit little-endian length
 * and the bytes as PCS serves them (docs/formats.md). The anchor travels with the rest:
 * it is whatever the host chose, so what decides is the policy (Intel's root, or a
 * simulation root the policy names by fingerprint; kt_policy_check_root). */
kt_status kt_collateral_from_bundle(const uint8_t *bundle, size_t n, kt_collateral **out);
#ifndef KT_TRUSTED
/* The bundle of a collateral directory (root_pem_path overrides the anchor file). */
kt_status kt_collateral_bundle_dir(const char *dir, const char *root_pem_path, kt_buf *out);
/* Serves collateral to enclaves in this process: the untrusted function
 * kt.attest.Collateral (a quote in, the bundle to verify it with out) behind
 * kt_collateral_for_quote, and kt.attest.Time, this host's clock, behind
 * kt_attest_host_time. source is a collateral directory (the sim platform's, a
 * kubetee-collateral cache) or the URL of a PCCS or Intel PCS, fetched from with
 * kt_collateral_fetch into cache_dir with root_pem as the anchor (NULL root_pem: the
 * directory's own intel_root_ca.pem). Calling it again replaces the source. */
kt_status kt_attest_serve_collateral(const char *source, const char *root_pem,
                                     const char *cache_dir);
#else
/* Inside an enclave: the collateral for a quote, from the host (kt.attest.Collateral),
 * read and kept here (the last few bundles, by SHA-256, so a warm handshake costs a
 * hash). Borrowed: give it back with kt_collateral_release. Nothing in it is trusted yet:
 * kt_policy_check_root judges its anchor and kt_quote_verify everything else. */
kt_status kt_collateral_for_quote(const uint8_t *quote, size_t n, const kt_collateral **out);
void kt_collateral_release(const kt_collateral *c);
/* The host's clock (kt.attest.Time, served with kt.attest.Collateral). The host can lie:
 * kt_quote_verify refuses a time before collateral already seen; nothing stops a host
 * from freezing time (docs/protocol.md). */
kt_status kt_attest_host_time(time_t *now);
/* One clock in the enclave: once set, kt_attest_host_time answers with source (and its
 * refusals) instead of kt.attest.Time, so every trusted time (quote and collateral
 * checks, F11 valid_until, session age and idle) is the enclave's own checked clock
 * (AECS: its floored clock, docs/aecs.md "Time"). Set once; another source is refused. */
kt_status kt_attest_set_time_source(kt_status (*source)(int64_t *now));
#endif

/* ---- PCS items one at a time (the collateral proxy) ----
 * Each item Intel PCS / a PCCS serves, verified on its own to a pinned trust anchor:
 * the root CA CRL by the anchor; a PCK CRL by its issuer chain (the PCK CA named by
 * `ca`, then the root); TCB Info and QE/QvE Identity by the TCB signing certificate,
 * then the root. Every issuer chain is judged by the root CA CRL the trust holds, and
 * everything must be valid at `at`. */
typedef enum {
    KT_PCS_ROOT_CRL,
    KT_PCS_PCK_CRL,
    KT_PCS_TCB,
    KT_PCS_QE_IDENTITY,
    KT_PCS_QVE_IDENTITY,
    KT_PCS_PCK_CERT,
    KT_PCS_TCB_EVAL, /* TCB Evaluation Data Numbers (tee: whose) */
} kt_pcs_kind;

typedef struct {
    kt_pcs_kind kind;
    kt_tee_type tee;      /* TCB and QE Identity: whose (QvE Identity: SGX) */
    bool platform_ca;     /* PCK CRL: the Platform CA's, else the Processor CA's */
    uint8_t fmspc[6];     /* TCB */
    uint32_t eval_number; /* TCB, identities: the tcbEvaluationDataNumber asked for (0: any) */
} kt_pcs_item_id;

/* What a PCK certificate's SGX extensions say of its platform. */
typedef struct {
    uint8_t cpusvn[16];
    uint8_t comp[16]; /* SGX TCB components 1..16 */
    uint16_t pcesvn;
    uint8_t pceid[2];
    uint8_t fmspc[6];
    bool platform_ca; /* issued by the PCK Platform CA, else the Processor CA */
} kt_pcs_pck_facts;

typedef struct {
    time_t issued;        /* issueDate, the CRL's thisUpdate, the certificate's notBefore */
    time_t next_update;   /* the item's own nextUpdate */
    time_t valid_to;      /* the earliest end of anything it was judged by (certificates,
                             CRLs, its own nextUpdate): it holds until then */
    kt_pcs_pck_facts pck; /* PCK certificates */
} kt_pcs_validity;

typedef struct kt_pcs_trust kt_pcs_trust;

/* A trust anchor (one PEM certificate); no root CA CRL yet. Not for concurrent use. */
kt_status kt_pcs_trust_new(const char *root_pem, size_t n, kt_pcs_trust **out);
void kt_pcs_trust_free(kt_pcs_trust *t);
/* True when the anchor is not Intel's production root (a simulation or test root). */
bool kt_pcs_trust_is_simulated(const kt_pcs_trust *t);
/* Verifies a root CA CRL (DER) to the anchor at `at` and, when it holds, makes it the
 * CRL that judges every other item's issuer chain. */
kt_status kt_pcs_trust_set_root_crl(kt_pcs_trust *t, const uint8_t *der, size_t n, time_t at,
                                    kt_pcs_validity *v);
/* Verifies a PCK CRL (id: which CA's) as kt_pcs_item_check does and, when it holds, makes
 * it the CRL that judges PCK certificates that CA issued. */
kt_status kt_pcs_trust_set_pck_crl(kt_pcs_trust *t, const kt_pcs_item_id *id, const uint8_t *der,
                                   size_t n, const char *chain, size_t chain_len, time_t at,
                                   kt_pcs_validity *v);
/* Verifies one item: body is the CRL (DER), the JSON exactly as PCS serves it, or the PCK
 * certificate (PEM), chain its issuer chain (PEM; none for the root CA CRL). The item must
 * be the one id names (TEE, FMSPC, CA). Needs the root CA CRL set, except for
 * KT_PCS_ROOT_CRL, and for a PCK certificate its CA's PCK CRL (v->pck says what the
 * certificate names). */
kt_status kt_pcs_item_check(const kt_pcs_trust *t, const kt_pcs_item_id *id, const uint8_t *body,
                            size_t n, const char *chain, size_t chain_len, time_t at,
                            kt_pcs_validity *v);
/* One GET from Intel PCS or a PCCS: the body (at most 1 MiB), the HTTP status, and when
 * header is given the value of that response header URL-decoded (empty when absent).
 * api_key (NULL: none) is sent as Ocp-Apim-Subscription-Key, as Intel PCS wants. Fails
 * only when no HTTP answer came; the caller judges *code. */
kt_status kt_pcs_get(const char *url, const char *api_key, const char *header, kt_buf *body,
                     kt_buf *header_value, long *code);
/* The same with json (NULL: a GET) POSTed as application/json (Intel PCS's pckcerts for a
 * platform manifest). */
kt_status kt_pcs_post(const char *url, const char *api_key, const char *json, const char *header,
                      kt_buf *body, kt_buf *header_value, long *code);
/* A CRL body as DER: some PCCS versions send CRLs as hex, which is decoded in place. */
kt_status kt_pcs_crl_der(kt_buf *body);
/* PCK certificate selection, as Intel's PCKCertSelection library and PCCS do it: of one
 * platform's certificates (their facts, as kt_pcs_item_check gave them), the best for the
 * platform's raw TCB (cpusvn as the platform reports it, pcesvn). The certificates are
 * put in buckets by the first level of the TCB Info (tcb_info: the PCS body, for their
 * FMSPC) that each is at or above, highest first within a bucket; the answer is the first
 * certificate, in that order, that the raw TCB is at or above (every component and the
 * PCESVN). Refused: a TCB Info that does not parse or whose tcbType is not 0, certificates
 * for another FMSPC or PCE ID than the TCB Info's, a certificate whose components are not
 * its CPUSVN. KT_ERR_NOT_FOUND when the raw TCB is below every certificate. */
kt_status kt_pcs_pck_select(const char *tcb_info, size_t n, const kt_pcs_pck_facts *certs,
                            size_t count, const uint8_t cpusvn[16], uint16_t pcesvn, size_t *best);

/* ---- verification ---- */
typedef enum {
    KT_TCB_UNKNOWN = 0,
    KT_TCB_UP_TO_DATE,
    KT_TCB_SW_HARDENING_NEEDED,
    KT_TCB_CONFIGURATION_NEEDED,
    KT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    KT_TCB_OUT_OF_DATE,
    KT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    KT_TCB_REVOKED,
} kt_tcb_status;

const char *kt_tcb_status_name(kt_tcb_status s);
kt_status kt_tcb_status_parse(const char *name, kt_tcb_status *out);

/* Advisory IDs per TCB level; a verdict holds the union of up to three levels' (platform,
 * QE, TDX module), so every one of them fits. */
#define KT_LEVEL_MAX_ADVISORIES 32
#define KT_MAX_ADVISORIES (3 * KT_LEVEL_MAX_ADVISORIES)

typedef struct {
    bool ok;                       /* every check passed (TCB status is for the policy to judge) */
    kt_status status;              /* first failure, KT_OK when ok */
    char reason[256];              /* what failed, in words */
    bool simulated;                /* chained to a simulation root */
    kt_tcb_status tcb_status;      /* converged status */
    kt_tcb_status platform_status; /* the matched TCB level's */
    kt_tcb_status qe_status;       /* the QE Identity level's */
    kt_tcb_status module_status;   /* TDX module identity level's, TDX only */
    char advisories[KT_MAX_ADVISORIES][24];
    unsigned advisory_count;
    uint8_t fmspc[6];
    kt_quote quote; /* the enclave's or TD's measurements and attributes */
    /* when ok: the last second the verification holds (the earliest end of the
     * collateral's and the PCK chain's validity windows); re-attest after it */
    time_t valid_until;
    uint8_t root_sha256[32]; /* the trust anchor's fingerprint (SHA-256 of its DER) */
} kt_verdict;

/* Verifies a quote at time `at` against collateral. Returns KT_OK when the verdict was
 * produced (look at verdict->ok), an error only when arguments are unusable.
 * Inside an enclave `at` comes from the host, which can lie: it is refused when earlier
 * than the newest issue date of collateral the enclave has verified (docs/protocol.md). */
kt_status kt_quote_verify(const uint8_t *quote, size_t n, const kt_collateral *c, time_t at,
                          kt_verdict *verdict);
/* The verdict as a JSON object (one line). */
kt_status kt_verdict_json(const kt_verdict *v, kt_buf *out);

/* ---- policy ---- */
typedef struct kt_policy kt_policy;

/* YAML or JSON (JSON is YAML; inside an enclave JSON only). Top level: allow_simulation,
 * simulation_root (SHA-256 hex of the one simulation root accepted; inside an enclave a
 * simulated quote passes only a policy that names it), accepted_tcb_status (list),
 * and enclaveMatchAnyRules (or rules): a list of rules, any of which may match. Rule keys:
 * mrenclave, mrsigner, isvprodid|prodID|prodid, min_isvsvn|minIsvSvn|min_svn,
 * report_data|user_data, allow_debug|debug_disabled, mrtd, rtmr0..rtmr3, td_attributes,
 * allow_service_td, spid (must be empty). Hex in any case, exact length, never a prefix. Unknown
 * keys and bad values are errors naming them. */
kt_status kt_policy_parse(const char *text, size_t n, kt_policy **out);
#ifndef KT_TRUSTED
kt_status kt_policy_load(const char *path, kt_policy **out);
#endif

/* A rule as plain fields (has_x: field x was given and must match). AECS carries rules
 * in its messages and rebuilds the policy with kt_policy_from_rules where no YAML
 * parser runs. */
typedef struct {
    bool has_mrenclave, has_mrsigner, has_prodid, has_min_svn, has_report_data, has_mrtd,
        has_td_attributes, has_rtmr[4];
    uint8_t mrenclave[32], mrsigner[32], report_data[64], mrtd[48], rtmr[4][48];
    uint16_t prodid, min_svn;
    uint64_t td_attributes;
    bool allow_debug, allow_service_td;
} kt_policy_rule;

/* How a reader embedding policies bends the rules for its own format. */
typedef struct {
    bool allow_any_identity;      /* a rule may pin no identity (no mrenclave/mrsigner/mrtd) */
    const char *any_identity_key; /* named in the refusal when not allowed: how to opt in */
    bool ignore_spid;             /* spid is accepted and ignored instead of refused */
    const char *const *own_keys;  /* top-level keys the caller reads itself (NULL-ended) */
} kt_policy_options;

/* The same from a document tree (kubetee/yaml.h's kt_y): a whole policy mapping, or,
 * with kt_policy_from_rules_tree, only rules (a sequence of rule mappings, or one rule
 * mapping) with everything else as kt_policy_default(false). o may be NULL. */
struct kt_y;
kt_status kt_policy_from_tree(const struct kt_y *doc, const kt_policy_options *o, kt_policy **out);
kt_status kt_policy_from_rules_tree(const struct kt_y *rules, const kt_policy_options *o,
                                    kt_policy **out);
/* A policy from rules (n >= 1) as kt_policy_rules gives them. */
kt_status kt_policy_from_rules(const kt_policy_rule *rules, size_t n, bool allow_simulation,
                               kt_policy **out);
/* The policy's rules (NULL and 0 for kt_policy_default's). */
const kt_policy_rule *kt_policy_rules(const kt_policy *p, size_t *n);
bool kt_policy_allows_simulation(const kt_policy *p);
/* Pins the one simulation root p accepts (SHA-256 of its DER), as simulation_root does:
 * for policies built from rules; it needs allow_simulation. */
kt_status kt_policy_set_simulation_root(kt_policy *p, const uint8_t root_sha256[32]);

/* A platform-only policy: any identity, judged by its platform alone. A quote passes when
 * it verifies, chains to Intel's root or (allow_simulation) to the one simulation root
 * named by simulation_root (SHA-256 of its DER; required: the host hands over the anchor),
 * has one of tcb_statuses (a bit per kt_tcb_status; 0: UpToDate only), and is not a debug
 * enclave unless allow_debug. Who the enclave is stays for the caller to judge (AECS: each
 * secret's rules). */
typedef struct {
    bool allow_simulation;
    uint8_t simulation_root[32];
    bool allow_debug;
    uint32_t tcb_statuses;
} kt_platform_policy;
#define KT_TCB_BIT(s) (1u << (s))
kt_status kt_policy_from_platform(const kt_platform_policy *pp, kt_policy **out);

/* The policy without a policy file: what every policy refuses unless it says otherwise
 * (TCB statuses other than UpToDate, debug enclaves and debug TDs, TDs bound to a service
 * TD, simulated quotes unless allow_simulation), for any identity. */
kt_status kt_policy_default(bool allow_simulation, kt_policy **out);
/* An independent copy of p (freed with kt_policy_free). */
kt_status kt_policy_copy(const kt_policy *p, kt_policy **out);
void kt_policy_free(kt_policy *p);
/* KT_OK when the verdict passed and some rule matches; else KT_ERR_DENIED with every
 * rule's reason in kt_last_error(). */
kt_status kt_policy_check(const kt_policy *p, const kt_verdict *v);
/* The cheap check first: the collateral's trust anchor is one the policy accepts (Intel's,
 * or a simulation root under allow_simulation and simulation_root); KT_ERR_DENIED naming
 * the root otherwise. kt_policy_check makes it again on the verdict. */
kt_status kt_policy_check_root(const kt_policy *p, const kt_collateral *c);

/* ---- the sim platform's quoting enclave and collateral ----
 * Under <sim_dir>/attest: a simulation root CA (made on first use, or imported so a
 * cluster shares one), a PCK CA and PCK certificate with SGX extensions, a TCB signing
 * certificate and the QE's attestation key, all P-256. <sim_dir>/attest/collateral holds
 * PCS-style collateral issued under that root, renewed when it nears expiry. Quotes are
 * v3, byte for byte in Intel's layout; they verify only against the simulation root. */
typedef struct kt_sim_qe kt_sim_qe;

kt_status kt_sim_qe_open(const char *sim_dir, kt_sim_qe **out);
void kt_sim_qe_free(kt_sim_qe *qe);
const char *kt_sim_qe_collateral_dir(const kt_sim_qe *qe);
/* The QE's TARGETINFO, for an enclave to make a REPORT the QE can check. */
kt_status kt_sim_qe_target_info(const kt_sim_qe *qe, uint8_t ti[512]);
/* Checks the REPORT's MAC (it must be made for the QE on this platform) and quotes it. */
kt_status kt_sim_qe_quote(const kt_sim_qe *qe, const uint8_t report[432], kt_buf *quote);
/* Quotes a report body as given, with no MAC to check: `kubetee attest quote`. */
kt_status kt_sim_qe_quote_body(const kt_sim_qe *qe, const uint8_t body[384], kt_buf *quote);
/* Serves the simulated QE to enclaves in this process (the untrusted functions behind
 * kt_quote_create: kt.qe.TargetInfo and kt.qe.Quote), with the state in sim_dir. */
kt_status kt_attest_serve_quotes(const char *sim_dir);

/* A cluster shares one simulation root: export its certificate and key from one node,
 * import them on the others (their PCK chains and collateral are then re-issued). */
kt_status kt_sim_root_export(const char *sim_dir, const char *out_dir);
kt_status kt_sim_root_import(const char *sim_dir, const char *from_dir);

#ifdef __cplusplus
}
#endif
#endif
