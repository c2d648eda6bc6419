/* The TA platform policy as AECS receives it (an admin's request, aecs/state): checked
 * into a kt_platform_policy, every field, the bad one named. Plain code, no enclave
 * dependency, so the fuzz target runs it too (fuzz/fuzz_aecs_platform.c). */
#ifndef AECS_PLATFORM_CHECK_H
#define AECS_PLATFORM_CHECK_H

#include <kubetee/attest.h>
#include "aecs.pb-c.h"

kt_status ae_platform_from_msg(const Kubetee__Aecs__V1__TaPlatformPolicy *m, kt_platform_policy *out);
#endif
