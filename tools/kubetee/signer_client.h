/* kubetee-signer's client, for kubetee sign --signer and kubetee signer. */
#ifndef KT_SIGNER_CLIENT_H
#define KT_SIGNER_CLIENT_H

#include <kubetee/image.h>

typedef struct {
    const char *address, *ca, *cert, *key, *server_name;
} signer_endpoint;

typedef struct {
    const char *key;        /* the signer's key name */
    const uint8_t *sigdata; /* KT_SIGDATA_LEN bytes */
    const uint8_t *image;   /* the unsigned image and its config text, for the signer's */
    size_t image_len;       /* reproducible-build check (NULL/0: not sent) */
    const char *config;
    int wait_s; /* while the key's M-of-N approval is not complete, ask again this long */
} signer_request;

/* Has the signer sign; the key's public half and the signature. */
kt_status signer_sign(const signer_endpoint *e, const signer_request *r, kt_key **pub,
                      kt_buf *sig);

#endif
