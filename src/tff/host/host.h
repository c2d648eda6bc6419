/* Internal to the host runtime. */
#ifndef KT_HOST_H
#define KT_HOST_H

#include <kubetee/platform.h>
#include <kubetee/tff.h>
#include "../common/gate.h"
#include "../common/runtime.h"

#include <limits.h>

/* A TCS: busy while a thread is inside the enclave on it. */
typedef struct {
    _Alignas(64) atomic_uint busy;
} kt_tcs;

struct kt_enclave {
    kt_sim_state *state;
    kt_platform_enclave *pe;
    kt_enclave_identity id;
    kt_gate_host host;
    uint8_t config_blob[64];
    kt_tcs *tcs; /* tcs_count slots, one cache line each */
    char identity_path[PATH_MAX];
    char name[17]; /* first 8 bytes of MRENCLAVE in hex, for logs */
};

/* The enclave whose OCALL this thread is serving, or NULL. */
kt_enclave *kt_host_current(void);
/* The gate's OCALL entry, log and memory functions, filled into e->host. */
void kt_host_fill(kt_enclave *e);

#endif
