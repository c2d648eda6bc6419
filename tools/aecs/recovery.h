/* aecsadmin's recovery verbs (tools/aecs/recovery.c; docs/aecs.md "Identity backup and
 * restore"): the recovery set given at init, backup into share files, a share opened by
 * its holder, restore share by share, and a change of the set its holders consent to. */
#ifndef AECS_TOOLS_RECOVERY_H
#define AECS_TOOLS_RECOVERY_H

#include "common.h"
#include <kubetee/aecs_recovery.h>

/* Printed by init without a recovery set and by the first `recovery set` (docs/aecs.md
 * "Threat model": the storage key is not rotated when a set is fixed). */
#define RECOVERY_NO_SET_WARNING                                                                                  \
    "WARNING: a store without a recovery set is recoverable by the admin that ran init alone, and so is every " \
    "copy of it made before its first recovery set, for ever: the storage key is not rotated when a set is "   \
    "fixed (docs/aecs.md \"Threat model\"); to end it, init a new AECS with --recovery-key and move the secrets " \
    "there\n"

typedef struct {
    Kubetee__Aecs__V1__RecoverySet set;
    Kubetee__Aecs__V1__PublicKey keys[KT_RECOVERY_MAX_KEYS], *ptrs[KT_RECOVERY_MAX_KEYS];
    uint8_t raw[KT_RECOVERY_MAX_KEYS][64];
} tool_recovery_set;

/* From --recovery-key PEM (repeated, in order), --recovery-threshold M and
 * --recovery-single-holder; *given: any of them was. Checked here as AECS checks it. */
int recovery_flags(const tool_args *a, tool_recovery_set *r, bool *given);
int recovery_backup(const tool_args *a);
int recovery_restore(const tool_args *a);
/* aecsadmin recovery open-share | propose | sign | set */
int recovery_verb(const tool_args *a);
#endif
