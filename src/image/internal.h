/* Shared between the image sources only. */
#ifndef KT_IMAGE_INTERNAL_H
#define KT_IMAGE_INTERNAL_H

#include <kubetee/image.h>

#define KT_CONFIG_BLOB_LEN 64

/* The config's fixed 64-byte little-endian encoding (docs/formats.md). */
void kt_config_encode(const kt_enclave_config *c, uint8_t out[KT_CONFIG_BLOB_LEN]);
kt_status kt_config_decode(const uint8_t in[KT_CONFIG_BLOB_LEN], kt_enclave_config *c);

#endif
