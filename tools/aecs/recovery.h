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

/* A proposal file the recovery holders sign (`recovery sign`): a change of the set (KTRP)
 * or a lowering of AECS's clock floor (KTCF, `clock propose`), and the message they sign. */
typedef struct {
    bool is_floor;
    kt_recovery_proposal set;
    kt_floor_proposal floor;
} tool_proposal;
kt_status recovery_proposal_load(const char *path, tool_proposal *p, kt_buf *msg);
/* Every --consent FILE, each checked to be a consent to msg (proposal: its file, for the
 * message), as the request's RecoveryConsents; the exit status (0, or refused). */
typedef struct {
    kt_recovery_consent cs[KT_RECOVERY_MAX_KEYS];
    Kubetee__Aecs__V1__RecoveryConsent msgs[KT_RECOVERY_MAX_KEYS], *ptrs[KT_RECOVERY_MAX_KEYS];
    size_t n;
} tool_consents;
int recovery_consents(const tool_args *a, const char *proposal, const kt_buf *msg, tool_consents *out);
/* aecsadmin clock --accept [--proposal FILE --consent FILE...] | propose (clock.c) */
int recovery_clock(const tool_args *a);
#endif
