/* Shared between the image sources only. */
#ifndef KT_IMAGE_INTERNAL_H
#define KT_IMAGE_INTERNAL_H

#include <kubetee/image.h>

#define KT_CONFIG_BLOB_LEN 64

/* KT_ERR_DENIED naming the first EINIT rule the report fails, else KT_OK. */
kt_status kt_einit_report_require(const kt_einit_report *r);

/* The config's fixed 64-byte little-endian encoding (docs/formats.md). */
void kt_config_encode(const kt_enclave_config *c, uint8_t out[KT_CONFIG_BLOB_LEN]);
kt_status kt_config_decode(const uint8_t in[KT_CONFIG_BLOB_LEN], kt_enclave_config *c);

/* Reads the dynamic segment at dyn_vaddr into elf (symbols, strings, DT_NEEDED) and
 * checks every relocation names a symbol of the table. elf->seg must be filled. */
kt_status kt_elf_read_dynamic(kt_elf *elf, const uint8_t *data, uint64_t dyn_vaddr);

/* SIGSTRUCT's HEADER and HEADER2 constants (sigstruct.c) */
extern const uint8_t kt_sigstruct_header1[16];
extern const uint8_t kt_sigstruct_header2[16];

#endif
