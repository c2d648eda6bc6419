/* The AECS enclave's own parts (docs/aecs.md). Everything here runs inside the enclave:
 * objects are sealed and opened here, callers are judged here, and the host is reached
 * only through the OCALLs of objects.c and audit.c. */
#ifndef AECS_ENCLAVE_H
#define AECS_ENCLAVE_H

#include <kubetee/aecs_recovery.h>
#include <kubetee/crypto.h>
#include <kubetee/service.h>
#include <kubetee/store.h>
#include <kubetee/trusted.h>
#include "aecs.pb-c.h"
#include "platform_check.h"
#include "signers_check.h"

#include <pthread.h>

typedef Kubetee__Aecs__V1__PublicKey ae_pubkey;
typedef Kubetee__Aecs__V1__SecretSpec ae_spec;
typedef Kubetee__Aecs__V1__StoredSecret ae_secret;
typedef Kubetee__Aecs__V1__Service ae_service;

#define AE_SECRET_NAME_MAX 64
#define AE_SERVICE_NAME_MAX 32
#define AE_MAX_ADMINS 8
#define AE_PARAMS_MAX 64
#define AE_AUDIT_EVERY 64   /* a read's line is signed at least every this many lines */
#define AE_AUDIT_SECONDS 1  /* or when the last signature is this old (the host's clock) */
/* A TA's session: its most age and idleness (seconds, the host's clock), by default and at
 * most; the host may shorten them (StartRequest), never lengthen them past the ceiling. */
#define AE_TA_SESSION_AGE_DEFAULT 3600
#define AE_TA_SESSION_AGE_CEILING 86400
#define AE_TA_SESSION_IDLE_DEFAULT 600
#define AE_TA_SESSION_IDLE_CEILING 3600
#define AE_TA_SESSION_REQUESTS_DEFAULT 100000 /* no clock counts them: a host that holds its clock */
#define AE_TA_SESSION_REQUESTS_CEILING 1000000

/* DAMAGED: the storage key opens but aecs/state is not there (hidden by the host, or
 * lost): never taken for UNINIT, so init is refused; the store must be put back. */
typedef enum { AE_STOPPED = 0, AE_UNINIT, AE_READY, AE_RESTORE, AE_DAMAGED } ae_phase;

/* The recovery set (recovery.c): who can restore the storage key together. */
typedef struct {
    size_t n; /* keys; 0: no set (Backup is refused) */
    uint8_t keys[KT_RECOVERY_MAX_KEYS][64];
    uint32_t threshold;
    bool single_holder;
    uint64_t version; /* 1 at the first set, +1 at each change */
} ae_recovery;

/* What the enclave holds while it runs; every field under ae_lock. */
typedef struct {
    ae_phase phase;
    uint8_t master[KT_AES256_KEY_LEN]; /* the storage key (READY): every write seals under it */
    uint32_t key_gen;                  /* its generation (0 at init, +1 at each rotation: rotate.c) */
    bool rotating;                     /* a rotation is unfinished: objects of key_gen - 1 open under */
    uint8_t master_old[KT_AES256_KEY_LEN]; /* the key before it, until every object is sealed again */
    uint8_t rotation_root[KT_SHA256_LEN];  /* rotating: its manifest's root (manifest.c) */
    uint32_t rotation_chunks; /* rotating: its manifest's chunk count (bound with the root) */
    uint64_t master_set_version;           /* the recovery set version aecs/master names */
    /* the recovery set the storage key (ae.master) is for: the set in force, or while a
     * SetRecovery's rotation is unfinished the new set (a v4 aecs/master's sealed part
     * names it, so a start never hands the key to another set: attack6) */
    uint64_t key_set_version;
    uint8_t key_set_digest[KT_SHA256_LEN];
    uint32_t max_services, max_secrets, max_data, keep_versions;
    size_t n_admins;
    uint8_t admin_type[AE_MAX_ADMINS]; /* KUBETEE__AECS__V1__KEY_TYPE__* */
    uint8_t admin_raw[AE_MAX_ADMINS][64];
    uint64_t state_version; /* aecs/state's store version (0: none) */
    uint64_t master_version;
    /* a store write's outcome is unknown (a put of aecs/master, or a set change's aecs/state,
     * failed and reading it back did not settle it; a set change's aecs/master failed):
     * what is in force is for the next start to read; until then nothing is written or
     * deleted and no key or share is made (ae_writable). frozen_why says what. */
    bool frozen;
    char frozen_why[256];
    /* the last put of aecs/master was read back as not applied: the version read back,
     * where the master in force goes again (ae_master_fence: attack6 A6-6) */
    bool master_fence_due;
    uint64_t master_fence_version;
    uint64_t audit_seq;
    uint8_t audit_hash[32];
    uint32_t audit_unsigned;   /* lines since the last signed one (audit.c) */
    int64_t audit_signed_at;   /* the host's clock at it */
    uint64_t revision; /* the store revision last seen */
    bool has_ta_platform; /* the TA platform policy an admin set (platform.c) */
    kt_platform_policy ta_platform;
    uint32_t max_ta_secrets, max_ta_total; /* TA-bound secrets: of one TA identity, of all */
    uint32_t ta_session_max_age, ta_session_idle; /* in force since Start (seconds) */
    uint32_t ta_session_requests;                 /* in force since Start (requests of one session) */
    kt_key *instance;          /* the instance key (READY): made at init, kept in aecs/state */
    uint8_t instance_pub[64];
    ae_recovery recovery;
    size_t n_ta_signers; /* the TA signer allow-list an admin set (ta_signers.c); none: no TA creates */
    ae_ta_signer ta_signers[AE_MAX_TA_SIGNERS];
} ae_globals;
extern ae_globals ae;
extern pthread_mutex_t ae_lock;

/* ---- names (names.c) ---- */
/* [A-Za-z0-9][A-Za-z0-9._-]*, 1..max bytes; what names the thing in the reason */
kt_status ae_name_check(const char *name, size_t max, const char *what);
kt_status ae_spec_check(const ae_spec *s, size_t max_data, size_t data_len);
/* The spec's never-export and its use params (padding, wrap) agree with its type. */
kt_status ae_use_spec_check(const ae_spec *s);
/* A param's value, or def. */
const char *ae_param(const ae_spec *s, const char *key, const char *def);
/* A name for a new service: the grammar, and none of the names AECS keeps for itself
 * ("ta", "aecs", in any case), each refused with the reason. */
kt_status ae_service_name_new(const char *name);

/* ---- sealed objects and the store (objects.c) ---- */
/* Opens the object at key: KT_ERR_NOT_FOUND when absent (and known to be), KT_ERR_VERIFY
 * for an object that does not open, is older than the one this enclave knows, or is
 * missing though it exists. *version is its store version. */
kt_status ae_obj_get(const char *key, kt_buf *plain, uint64_t *version);
/* The same, served from the enclave's kept copy (cache.c) while the table still says its
 * version and id; the store is read (and the copy kept) otherwise. For TA gets. */
kt_status ae_obj_get_kept(const char *key, kt_buf *plain, uint64_t *version);
/* Seals plain as the next version of key (expected: the version read, 0: create). */
kt_status ae_obj_put(const char *key, const void *plain, size_t n, uint64_t expected, uint64_t *version);
kt_status ae_obj_delete(const char *key, uint64_t expected);
/* Known live keys under prefix ("" for all), in byte order: names[i] point into the
 * table until the next change (under ae_lock). */
kt_status ae_obj_keys(const char *prefix, const char ***keys, size_t *n);
size_t ae_obj_count(const char *prefix);
/* For a quota before creating key `creating`: the objects under prefix, and the creates whose
 * outcome is unknown (read back first) of other keys: each may exist (attack8 A8-2; one of
 * `creating` itself is what this create replaces: attack9 A9-1). */
size_t ae_obj_quota_count(const char *prefix, const char *creating);
void ae_obj_reset(void);
/* Changes whenever the table is rebuilt (reset, scan): what was counted from it is stale. */
uint64_t ae_obj_epoch(void);
/* At start: every object opened once, so each key's version and id are known. Damaged
 * ones are remembered with their reason and refused on every read. */
kt_status ae_obj_scan(uint64_t *objects, uint64_t *damaged);
/* After the scan: KT_ERR_VERIFY with the first object whose header names a key generation
 * after the storage key's (*key, *gen), else KT_OK. */
kt_status ae_obj_newer(char key[KT_STORE_KEY_MAX + 1], uint32_t *gen);
/* Whether key's object opens under the storage key, the object table untouched (restore:
 * one object is tried before a whole scan). */
kt_status ae_obj_opens(const char *key);
/* Key rotation (rotate.c): up to max (1..KT_STORE_BATCH_MAX) objects after *cursor (a
 * table index, 0 first) that are sealed under an older key generation are opened, sealed
 * again (version + 1) under the storage key and put as one batch (ae_store_put_batch_raw:
 * on fs one directory fsync for all); aecs/state is the caller's (ae_state_save). One that
 * does not open is left damaged (it never opens again once the old key goes). A put that
 * fails stops the batch there: those before it count as resealed. *done: none is left. */
kt_status ae_obj_reseal(size_t *cursor, size_t max, size_t *resealed, size_t *skipped, bool *done);
/* The raw value of key (aecs/master is sealed by the platform, not by the storage key). */
kt_status ae_store_get_raw(const char *key, kt_buf *value, uint64_t *version, bool *found);
kt_status ae_store_put_raw(const char *key, const void *v, size_t n, uint64_t expected, uint64_t *version);
/* expected KT_STORE_ANY_VERSION: whatever its version */
kt_status ae_store_delete_raw(const char *key, uint64_t expected);
/* Raw puts in order as one aecs.store.PutBatch (1..KT_STORE_BATCH_MAX, no key twice; the
 * host's kt_store_put_batch): *applied of the first ones applied, the others did not; KT_OK
 * when all did, else the failure of puts[*applied] (the host's reason, escaped). */
typedef struct {
    const char *key;
    const void *value;
    size_t n;
    uint64_t expected;
} ae_raw_put;
kt_status ae_store_put_batch_raw(const ae_raw_put *puts, size_t n, size_t *applied);
/* The live, undamaged objects sealed under key generation gen: their count. */
size_t ae_obj_under(uint32_t gen);
/* Every sealed object under key generation gen the store may hold: the live, undamaged
 * ones and the puts of any object whose outcome is unknown (objects.c); their count, and
 * with digests (room for the count) the digest of each, as a key rotation's manifest lists. */
size_t ae_obj_sealed_under(uint32_t gen, uint8_t (*digests)[KT_SHA256_LEN]);
/* Reads back key's puts whose outcome is unknown (one the store holds is adopted);
 * *version: the version of key the enclave knows then (0: none). */
kt_status ae_obj_settle(const char *key, uint64_t *version);
/* The key generation key's object is sealed under (0: none, deleted or damaged). */
uint32_t ae_obj_gen(const char *key);

/* ---- opened objects kept in the enclave (cache.c) ---- */
#define AE_OBJECT_ID_LEN 16
#define AE_CACHE_ENTRIES 64
#define AE_CACHE_BYTES (1u << 20)
/* *hit: plain has key's plaintext as kept at this version and id (else unchanged) */
kt_status ae_cache_get(const char *key, uint64_t version, const uint8_t id[AE_OBJECT_ID_LEN], kt_buf *plain,
                       bool *hit);
void ae_cache_put(const char *key, uint64_t version, const uint8_t id[AE_OBJECT_ID_LEN], const void *plain, size_t n);
void ae_cache_drop(const char *key);
void ae_cache_reset(void); /* wipes every entry */

/* protobuf-c messages in and out of sealed objects */
kt_status ae_pack(const ProtobufCMessage *m, kt_buf *out);
/* Wipes a secret record's data and frees it. */
void ae_secret_free(ae_secret *s);

/* ---- the audit log (audit.c) ---- */
typedef struct {
    bool key;          /* proved by a key (else a quote) */
    uint8_t key_type;  /* KEY_TYPE_* */
    uint8_t raw[64];   /* the key */
    kt_session_peer_info peer;
    char label[192];   /* "p256:<hex>", "sm2:<hex>", "enclave:<mrenclave>:<mrsigner>:<prodid>:<svn>[:debug]" */
    int64_t now;       /* the request's time, the host's, checked (clock.c) */
} ae_caller;
#define AE_TARGET_MAX 100 /* an audit line's target: "<service>/<secret>" or "<binding>/<secret>" */
/* Who calls, and the request's time: a request whose time is refused (clock.c) fails here. */
kt_status ae_caller_get(ae_caller *c);
/* The same without the time (aecs.AcceptClock only: c->now is 0). */
kt_status ae_caller_untimed(ae_caller *c);
/* A peer's audit label (as ae_caller's) after prefix: "enclave:...", "td", "p256:<hex>". */
void ae_peer_label(const kt_session_peer_info *p, const char *prefix, char *out, size_t n);
/* One line for this request and its outcome (st and kt_last_error when st != 0), at
 * c->now (the host's own lines, c NULL: at the latest time accepted, which Start and Stop
 * take first). */
void ae_audit(const ae_caller *c, const char *op, const char *target, kt_status st);
/* The same with "count":N after the target (N > 0): a request about N things (SignBatch). */
void ae_audit_count(const ae_caller *c, const char *op, const char *target, size_t count, kt_status st);
/* Adopts lines the host kept after the sealed checkpoint, each checked (start). */
void ae_audit_adopt(char **lines, size_t n);

/* ---- the host's clock, checked (clock.c) ---- */
#define AE_CLOCK_MIN 1704067200LL  /* 2024-01-01 */
#define AE_CLOCK_MAX 253402300799LL /* 9999-12-31T23:59:59 */
#define AE_CLOCK_SLACK 300          /* how far back of the floor a time may be (seconds) */
#define AE_CLOCK_STEP 900           /* how far past the floor one answer may move it */
#define AE_CLOCK_CONFIRM 600        /* how long the host holds to a time further on before it is the floor */
#define AE_CLOCK_JUMP (90 * 86400)  /* how far past the floor a time is taken without an admin */
/* The host's time, refused (with the reason) when the OCALL fails, it is outside
 * AE_CLOCK_MIN..MAX, it is more than AE_CLOCK_SLACK before the floor or more than
 * AE_CLOCK_JUMP after it; taken, it moves the floor on (clock.c: at most AE_CLOCK_STEP,
 * or to a time held to for AE_CLOCK_CONFIRM). */
kt_status ae_now(int64_t *now);
kt_status ae_clock_check(int64_t *now); /* a clock set back refused, the floor left where it is */
/* Start's and Stop's time: a clock that fails or cannot be fails them; one only behind the
 * floor gives the floor (logged), so that AECS starts and an admin can accept the clock
 * (aecs.AcceptClock) while every other request is refused. */
kt_status ae_clock_start(int64_t *t);
/* The floor: the latest time accepted, sealed with aecs/state (state.c). */
int64_t ae_clock_floor(void);
void ae_clock_set_floor(int64_t sealed);

/* ---- TAs refused at the handshake (refusals.c) ---- */
/* Each refusal is counted; its audit line ("HandshakeRefused") is written while its
 * reason's budget lasts: AE_REFUSAL_BURST lines, then one more every AE_REFUSAL_EVERY
 * seconds (the host's clock); the rest are summed up in a line before the next one written. */
#define AE_REFUSAL_BURST 16
#define AE_REFUSAL_EVERY 6
/* The counts by Kubetee__Aecs__V1__HandshakeRefusal (n of them), under ae_lock. */
void ae_refusal_counts(uint64_t *out, size_t n);

/* ---- the instance key (instance.c) ---- */
kt_status ae_instance_new(void);
void ae_instance_clear(void);
/* From aecs/state's PEM (none: a store from before instance keys gets one now). */
kt_status ae_instance_load(const uint8_t *pem, size_t n);
kt_status ae_instance_pem(kt_buf *pem);
/* The proof over this session's id and the caller's nonce (Status). */
kt_status ae_instance_prove(const uint8_t *nonce, size_t n, uint8_t sig[64]);

/* ---- the recovery set and backup (recovery.c), restore from shares (restore.c) ---- */
/* A set from a message: stored (in aecs/state: version >= 1) or asked for (version 0). */
kt_status ae_recovery_parse(const Kubetee__Aecs__V1__RecoverySet *m, bool stored, ae_recovery *out);
/* The set as a message, pointing into r and the storage given. */
void ae_recovery_fill(const ae_recovery *r, Kubetee__Aecs__V1__RecoverySet *m, ae_pubkey keys[KT_RECOVERY_MAX_KEYS],
                      ae_pubkey *ptrs[KT_RECOVERY_MAX_KEYS]);
/* The same in call memory (NULL when there is no set). */
kt_status ae_recovery_to_call(const ae_recovery *r, Kubetee__Aecs__V1__RecoverySet **out);
/* M (now's threshold) consents of distinct holders of now to the statement m (refused
 * naming the consent that is not; what: "this change (...)", act: "a change of the
 * recovery set"): SetRecovery's, and AcceptClock's lowering of the floor (clock.c). */
kt_status ae_consents_check(const ae_recovery *now, const kt_buf *m, const char *what, const char *act,
                            Kubetee__Aecs__V1__RecoveryConsent **cs, size_t n);
/* Status in the restore state: the shares collected so far (NULL: none). */
kt_status ae_restore_progress(Kubetee__Aecs__V1__RestoreProgress **out);
/* The instance aecs/master names (start, in the restore state): shares of any other are
 * refused before they are checked further. NULL: a v1 aecs/master names none. */
void ae_restore_expect(const uint8_t instance[64]);
/* The instance and recovery set version aecs/master names (start, in the restore state):
 * shares of any other instance or set version are refused before they are checked
 * further. NULL: a v1 aecs/master names none; set 0: a v1 or v2 one names no set. */
void ae_restore_expect_set(uint64_t set_version);
/* Seals the storage key for this machine into aecs/master (expected: its version read),
 * with the key before it while a rotation is unfinished (ae.rotating). */
kt_status ae_master_store(uint64_t expected);
/* After a failed ae_master_store (put, the caller's memory back at the master in force):
 * where the put was read back as not applied, the master in force is put again at the
 * version read back, so the failed put cannot land later (its compare fails); if that
 * fails too, AECS is frozen. Returns failed, its reason kept (and the freeze's added). */
kt_status ae_master_fence(kt_status failed);
/* SHA-256 over the set's canonical encoding (docs/formats.md "AECS recovery set digest"):
 * what a v4 aecs/master binds its key to. */
void ae_recovery_digest(const ae_recovery *r, uint8_t out[KT_SHA256_LEN]);
/* The storage key is (from now) for the set r (ae.key_set_*). */
void ae_key_for(const ae_recovery *r);
/* Whether the storage key is the set r's (version and digest). */
bool ae_key_is_for(const ae_recovery *r);

/* ---- storage key rotation (rotate.c) ---- */
/* A new storage key for the recovery set for_set (the set in force, or the one a
 * SetRecovery makes): aecs/master holds it, the old one and the set it is for, marked
 * rotating, before anything is sealed under it. */
kt_status ae_rotate_begin(const ae_recovery *for_set);
/* Every object sealed again under the storage key, then aecs/master with it alone. With
 * unlock, ae_lock is let go between batches (requests go on; writes seal under the new
 * key). Nothing to do when no rotation is unfinished. */
kt_status ae_rotate_finish(bool unlock);
/* A backup under the set in force (recovery.c): refused while a rotation is unfinished. */
kt_status ae_backup(Kubetee__Aecs__V1__BackupResponse *rs);
/* A rotation begun and not finished: the key before still opens the objects its manifest
 * lists; Status and the host's /metrics say so. */
bool ae_rotate_unfinished(void);
size_t ae_rotate_objects_left(void); /* sealed under the key before, to be sealed again */

/* ---- a rotation's manifest (manifest.c) ---- */
/* The digests of every object sealed under the storage key now (ae_obj_under), written as
 * the manifest of the rotation to generation gen; *root and *chunks (its chunk count) name it
 * (aecs/master's sealed part). */
kt_status ae_manifest_write(uint32_t gen, uint8_t root[KT_SHA256_LEN], uint32_t *chunks);
/* The manifest aecs/master names (start, rotating): its chunk count checked at the first
 * chunk (before more is read), all of it against root, kept
 * for ae_manifest_lists until ae_manifest_free. */
kt_status ae_manifest_load(uint32_t gen, const uint8_t root[KT_SHA256_LEN], uint32_t chunks);
bool ae_manifest_lists(const uint8_t digest[KT_SHA256_LEN]);
void ae_manifest_free(void);

/* ---- state (state.c) ---- */
kt_status ae_state_save(void);
/* A store write's outcome is unknown (why, a sentence): nothing is written until the next
 * start (ae.frozen), logged once. */
void ae_freeze(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* KT_OK, or KT_ERR_STATE naming what (a key, an operation) and why AECS writes nothing. */
kt_status ae_writable(const char *what);
kt_status ae_state_load(void);
/* Forgets the storage key and what aecs/state gave (a failed start, init or restore;
 * the object table is the caller's: ae_obj_reset). */
void ae_forget(void);
bool ae_is_admin(const ae_caller *c);
kt_status ae_ready(void);
const char *ae_phase_name(void); /* "ready", "uninitialized", "restore", "damaged", "stopped" */
kt_status ae_admin_only(const ae_caller *c);
/* Unpacks into call memory (freed, wiped, when the call ends); NULL when it does not decode. */
void *ae_unpack(const ProtobufCMessageDescriptor *d, const kt_buf *b);

/* ---- secrets (secrets.c) ---- */
/* The secret a TA caller (proven by its quote, admitted by the secret's rules) asked for,
 * and its version (0: the newest), in call memory; refusals say why. */
kt_status ae_ta_secret(const ae_caller *c, const char *service, const char *name, uint64_t version, ae_secret **out,
                       const Kubetee__Aecs__V1__StoredVersion **v);

/* ---- secret material (material.c) ---- */
kt_status ae_generate(const ae_spec *spec, const uint8_t *data, size_t n, kt_buf *out);
/* A new version of a certificate with the key of prev (the version renewed). */
kt_status ae_renew(const ae_spec *spec, const uint8_t *prev, size_t n, kt_buf *out);
/* The public part of a secret's data: a PEM public key or certificate. */
kt_status ae_public_part(const ae_spec *spec, const uint8_t *data, size_t n, kt_buf *pem);
/* ---- the TA platform policy (platform.c) ---- */
kt_status ae_platform_to_msg(Kubetee__Aecs__V1__TaPlatformPolicy **out);
/* the service's gate follows the policy in force (after the state is loaded or changed) */
kt_status ae_platform_apply(void);
/* The caller is a TA: AECS ready, proven by an SGX quote, its platform passing the
 * policy in force now (simulation, debug, TCB status). Every TA operation starts here. */
kt_status ae_ta_only(const ae_caller *c);

/* ---- the TA signer allow-list and its quotas (ta_signers.c) ---- */
/* Whether the caller's signer may hold one more TA-bound secret of bytes more data:
 * refused (saying which rule) when the list is empty, its signer is not on it, or its
 * entry's count or bytes would go over. Under ae_lock. */
kt_status ae_signer_room(const ae_caller *c, size_t bytes);
/* The record at key was made (by c, with bytes of data) or removed. */
void ae_signer_note(const char *key, const ae_caller *c, size_t bytes);
void ae_signer_forget(const char *key);
/* From and into aecs/state. */
kt_status ae_signers_load(const Kubetee__Aecs__V1__StoredState *s);
kt_status ae_signers_to_state(Kubetee__Aecs__V1__StoredState *s, Kubetee__Aecs__V1__TaSigner *msgs,
                              Kubetee__Aecs__V1__TaSigner **ptrs);

/* ---- certificates and the service CA (certs.c) ---- */
/* A P-256 certificate by the spec's params (subject, san, days, issuer), its key that of
 * prev when given (a renewal) or new: PEM, the certificate, the CA's (service-ca), the key. */
kt_status ae_certificate(const ae_spec *s, const uint8_t *prev, size_t prev_n, kt_buf *out);
/* Removes ca/<service> (its service is unregistered): a later service of that name gets a
 * new CA. */
kt_status ae_ca_remove(const char *service);

/* Whether a TA's verified report body passes one of the rules. */
/* The one refusal a TA gets for a secret its rules do not admit and for one that does not
 * exist, so that no TA learns which names exist; it names only the TA itself. */
kt_status ae_ta_refused(const char *service, const char *name, const kt_report_body *ta);
kt_status ae_policy_admits(const ae_spec *spec, const kt_report_body *ta);
#endif
