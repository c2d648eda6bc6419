/* Internal to the sim platform. */
#ifndef KT_SIM_H
#define KT_SIM_H

#include <kubetee/platform.h>
#include "../../tff/common/gate.h"

#include <limits.h>

struct kt_sim_state {
    char dir[PATH_MAX];
    uint8_t seal_secret[32];
    uint8_t cpusvn[16];
};

/* The enclave's SECS as the sim CPU sees it. */
typedef struct {
    const kt_sim_state *state;
    kt_enclave_identity id;
} kt_sim_cpu;

uint32_t kt_sim_egetkey(void *cpu, const kt_keyrequest *kr, uint8_t key[16]);
kt_status kt_sim_ereport(void *cpu, const uint8_t *target_info, const uint8_t report_data[64],
                         uint8_t report[432]);

#endif
