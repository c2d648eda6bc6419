/* kubetee aecs_files: the AECS users' files, read on the host into plain C structs.
 *
 *   SecretPolicy  (`kind: SecretPolicy`): the secrets a service admin creates
 *   Config        (`kind: Config`): an AECS admin's kubeconfig (who, which server, and
 *                 which AECS enclave the client accepts)
 *
 * Both are the original AECS's formats, read strictly: an unknown key is an error naming
 * it and its line, a key given twice is refused, booleans are true/false (quoted or not),
 * numbers are decimal. docs/formats.md "AECS files" describes every field. Policies are
 * kt_policy (kubetee/attest.h): the original's rule keys are kt_policy's.
 *
 * Names (secrets, services, admins) are an allow-list, checked here and again by AECS:
 *   [A-Za-z0-9] then [A-Za-z0-9._-]*, 1..KT_AECS_NAME_MAX bytes (services
 *   1..KT_AECS_SERVICE_MAX). So no '/', no "." or "..", no leading '-', no control byte.
 * Host only: the readers use libyaml and files. */
#ifndef KUBETEE_AECS_FILES_H
#define KUBETEE_AECS_FILES_H

#include <kubetee/attest.h>
#include <kubetee/base.h>
#include <kubetee/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_AECS_NAME_MAX 64          /* bytes of a secret or admin name */
#define KT_AECS_SERVICE_MAX 32       /* bytes of a service name */
#define KT_AECS_DATA_MAX (16 * 1024) /* bytes of IMPORT_DATA / CONFIGURATIONS data */
#define KT_AECS_SECRETS_MAX 256      /* secrets in one SecretPolicy file */
#define KT_AECS_SUBJECT_MAX 255      /* bytes of a certificate subject */
#define KT_AECS_ENDPOINT_MAX 261     /* host (253) ':' port (5), or [v6]:port */

typedef enum {
    KT_AECS_NAME_SECRET = 1,
    KT_AECS_NAME_SERVICE,
    KT_AECS_NAME_ADMIN
} kt_aecs_name_kind;
/* Checks n bytes against the grammar above; the reason names the rule broken. */
kt_status kt_aecs_name_check(kt_aecs_name_kind kind, const void *name, size_t n);

typedef enum {
    KT_AECS_RSA_KEY_PAIR = 1, /* SECRET_TYPE_RSA_KEY_PAIR */
    KT_AECS_AES256_KEY,       /* SECRET_TYPE_AES256_KEY */
    KT_AECS_IMPORT_DATA,      /* SECRET_TYPE_IMPORT_DATA */
    KT_AECS_CERTIFICATE,      /* SECRET_TYPE_CERTIFICATE */
    KT_AECS_SM2_KEY_PAIR,     /* SECRET_TYPE_SM2_KEY_PAIR */
    KT_AECS_CONFIGURATIONS,   /* SECRET_TYPE_CONFIGURATIONS */
    KT_AECS_EC_P256_KEY_PAIR, /* SECRET_TYPE_EC_P256_KEY_PAIR (ours: not the original's) */
} kt_aecs_secret_type;
/* "SECRET_TYPE_RSA_KEY_PAIR" etc. (NULL for a value outside the enum). */
const char *kt_aecs_secret_type_name(kt_aecs_secret_type t);

/* policy.type: who the secret goes to.
 *   bound         enclaves the rules admit get the secret (the default)
 *   never-export  the secret never leaves AECS: enclaves the rules admit may use it
 *                 (sign, decrypt, encrypt, wrap), never read it; key types only
 *   unbound       no enclave gets it (its service admin manages it, getpub shows the
 *                 public part of a share: public one); takes no rules */
typedef enum { KT_AECS_BOUND = 1, KT_AECS_NEVER_EXPORT, KT_AECS_UNBOUND } kt_aecs_binding;
const char *kt_aecs_binding_name(kt_aecs_binding b);

typedef enum { KT_AECS_PKCS1 = 1, KT_AECS_PKCS8 } kt_aecs_pkcs;

typedef struct {
    char name[KT_AECS_NAME_MAX + 1];
    char service[KT_AECS_SERVICE_MAX + 1];
    kt_aecs_secret_type type;
    bool readonly;     /* readonly: update and destroy are refused */
    bool share_public; /* share: public (getpub serves the public part); else private */
    kt_aecs_binding binding;
    unsigned bit_length;                   /* RSA 2048/3072/4096 (3072); AES 256; else 0 */
    kt_aecs_pkcs pkcs;                     /* RSA only (pkcs8); else 0 */
    unsigned days;                         /* CERTIFICATE: validity, 1..3650 (365) */
    char subject[KT_AECS_SUBJECT_MAX + 1]; /* CERTIFICATE: "CN=...,O=..." or "" */
    char san[KT_CERT_SAN_MAX + 1];         /* CERTIFICATE: "DNS:a,IP:b" (kt_cert_san_check) or "" */
    const char *issuer;  /* CERTIFICATE: "self-signed" (the default) or "service-ca" */
    const char *padding; /* never-export RSA: "pss" (the default) or "pkcs1"; else NULL */
    const char *wrap;    /* never-export AES-256: "kwp" (the default) or "gcm"; else NULL */
    /* Who is admitted (bound, never-export). no_one: the rule list was empty, so no
     * enclave is (policy is NULL). any_identity: the file opted in to rules that pin no
     * identity (policy.allowAnyEnclave: true). */
    kt_policy *policy;
    bool no_one, any_identity;
    /* IMPORT_DATA: the bytes; CONFIGURATIONS: the pairs (from the params, the original's
     * way, or from data in the original's JSON or as key=value lines) in the original's
     * JSON (kt_aecs_config_to_json). NUL-terminated, wiped on free. */
    kt_buf data;
    size_t line; /* where the secret's entry starts */
} kt_aecs_secret_spec;

typedef struct {
    kt_aecs_secret_spec *secrets;
    size_t count;
    /* What the reader accepted but does not act on, one line each ("line 12: secret
     * 'x': spid is ignored: ..."), for the caller to show; len 0 when none, else
     * NUL-terminated. */
    kt_buf notes;
} kt_aecs_secret_file;

/* A SecretPolicy document (at most 1 MiB). On failure out is left empty and the reason
 * names the secret, the key and the line. */
kt_status kt_aecs_secret_file_parse(const char *text, size_t n, kt_aecs_secret_file *out);
kt_status kt_aecs_secret_file_load(const char *path, kt_aecs_secret_file *out);
void kt_aecs_secret_file_free(kt_aecs_secret_file *f);

/* ---- the admin kubeconfig ---- */
typedef struct {
    char admin_name[KT_AECS_NAME_MAX + 1];
    kt_key *identity;                        /* the admin's private key: P-256 or SM2 */
    char endpoint[KT_AECS_ENDPOINT_MAX + 1]; /* serverEndpoint: host:port */
    kt_policy *verify; /* which AECS enclave the client accepts (verifyPolicy) */
    /* aecsServer.instance (ours): the AECS instance key (x||y) the tools pin, as 128 hex
     * digits; a --instance flag or AECS_INSTANCE given beside it wins */
    bool has_instance;
    uint8_t instance[64];
    kt_buf notes;      /* as kt_aecs_secret_file's */
} kt_aecs_admin_config;

/* A Config document. base_dir resolves a relative identityKeyFile (NULL: the current
 * directory). The identity key's bytes are wiped after use and never appear in a
 * message. */
kt_status kt_aecs_admin_config_parse(const char *text, size_t n, const char *base_dir,
                                     kt_aecs_admin_config *out);
/* Reads path (a relative identityKeyFile is relative to path's directory). */
kt_status kt_aecs_admin_config_load(const char *path, kt_aecs_admin_config *out);
void kt_aecs_admin_config_free(kt_aecs_admin_config *c);

#ifdef __cplusplus
}
#endif
#endif
