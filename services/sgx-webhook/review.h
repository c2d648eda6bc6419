/* sgx-webhook's core: an AdmissionReview v1 in, an AdmissionReview v1 out. No I/O, so the
 * fuzz target and the server call the same code. */
#ifndef SGX_WEBHOOK_REVIEW_H
#define SGX_WEBHOOK_REVIEW_H

#include <kubetee/base.h>

#define WH_MAX_EPC 8
#define WH_NAME 254 /* a qualified resource name: 253 bytes and a NUL */

typedef struct {
    char epc[WH_MAX_EPC][WH_NAME]; /* resources that mean "this container runs enclaves" */
    size_t n_epc;
    char enclave[WH_NAME];   /* added to each of them */
    char provision[WH_NAME]; /* added to the container the quote-provider annotation names */
    bool aesm_resource;      /* AESM as a device plugin resource, not a hostPath volume */
    char aesm[WH_NAME];      /* that resource */
    char aesm_dir[256];      /* the host's AESM socket directory (hostPath delivery) */
    size_t max_body;
} wh_config;

/* What a review came to, for the log line and the metrics. */
typedef enum { WH_UNCHANGED, WH_MUTATED, WH_REFUSED, WH_INVALID } wh_outcome;
typedef enum {
    WH_OK,
    WH_MALFORMED,     /* not JSON, duplicate keys, not an AdmissionReview shape (HTTP 400) */
    WH_TOO_LARGE,     /* over max_body */
    WH_API_VERSION,   /* apiVersion/kind other than admission.k8s.io/v1 AdmissionReview */
    WH_NOT_POD,       /* a kind, resource, subresource or operation this webhook does not take */
    WH_BAD_POD,       /* a field of the pod it reads has the wrong type or an unreadable value */
    WH_PROVISION,     /* a container asks for provision the annotation does not give it */
    WH_QUOTE_PROVIDER, /* the annotation names nothing that asks for EPC */
    WH_RESERVED        /* the pod sets an annotation only the device plugin may set */
} wh_reason;
#define WH_REASONS 9
extern const char *const wh_reason_names[WH_REASONS];

typedef struct {
    wh_outcome outcome;
    wh_reason reason;
    size_t ops; /* JSON Patch operations returned */
    char uid[130], message[512]; /* escaped (kt_escape): they go into the answer */
    char namespace_[64], pod[256]; /* as the request has them, cut to fit: for the log */
} wh_result;

void wh_config_defaults(wh_config *c);

/* Reviews one request body. Writes the response body (an AdmissionReview, or a plain-text
 * error when the request cannot be answered as one) and returns its HTTP status. */
unsigned wh_review(const wh_config *c, const uint8_t *body, size_t n, kt_buf *out,
                   wh_result *r);

/* Mutation of one pod object, appending JSON Patch operations to ops (a json_t array).
 * KT_OK, or a failure with *reason and the message in kt_last_error(). */
struct json_t;
kt_status wh_mutate(const wh_config *c, struct json_t *pod, struct json_t *ops, wh_reason *reason);

/* Appends "/" and a JSON Pointer reference token (RFC 6901: ~ as ~0, / as ~1). */
kt_status wh_pointer_append(char *path, size_t cap, const char *token);

#endif
