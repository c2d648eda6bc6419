/* kubetee-signer: enclave signing with keys in a PKCS#11 token, by a policy per key.
 * config.c reads the YAML configuration, policy.c decides a request, state.c keeps the
 * highest ISVSVN signed per key and ISVPRODID, service.c serves the gRPC methods. */
#ifndef KT_SIGNER_H
#define KT_SIGNER_H

#include <kubetee/image.h>
#include <kubetee/pkcs11.h>
#include <pthread.h>
#include <stdio.h>

#define SG_NAME_MAX 64
#define SG_DN_MAX 512 /* a certificate name in one line */
#define SG_PATH_MAX 512
#define SG_MAX_CLIENTS 64 /* a key's clients are a bit set */
#define SG_MAX_KEYS 64
#define SG_MAX_PRODIDS 64

/* A client: the one certificate it presents, pinned by subject and issuer. */
typedef struct {
    char name[SG_NAME_MAX + 1];
    char subject[SG_DN_MAX], issuer[SG_DN_MAX];
} sg_client;

/* A key and its policy. */
typedef struct {
    char name[SG_NAME_MAX + 1];        /* what clients ask for */
    char label[KT_P11_LABEL_MAX + 1];  /* the key's label in the token (default: name) */
    bool production;                   /* never signs a debug enclave */
    bool debug;                        /* may sign debug enclaves (never with production) */
    uint16_t prodids[SG_MAX_PRODIDS];  /* ISVPRODIDs it signs; no other */
    size_t nprodids;
    uint64_t clients;                  /* bit i: clients[i] may use it */
    bool reproducible;                 /* signs only what it measured from the image sent */
    unsigned approvals;                /* M: distinct approvers a signature needs (0: none) */
    uint64_t approvers;                /* bit i: clients[i] may approve (N of them) */
} sg_key;

typedef struct {
    char listen[256], http[256], state[SG_PATH_MAX], log_format[8], rpc_limits[256];
    char approvals[SG_PATH_MAX]; /* the approvals file (default: state's path + ".approvals") */
    char tls_cert[SG_PATH_MAX], tls_key[SG_PATH_MAX], tls_client_ca[SG_PATH_MAX];
    char module[SG_PATH_MAX], token[33], pin_file[SG_PATH_MAX], pin_env[128];
    char log_path[SG_PATH_MAX], log_head[SG_PATH_MAX], log_key[SG_PATH_MAX];
    sg_client clients[SG_MAX_CLIENTS];
    size_t nclients;
    sg_key keys[SG_MAX_KEYS];
    size_t nkeys;
    uint64_t max_enclave_size; /* the build check measures no larger enclave (default 1 GiB) */
    unsigned max_enclave_mib;  /* the same as given */
    char key[SG_NAME_MAX + 1]; /* keygen --key: the key to make */
} sg_config;

/* Reads the YAML configuration into c (zeroed first). Unknown keys, keys given twice,
 * missing required ones, a production key that allows debug, a key naming an unknown
 * client, two clients of one certificate name pair, two keys of one token label and
 * numbers that are not plain decimals are refused naming what and where. */
kt_status sg_config_parse(const char *text, size_t n, sg_config *c);
/* The same from the file of --config (or KT_SIGNER_CONFIG), with the environment
 * (KT_SIGNER_*) and flags (argv[0..argc)) over its settings: kubetee/svc.h's settings
 * reader. --help sets *help (the usage printed). */
kt_status sg_config_load(int argc, char **argv, sg_config *c, bool *help);
void sg_config_usage(FILE *f);
/* The settings in effect, one log line (the PIN is never a setting). */
void sg_config_log(const sg_config *c);
const sg_key *sg_config_key(const sg_config *c, const char *name);
/* The client whose certificate has this subject and issuer, or -1. */
int sg_config_client(const sg_config *c, const char *subject, const char *issuer);

/* The highest ISVSVN signed for each (MRSIGNER, ISVPRODID), kept in a file written
 * atomically before a signature is handed out. */
typedef struct sg_state sg_state;
kt_status sg_state_open(const char *path, sg_state **out);
void sg_state_free(sg_state *s);
/* Refuses an svn below the highest signed for (mrsigner, prodid); otherwise records it
 * (the file is rewritten when it rises) and returns KT_OK. Serialised. */
kt_status sg_state_advance(sg_state *s, const uint8_t mrsigner[32], uint16_t prodid,
                           uint16_t svn);
/* The text form, for tests and the fuzz target: parses into s (replacing its entries). */
kt_status sg_state_parse(sg_state *s, const char *text, size_t n);

/* Why a request was refused, for the metrics. */
typedef enum {
    SG_OK,
    SG_REFUSED_CLIENT,   /* no certificate, or one no client is pinned to */
    SG_REFUSED_KEY,      /* no such key, or not one this client may use */
    SG_REFUSED_REQUEST,  /* not signing data as gendata writes it */
    SG_REFUSED_PRODID,   /* not a prodid the key signs */
    SG_REFUSED_DEBUG,    /* a debug enclave and the key may not sign one */
    SG_REFUSED_SVN,      /* ISVSVN below one already signed */
    SG_AWAITING,         /* fewer than M approvals for this MRENCLAVE so far */
    SG_REFUSED_BUILD,    /* the image sent does not measure to what is asked, or is refused */
    SG_FAILED_TOKEN,     /* the token or the state file failed */
    SG_OUTCOMES
} sg_outcome;
extern const char *const sg_outcome_names[SG_OUTCOMES];

/* The reproducible-build check (build.c): the image and config measure to the signing
 * data's MRENCLAVE and carry its prodid, svn, debug and xfrm, and pass signing's checks. */
kt_status sg_build_check(const uint8_t *image, size_t n, const char *config, size_t config_len,
                         uint64_t max_enclave_size, const kt_sigdata_info *req);

/* The policy's answer for a decoded request from client (an index) to key. */
sg_outcome sg_policy_check(const sg_config *c, int client, const sg_key *key,
                           const kt_sigdata_info *req);

#endif
