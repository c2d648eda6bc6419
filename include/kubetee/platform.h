/* kubetee platform: what a TEE supplies below TFF. Loading an enclave, the call gate,
 * and the CPU's enclave instructions (EGETKEY for sealing and report keys, EREPORT).
 *
 * `sim` runs anywhere and protects nothing from the host: the enclave is an ordinary
 * shared object in the host process and the platform secret is a file. It exists so
 * that everything above it runs, and is tested, the same way it will on `sgx`. */
#ifndef KUBETEE_PLATFORM_H
#define KUBETEE_PLATFORM_H

#include <kubetee/image.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the sim platform's state: a directory, mode 0700 ----
 *   seal_secret   32 random bytes, mode 0600: the root of every sealing and report key
 * Created on first use. Whoever can read it can unseal everything sealed on this
 * "platform" and forge local reports. */
typedef struct kt_sim_state kt_sim_state;

/* dir NULL: $KUBETEE_SIM_DIR, else $HOME/.kubetee/sim. */
kt_status kt_sim_state_open(const char *dir, kt_sim_state **out);
const char *kt_sim_state_dir(const kt_sim_state *s);
void kt_sim_state_free(kt_sim_state *s);

/* The sim CPU's report key for an enclave (what EGETKEY(REPORT) gives that enclave):
 * how the simulated quoting enclave checks reports made for it. */
kt_status kt_sim_report_key(const kt_sim_state *s, const uint8_t mrenclave[32], uint64_t attr_flags,
                            uint64_t attr_xfrm, const uint8_t keyid[32], uint8_t key[16]);

/* ---- loaded enclaves ---- */
struct kt_gate_call_s;
typedef struct kt_platform_enclave kt_platform_enclave;

/* Loads an image kt_image_verify accepted. On sim: the verified bytes go into a sealed
 * memfd, which is dlopen'ed with local symbol binding; the entry point must land at the
 * measured offset. */
kt_status kt_sim_load(const kt_sim_state *state, const kt_signed_image *img,
                      const kt_enclave_identity *id, kt_platform_enclave **out);
/* EENTER: runs the enclave's entry on a kt_gate_call (see src/tff/common/gate.h). */
kt_status kt_platform_enter(kt_platform_enclave *pe, void *gate_call);
/* The CPU half of the gate's host table: fills cpu, egetkey and ereport. */
void kt_platform_cpu(kt_platform_enclave *pe, void *gate_host);
void kt_platform_unload(kt_platform_enclave *pe);

#ifdef __cplusplus
}
#endif
#endif
