/* kubetee-signer's client, for kubetee sign --signer and kubetee signer. */
#ifndef KT_SIGNER_CLIENT_H
#define KT_SIGNER_CLIENT_H

#include <kubetee/image.h>

typedef struct {
    const char *address, *ca, *cert, *key, *server_name;
} signer_endpoint;

/* Has the signer sign sd with its key `key`; the key's public half and the signature.
 * While the key's M-of-N approval is not complete, asks again for up to wait_s. */
kt_status signer_sign(const signer_endpoint *e, const char *key,
                      const uint8_t sd[KT_SIGDATA_LEN], int wait_s, kt_key **pub, kt_buf *sig);

#endif
