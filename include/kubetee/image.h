/* kubetee image: the enclave image, its measurement (MRENCLAVE) and signature
 * (SIGSTRUCT), and the signed-image file that carries both.
 *
 * An enclave image is an ELF64 x86-64 shared object. Signing appends a trailer that
 * holds the enclave config and SIGSTRUCT; the ELF loader ignores trailing bytes and the
 * trailer is not part of the measured bytes. docs/formats.md has every layout.
 */
#ifndef KUBETEE_IMAGE_H
#define KUBETEE_IMAGE_H

#include <kubetee/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_PAGE_SIZE 4096
#define KT_SIGSTRUCT_LEN 1808
#define KT_SIGDATA_LEN 256        /* SIGSTRUCT header (128) || body (128): the bytes signed */
#define KT_IMAGE_MAX (1ull << 30) /* largest image file accepted */
#define KT_ENTRY_SYMBOL "kt_enclave_entry"

/* The enclave config. It is measured (MRENCLAVE covers it), so the host can't alter it. */
typedef struct {
    uint64_t heap_size;        /* bytes, multiple of 4096 */
    uint64_t stack_size;       /* bytes per TCS, multiple of 4096 */
    uint64_t max_message_size; /* largest ECALL/OCALL message, bytes */
    uint32_t tcs_count;        /* concurrent calls into the enclave */
    uint16_t prodid;           /* ISVPRODID */
    uint16_t svn;              /* ISVSVN */
    bool debug;                /* debug enclave: no secrets should be trusted to it */
    uint64_t xfrm;             /* SIGSTRUCT ATTRIBUTES.XFRM; not in the config block */
} kt_enclave_config;

#define KT_XFRM_DEFAULT 0x3ull /* x87 and SSE */

void kt_enclave_config_default(kt_enclave_config *c);
/* Parses `key = value` lines (# comments): heap_size, stack_size, max_message_size,
 * tcs_count, prodid, svn, debug (true or false), xfrm. Sizes accept K/M/G suffixes. An unknown
 * key, a bad value or a key given twice is an error naming it; keys not given keep c's
 * values. */
kt_status kt_enclave_config_parse(const char *text, size_t n, kt_enclave_config *c);
/* Checks ranges (page multiples, 1..256 TCS, an XFRM ECREATE accepts, ...). */
kt_status kt_enclave_config_check(const kt_enclave_config *c);

/* ---- XFRM ---- */
/* KT_ERR_INVALID_ARGUMENT naming the rule an XFRM breaks: x87 and SSE set, only user
 * state components (bits 0-7, 9, 17, 18), MPX, AVX-512 and AMX components in their
 * groups, AVX-512 with AVX. */
kt_status kt_xfrm_check(uint64_t xfrm);
/* Bytes and pages one SSA frame needs for XFRM: its XSAVE area, MISC.EXINFO, GPRSGX. */
uint32_t kt_xfrm_ssa_bytes(uint64_t xfrm);
uint32_t kt_xfrm_ssa_pages(uint64_t xfrm);

/* ---- ELF ---- */
typedef struct {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags; /* KT_PAGE_R/W/X */
} kt_elf_segment;

#define KT_ELF_MAX_SEGMENTS 16
#define KT_ELF_MAX_NEEDED 16
typedef struct {
    kt_elf_segment seg[KT_ELF_MAX_SEGMENTS];
    unsigned nseg;
    uint64_t image_size;           /* end of the last segment, page-rounded */
    uint64_t entry;                /* address of KT_ENTRY_SYMBOL, 0 when absent */
    uint64_t tls_memsz, tls_align; /* PT_TLS: the thread-local block; 0 when absent */
    /* the dynamic segment as the dynamic loader reads it; views into the file */
    const uint8_t *symtab, *strtab;        /* DT_SYMTAB, DT_STRTAB */
    size_t nsyms, strsz;                   /* count from DT_HASH/DT_GNU_HASH; DT_STRSZ */
    const char *needed[KT_ELF_MAX_NEEDED]; /* DT_NEEDED */
    unsigned nneeded;
} kt_elf;

#define KT_PAGE_R 1u
#define KT_PAGE_W 2u
#define KT_PAGE_X 4u

/* One dynamic symbol. binds_local: the dynamic loader binds it inside the object (local
 * binding, hidden or internal visibility), never to another object's definition. */
typedef struct {
    const char *name;
    uint64_t value;
    bool defined, function, binds_local;
} kt_elf_sym;

/* Parses and bounds-checks an ELF64 x86-64 shared object, reading its symbols, needed
 * libraries and relocations from the dynamic segment as the dynamic loader does (never
 * from section headers); views point into data. */
kt_status kt_elf_parse(const uint8_t *data, size_t n, kt_elf *out);
/* Symbol i (0..nsyms-1) of the dynamic symbol table. */
kt_status kt_elf_symbol(const kt_elf *elf, size_t i, kt_elf_sym *out);
/* Calls fn for each imported symbol (undefined, bound by lookup); stops at fn's first
 * error. */
kt_status kt_elf_imports(const kt_elf *elf, kt_status (*fn)(const char *name, void *arg),
                         void *arg);
/* KT_ERR_DENIED naming the first thing the trusted runtime does not provide: a DT_NEEDED
 * library off its list, an import off its list, or a symbol exported besides
 * KT_ENTRY_SYMBOL (the host's definition of that name would be bound instead). */
kt_status kt_elf_check_imports(const kt_elf *elf);
/* Whether the trusted runtime provides this symbol (libc's memory, string, formatting
 * and mutex functions, the libcrypto and protobuf-c functions it uses, sanitizer hooks). */
bool kt_import_allowed(const char *name);
/* Whether an enclave may name this library in DT_NEEDED. */
bool kt_library_allowed(const char *soname);

/* ---- layout ---- */
/* SECINFO.FLAGS: permissions KT_PAGE_R/W/X, page type in bits 8..15 */
#define KT_SECINFO_PT_TCS (1u << 8)
#define KT_SECINFO_PT_REG (2u << 8)
#define KT_LAYOUT_NSSA 1             /* SSA frames per TCS */
#define KT_LAYOUT_TLS_MAX (1u << 20) /* largest PT_TLS block */
/* TCS fields (Intel SDM vol. 3D, "Thread Control Structure"); bytes 72.. are reserved */
#define KT_TCS_FLAGS 8
#define KT_TCS_OSSA 16
#define KT_TCS_CSSA 24
#define KT_TCS_NSSA 28
#define KT_TCS_OENTRY 32
#define KT_TCS_AEP 40
#define KT_TCS_OFSBASGX 48
#define KT_TCS_OGSBASGX 56
#define KT_TCS_FSLIMIT 64
#define KT_TCS_GSLIMIT 68
#define KT_TCS_USED 72

/* Where every page of an enclave sits (offsets from its base); docs/formats.md. */
typedef struct {
    kt_enclave_config config;
    uint64_t size;                  /* SECS.SIZE: a power of two; BASEADDR a multiple of it */
    uint64_t end;                   /* first byte past the last page */
    uint32_t ssa_frame_pages, nssa; /* SECS.SSAFRAMESIZE; SSA frames per TCS */
    uint64_t xfrm, entry;
    bool debug;
    uint64_t image_size, config_page, heap, heap_size, stack_size;
    uint32_t tcs_count;
    uint64_t tls_bytes, tls_align, tls_pages; /* PT_TLS block (aligned), its alignment, pages */
    uint64_t threads, thread_stride;          /* the first thread's guard page; bytes per thread */
} kt_layout;

/* One thread's pages: stack, TCS, SSA frames, thread-local pages, the control block FS
 * and GS point to. */
typedef struct {
    uint64_t stack, tcs, ssa, tls, tcb;
} kt_layout_thread;

/* Lays out a parsed image with a config (checked by the caller). */
kt_status kt_layout_plan(const kt_elf *elf, const kt_enclave_config *c, kt_layout *l);
kt_layout_thread kt_layout_thread_at(const kt_layout *l, uint32_t t);
/* TCS page t as it is measured. */
void kt_layout_tcs_page(const kt_layout *l, uint32_t t, uint8_t page[KT_PAGE_SIZE]);
/* Called for each EADD in order: page NULL when the page is added only, else its bytes,
 * which EEXTEND measures; valid during the call. */
typedef kt_status (*kt_layout_visit)(void *arg, uint64_t offset, uint64_t secinfo,
                                     const uint8_t *page);
kt_status kt_layout_walk(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                         kt_layout_visit fn, void *arg);

/* ---- EINIT-ready: the rules hardware applies to the layout ---- */
#define KT_EINIT_RULES 13
typedef struct {
    const char *name; /* "secs_size", "tcs_fs_gs", ... (docs/formats.md) */
    bool ok;
    char detail[160]; /* what was checked, with the values */
} kt_einit_rule;

typedef struct {
    kt_einit_rule rule[KT_EINIT_RULES];
    unsigned n;
    bool ready; /* every rule holds */
} kt_einit_report;

/* Walks the layout's pages as they are measured and checks what ECREATE, EADD, EINIT and
 * EENTER require. KT_OK when the report was made (see r->ready); an error when the image
 * or config can't be laid out. */
kt_status kt_einit_check(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c,
                         kt_einit_report *r);
kt_status kt_layout_einit_check(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                                kt_einit_report *r);
/* KT_ERR_DENIED naming the first rule the layout breaks (signing refuses such an image). */
kt_status kt_einit_require(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c);

/* ---- measurement ---- */
/* MRENCLAVE of an image with a config: SGX's ECREATE/EADD/EEXTEND log over the
 * enclave's page layout (see docs/formats.md). */
kt_status kt_measure(const uint8_t *elf_bytes, size_t n, const kt_enclave_config *c,
                     uint8_t mrenclave[KT_SHA256_LEN]);
/* The same for a layout already planned. */
kt_status kt_layout_measure(const kt_layout *l, const kt_elf *elf, const uint8_t *data,
                            uint8_t mrenclave[KT_SHA256_LEN]);

/* ---- SIGSTRUCT ---- */
typedef struct {
    uint32_t vendor, date; /* date as 0xYYYYMMDD in BCD */
    uint32_t misc_select, misc_mask;
    uint64_t attr_flags, attr_xfrm, attr_flags_mask, attr_xfrm_mask;
    uint8_t mrenclave[KT_SHA256_LEN];
    uint8_t mrsigner[KT_SHA256_LEN]; /* SHA-256 of the modulus as stored (little-endian) */
    uint16_t prodid, svn;
    uint8_t modulus[KT_RSA3072_LEN]; /* big-endian */
} kt_sigstruct_info;

#define KT_ATTR_INIT 0x1ull
#define KT_ATTR_DEBUG 0x2ull
#define KT_ATTR_MODE64BIT 0x4ull

/* The 256 bytes to sign for an enclave: header and body with mrenclave and config.
 * Refuses a date that is not a BCD calendar date and an XFRM ECREATE refuses. */
kt_status kt_sigstruct_sigdata(const uint8_t mrenclave[KT_SHA256_LEN], const kt_enclave_config *c,
                               uint32_t date, uint8_t sigdata[KT_SIGDATA_LEN]);
/* Assembles a SIGSTRUCT from signed data, the signer's public key and its signature
 * (PKCS#1 v1.5 SHA-256, big-endian); checks the signature first. */
kt_status kt_sigstruct_assemble(const uint8_t sigdata[KT_SIGDATA_LEN], const kt_key *pub,
                                const uint8_t *sig, size_t sig_len, uint8_t out[KT_SIGSTRUCT_LEN]);
/* Checks constants, reserved fields (ISVFAMILYID and ISVEXTPRODID too: kubetee enclaves
 * do not use KSS), the date, XFRM, exponent 3, the signature and q1/q2, then fills info. */
kt_status kt_sigstruct_verify(const uint8_t s[KT_SIGSTRUCT_LEN], kt_sigstruct_info *info);
/* What signing data (the 256 bytes of kt_sigstruct_sigdata) says. */
typedef struct {
    uint8_t mrenclave[KT_SHA256_LEN];
    uint16_t prodid, svn;
    bool debug;
    uint64_t xfrm;
    uint32_t date;
} kt_sigdata_info;
/* Reads signing data a signer is asked to sign: it must be exactly what
 * kt_sigstruct_sigdata (kubetee gendata) writes for some MRENCLAVE and config, so
 * constants, reserved bytes, MISCSELECT/MISCMASK, the attribute masks, a BCD date, an
 * XFRM ECREATE accepts and ATTRIBUTES of MODE64BIT with DEBUG or not (never INIT,
 * PROVISIONKEY, EINITTOKEN_KEY, KSS); the refusal names the first field that is wrong. */
kt_status kt_sigdata_decode(const uint8_t *sd, size_t n, kt_sigdata_info *out);
/* Today's date in SIGSTRUCT's BCD form (untrusted code only). */
uint32_t kt_sigstruct_today(void);
/* KT_ERR_MALFORMED unless date is a calendar date as BCD 0xYYYYMMDD. */
kt_status kt_sigstruct_date_check(uint32_t date);

/* ---- SGX REPORT body (384 bytes), SGX's layout ----
 *   0 CPUSVN (16)  16 MISCSELECT  48 ATTRIBUTES (flags, xfrm)  64 MRENCLAVE  128 MRSIGNER
 *   256 ISVPRODID  258 ISVSVN  320 REPORTDATA (64); everything else reserved, zero */
#define KT_REPORT_BODY_LEN 384
typedef struct {
    uint8_t cpusvn[16];
    uint32_t misc_select;
    uint64_t attr_flags, attr_xfrm;
    uint8_t mrenclave[32], mrsigner[32];
    uint16_t prodid, svn;
    uint8_t report_data[64];
} kt_report_body;

void kt_report_body_decode(const uint8_t body[KT_REPORT_BODY_LEN], kt_report_body *out);
void kt_report_body_encode(const kt_report_body *in, uint8_t body[KT_REPORT_BODY_LEN]);

/* ---- signed images ---- */
typedef struct {
    const uint8_t *elf; /* view into the file */
    size_t elf_len;
    kt_enclave_config config;
    uint8_t sigstruct[KT_SIGSTRUCT_LEN];
} kt_signed_image;

/* Splits a signed image file into its parts (no signature check). */
kt_status kt_signed_image_parse(const uint8_t *data, size_t n, kt_signed_image *out);

/* What a verified image is. */
typedef struct {
    uint8_t mrenclave[KT_SHA256_LEN];
    uint8_t mrsigner[KT_SHA256_LEN];
    kt_enclave_config config;
    uint64_t attr_flags, attr_xfrm;
    uint32_t misc_select, date;
    uint64_t entry; /* offset of the entry point in the image */
} kt_enclave_identity;

/* Largest enclave (ECREATE's power-of-two size) a loader measures unless told otherwise:
 * measuring costs time in proportion to the size, and an image can declare any size. */
#define KT_ENCLAVE_SIZE_MAX_DEFAULT (8ull << 30)

/* Everything a loader checks before any enclave code runs, cheap checks first: trailer,
 * SIGSTRUCT signature, SIGSTRUCT fields against the config, ELF bounds and imports, the
 * enclave size against max_enclave_size (0: KT_ENCLAVE_SIZE_MAX_DEFAULT; over it is
 * KT_ERR_TOO_LARGE, never measured), then the measurement recomputed from the ELF and
 * config. On success img and id describe the image (img views into data). */
kt_status kt_image_verify_within(const uint8_t *data, size_t n, uint64_t max_enclave_size,
                                 kt_signed_image *img, kt_enclave_identity *id);
/* kt_image_verify_within with the default maximum enclave size. */
kt_status kt_image_verify(const uint8_t *data, size_t n, kt_signed_image *img,
                          kt_enclave_identity *id);

/* One-step signing with an RSA-3072 e=3 private key. Refuses what kt_elf_check_imports
 * refuses. */
kt_status kt_image_sign(const uint8_t *elf, size_t n, const kt_enclave_config *c, const kt_key *key,
                        uint32_t date, kt_buf *signed_image);
/* Two-step signing: the bytes an external signer signs ... */
kt_status kt_image_gendata(const uint8_t *elf, size_t n, const kt_enclave_config *c, uint32_t date,
                           uint8_t sigdata[KT_SIGDATA_LEN]);
/* ... and putting its signature in. sigdata must be what gendata wrote for this image
 * and config. */
kt_status kt_image_catsig(const uint8_t *elf, size_t n, const kt_enclave_config *c,
                          const uint8_t sigdata[KT_SIGDATA_LEN], const kt_key *pub,
                          const uint8_t *sig, size_t sig_len, kt_buf *signed_image);

#ifdef __cplusplus
}
#endif
#endif
