/* Internal to attest: the sim QE and its PKI. */
#ifndef KT_SIM_QE_H
#define KT_SIM_QE_H

#include <kubetee/attest.h>

/* Creates what is missing under dir (<sim_dir>/attest) and renews the collateral. */
kt_status kt_sim_pki_ensure(const char *dir);
/* The simulated QE's MRENCLAVE and MRSIGNER. */
void kt_sim_qe_identity_fields(uint8_t mrenclave[32], uint8_t mrsigner[32]);
void kt_sim_pck_cpusvn(uint8_t cpusvn[16]);
#define SIM_PCESVN_VALUE 13

#endif
