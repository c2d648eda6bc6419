/* The call gate's ABI: the only things that cross between the host runtime, the
 * platform and the trusted runtime. Internal to kubetee; see docs/architecture.md.
 *
 * Every pointer in these structures points to host memory. The trusted side copies
 * what it reads before parsing it, and writes results only into memory the host
 * allocated, as it must on SGX hardware. */
#ifndef KT_GATE_H
#define KT_GATE_H

#include <kubetee/base.h>

#define KT_GATE_ABI 3 /* 2: EGETKEY answers SGX error codes; ECALL names carry lengths; 3: 512-byte details */

enum { KT_GATE_INIT = 1, KT_GATE_ECALL = 2, KT_GATE_FINI = 3 };

#define KT_GATE_NAME_MAX 255 /* longest function or message type name */

/* SGX key names and policies (EGETKEY). */
#define KT_KEYNAME_REPORT 3
#define KT_KEYNAME_SEAL 4
#define KT_KEYPOLICY_MRENCLAVE 1
#define KT_KEYPOLICY_MRSIGNER 2

/* What EGETKEY answers: 0, or SGX's error code for the refusal (Intel SDM, EGETKEY). A
 * code, not a reason, crosses the gate: on sim the platform runs in the host, and a
 * reason it recorded would be in the host's copy of the base library, not the enclave's. */
#define KT_EGETKEY_OK 0u
#define KT_EGETKEY_INVALID_CPUSVN 32u   /* SGX_INVALID_CPUSVN */
#define KT_EGETKEY_INVALID_ISVSVN 64u   /* SGX_INVALID_ISVSVN */
#define KT_EGETKEY_INVALID_KEYNAME 256u /* SGX_INVALID_KEYNAME */
#define KT_EGETKEY_FAULT 0x10000u       /* reserved bits set (#GP on SGX), or the sim CPU failed */

typedef struct {
    uint16_t keyname, policy, isvsvn;
    uint8_t cpusvn[16];
    uint8_t keyid[32];
} kt_keyrequest;

/* Handed to the enclave at INIT; valid until FINI. */
typedef struct {
    uint32_t abi;
    void *ctx; /* the host runtime's enclave */
    /* OCALL: runs the named untrusted function; *res is host memory from host_alloc. */
    kt_status (*ocall)(void *ctx, const char *name, const char *req_type, const char *res_type,
                       const uint8_t *req, size_t req_len, uint8_t **res, size_t *res_len,
                       char *detail, size_t detail_cap);
    void *(*host_alloc)(size_t n);
    void (*host_free)(void *p);
    void (*log)(void *ctx, int level, const char *line);
    /* The CPU's enclave instructions. On sgx these are ENCLU leaves inside the enclave;
     * on sim the platform supplies them, and protects nothing. */
    void *cpu;
    uint32_t (*egetkey)(void *cpu, const kt_keyrequest *kr, uint8_t key[16]); /* KT_EGETKEY_* */
    kt_status (*ereport)(void *cpu, const uint8_t *target_info, const uint8_t report_data[64],
                         uint8_t report[432]);
    const uint8_t *config; /* the measured config block, 64 bytes */
} kt_gate_host;

typedef struct {
    uint32_t op;
    const kt_gate_host *host;                    /* INIT */
    const char *name;                            /* ECALL: function name */
    const char *req_type, *res_type;             /* ECALL: full protobuf type names */
    size_t name_len, req_type_len, res_type_len; /* ECALL: their lengths, 1..255, no NUL */
    const uint8_t *req;                          /* ECALL: packed request */
    size_t req_len;
    uint8_t *res; /* ECALL: packed response: res_inline, or host_alloc'd */
    size_t res_len;
    uint8_t res_inline[512]; /* ECALL: room for a small response */
    char detail[512];        /* reason for a failure, from the enclave */
} kt_gate_call;

typedef kt_status (*kt_gate_entry)(kt_gate_call *call);

#endif
