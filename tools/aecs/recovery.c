/* aecsadmin's recovery verbs (recovery.h). The files are docs/formats.md's "AECS recovery
 * files"; AECS checks everything again, this side checks first to say what is wrong
 * before a session is opened. */
#include "recovery.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T "aecsadmin"
#define D(x) &kubetee__aecs__v1__##x##__descriptor

static int need(const char *v, const char *flag)
{
    if (v) return 0;
    fprintf(stderr, T ": %s is required\n", flag);
    return 2;
}

static void fingerprint(const uint8_t raw[64], char hex[17])
{
    kt_hex_encode(raw, 8, hex, 17);
}

/* A P-256 private key from a PEM file (a recovery key's holder). */
static kt_status private_key(const char *path, kt_key **k)
{
    kt_buf pem = {0};
    kt_status st = kt_file_read(path, 1 << 16, &pem);
    if (!st) st = kt_key_from_pem((const char *)pem.data, pem.len, k);
    if (!st && (kt_key_type_of(*k) != KT_KEY_P256 || !kt_key_has_private(*k)))
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "not a P-256 private key");
    kt_buf_free(&pem);
    if (st) {
        kt_key_free(*k);
        *k = NULL;
    }
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

static kt_status read_small(const char *path, kt_buf *b)
{
    kt_status st = kt_file_read(path, 1 << 16, b);
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

/* The pin, when there is one (--instance, AECS_INSTANCE, the kubeconfig's): the instance
 * the file (what, path) names must be it. */
static kt_status instance_pinned(const tool_args *a, const char *what, const char *path, const uint8_t instance[64])
{
    const uint8_t *want;
    const char *from;
    kt_status st = tool_instance_pin(a, &want, &from);
    if (st || !want || kt_equal(want, instance, 64)) return st;
    char got[17], pin[17], shown[256];
    fingerprint(instance, got);
    fingerprint(want, pin);
    return kt_fail(KT_ERR_DENIED, "%s %s is of instance %s..., not the pinned %s... (%s)", what,
                   kt_escape(path, strlen(path), shown, sizeof shown), got, pin, from);
}

int recovery_flags(const tool_args *a, tool_recovery_set *r, bool *given)
{
    memset(r, 0, sizeof *r);
    kubetee__aecs__v1__recovery_set__init(&r->set);
    const char *m = tool_flag(a, "recovery-threshold");
    bool single = tool_flag(a, "recovery-single-holder") != NULL;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], "recovery-key")) continue;
        if (n == KT_RECOVERY_MAX_KEYS) return fprintf(stderr, T ": at most %d --recovery-key\n", KT_RECOVERY_MAX_KEYS), 2;
        kubetee__aecs__v1__public_key__init(&r->keys[n]);
        if (tool_public_key(a->values[i], &r->keys[n], r->raw[n])) return tool_fail(T, "--recovery-key");
        if (r->keys[n].type != KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256)
            return fprintf(stderr, T ": --recovery-key %s: recovery keys are P-256\n", a->values[i]), 2;
        r->ptrs[n] = &r->keys[n];
        n++;
    }
    *given = n || m || single;
    if (!*given) return 0;
    char *end = NULL;
    unsigned long t = m ? strtoul(m, &end, 10) : 0;
    if (!m || !*m || *end || t > KT_RECOVERY_MAX_KEYS)
        return fprintf(stderr, T ": --recovery-threshold M (how many of the --recovery-key holders restore together) "
                               "is required with the recovery keys, a number up to %d\n", KT_RECOVERY_MAX_KEYS), 2;
    r->set.keys = r->ptrs;
    r->set.n_keys = n;
    r->set.threshold = (uint32_t)t;
    r->set.single_holder = single;
    if (kt_recovery_set_check((const uint8_t(*)[64])r->raw, n, (uint32_t)t, single)) {
        tool_fail(T, "the recovery set");
        if (t == 1 && !single) fprintf(stderr, T ": (--recovery-single-holder says so)\n");
        return 2;
    }
    return 0;
}

/* Each share file of a Backup (or SetRecovery) answer into DIR, 0600. */
static int write_shares(const tool_args *a, const ProtobufCMessage *res, const char *dir)
{
    const Kubetee__Aecs__V1__BackupResponse *r = (const void *)res;
    if (kt_mkdirs(dir, 0700)) return tool_fail(T, dir);
    json_t *files = json_array();
    int rc = 0;
    for (size_t i = 0; i < r->n_shares && !rc; i++) {
        kt_recovery_share s;
        char path[4096], fp[17];
        if (kt_recovery_share_decode(r->shares[i].data, r->shares[i].len, &s)) {
            rc = tool_fail(T, "Backup's answer");
            break;
        }
        snprintf(path, sizeof path, "%s/share-%u-of-%u.ktrs", dir, s.index, s.count);
        if (kt_file_write_atomic(path, r->shares[i].data, r->shares[i].len, 0600)) {
            rc = tool_fail(T, path);
            break;
        }
        fingerprint(s.recovery, fp);
        json_array_append_new(files, json_string(path));
        if (!a->json)
            printf("share %u of %u (threshold %u, recovery set v%llu) for recovery key %s...: %s\n", s.index, s.count,
                   s.threshold, (unsigned long long)s.version, fp, path);
    }
    if (!rc && a->json) {
        json_t *o = json_pack("{s:o,s:I,s:I}", "shares", files, "threshold",
                              (json_int_t)(r->recovery ? r->recovery->threshold : 0), "version",
                              (json_int_t)(r->recovery ? r->recovery->version : 0));
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else json_decref(files);
    return rc;
}

static int call_and_write(const tool_args *a, const char *op, const ProtobufCMessage *rq, const char *dir)
{
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    int rc = kt_aecs_call(c, op, rq, D(backup_response), &res) ? tool_fail(T, op) : 0;
    kt_aecs_client_free(c);
    if (!rc) rc = write_shares(a, res, dir);
    if (res) protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

int recovery_backup(const tool_args *a)
{
    if (tool_flag(a, "recovery-key") || tool_flag(a, "out"))
        return fprintf(stderr, T ": backup writes one share per key of the recovery set fixed in AECS: give --out-dir "
                               "DIR (no --recovery-key, no --out; docs/aecs.md)\n"), 2;
    const char *dir = tool_flag(a, "out-dir");
    if (need(dir, "--out-dir")) return 2;
    Kubetee__Aecs__V1__BackupRequest rq = KUBETEE__AECS__V1__BACKUP_REQUEST__INIT;
    return call_and_write(a, "Backup", &rq.base, dir);
}

/* A share file: sealed (opened here with --recovery-key) or open; with verify, its
 * instance signature checked (restore does when the instance is pinned; AECS checks it
 * anyway). */
static kt_status load_share(const char *path, const char *key_path, bool verify, kt_recovery_share *s)
{
    kt_buf b = {0};
    kt_key *k = NULL;
    kt_status st = read_small(path, &b);
    if (!st && (st = kt_recovery_share_decode(b.data, b.len, s)) != KT_OK) st = kt_fail_context(st, "%s", path);
    kt_buf_free(&b);
    if (!st && s->kind == KT_SHARE_SEALED && !key_path)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "%s is sealed to recovery key %u: give that key (--recovery-key; or the "
                                              "holder opens it: aecsadmin recovery open-share)", path, s->index);
    if (!st && s->kind == KT_SHARE_SEALED && !(st = private_key(key_path, &k))) st = kt_recovery_share_open(s, k);
    if (!st && verify) st = kt_recovery_share_verify(s);
    kt_key_free(k);
    return st;
}

int recovery_restore(const tool_args *a)
{
    const char *path = tool_flag(a, "share");
    if (need(path, "--share")) return 2;
    kt_recovery_share s;
    kt_buf b = {0};
    const uint8_t *pin;
    const char *from;
    /* the session cannot pin the instance (an AECS waiting for its storage key cannot prove
     * it): the share is checked against the pin instead, signature first, before it is sent */
    kt_status st = tool_instance_pin(a, &pin, &from);
    if (!st) st = load_share(path, tool_flag(a, "recovery-key"), pin != NULL, &s);
    if (!st) st = instance_pinned(a, "the share", path, s.instance);
    if (!st) st = kt_recovery_share_encode(&s, &b);
    kt_wipe(&s, sizeof s);
    if (st) {
        kt_buf_free(&b);
        return tool_fail(T, "restore");
    }
    Kubetee__Aecs__V1__RestoreRequest rq = KUBETEE__AECS__V1__RESTORE_REQUEST__INIT;
    rq.share.data = b.data;
    rq.share.len = b.len;
    tool_args unpinned = *a;
    unpinned.unpinned = true;
    int rc = tool_run(&unpinned, T, "Restore", &rq.base, D(restore_response));
    kt_buf_free(&b);
    return rc;
}

static int open_share(const tool_args *a)
{
    const char *in = tool_flag(a, "share"), *out = tool_flag(a, "out");
    if (need(a->key, "--key (the recovery private key)") || need(in, "--share") || need(out, "--out")) return 2;
    kt_recovery_share s;
    kt_buf b = {0};
    char inst[17];
    kt_status st = load_share(in, a->key, true, &s);
    if (!st) st = instance_pinned(a, "the share", in, s.instance);
    if (!st) st = kt_recovery_share_encode(&s, &b);
    if (!st) st = kt_file_write_atomic(out, b.data, b.len, 0600);
    kt_buf_free(&b);
    if (st) {
        kt_wipe(&s, sizeof s);
        return tool_fail(T, "open-share");
    }
    fingerprint(s.instance, inst);
    if (a->json) printf("{\"share\":%u,\"count\":%u,\"threshold\":%u,\"version\":%llu}\n", s.index, s.count, s.threshold,
                        (unsigned long long)s.version);
    else printf("share %u of %u (threshold %u) of instance %s..., recovery set v%llu: opened (keep it secret; "
                "aecsadmin restore --share delivers it)\n", s.index, s.count, s.threshold, inst, (unsigned long long)s.version);
    kt_wipe(&s, sizeof s);
    return 0;
}

/* The set in force, as AECS tells it over a session: its instance and version. */
static int propose(const tool_args *a)
{
    const char *out = tool_flag(a, "out");
    tool_recovery_set r;
    bool given;
    int rc = recovery_flags(a, &r, &given);
    if (rc) return rc;
    if (!given || need(out, "--out")) return given ? 2 : need(NULL, "--recovery-key (the new set) and --recovery-threshold");
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    kt_status st = kt_aecs_call(c, "Status", &rq.base, D(status_response), &res);
    kt_aecs_client_free(c);
    if (st) return tool_fail(T, "Status");
    const Kubetee__Aecs__V1__StatusResponse *s = (const void *)res;
    kt_recovery_proposal p = {0};
    if (s->instance_public.len != 64) st = kt_fail(KT_ERR_STATE, "AECS is not ready (state %s)", s->state);
    if (!st) {
        memcpy(p.instance, s->instance_public.data, 64);
        p.version = s->recovery ? s->recovery->version : 0;
        p.threshold = r.set.threshold;
        p.single_holder = r.set.single_holder;
        p.count = r.set.n_keys;
        memcpy(p.keys, r.raw, sizeof p.keys);
    }
    protobuf_c_message_free_unpacked(res, NULL);
    kt_buf b = {0};
    if (!st) st = kt_recovery_proposal_encode(&p, &b);
    if (!st) st = kt_file_write_atomic(out, b.data, b.len, 0644);
    kt_buf_free(&b);
    if (st) return tool_fail(T, "propose");
    printf(a->json ? "{\"proposal\":\"%s\",\"replaces\":%llu}\n"
                   : "proposal: %s (replaces recovery set v%llu; its holders sign it: aecsadmin recovery sign)\n",
           out, (unsigned long long)p.version);
    return 0;
}

kt_status recovery_proposal_load(const char *path, tool_proposal *p, kt_buf *msg)
{
    kt_buf b = {0};
    memset(p, 0, sizeof *p);
    kt_status st = read_small(path, &b);
    p->is_floor = !st && b.len >= 4 && !memcmp(b.data, "KTCF", 4);
    if (!st && p->is_floor && (st = kt_floor_proposal_decode(b.data, b.len, &p->floor)) != KT_OK)
        st = kt_fail_context(st, "%s", path);
    if (!st && !p->is_floor && (st = kt_recovery_proposal_decode(b.data, b.len, &p->set)) != KT_OK)
        st = kt_fail_context(st, "%s", path);
    if (!st) st = p->is_floor ? kt_floor_change_message(&p->floor, msg) : kt_recovery_change_message(&p->set, msg);
    kt_buf_free(&b);
    return st;
}

static void show_time(int64_t t, char out[32])
{
    time_t v = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&v, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "%lld", (long long)t);
}

/* Offline, by a holder of a current recovery key: what it consents to is shown first. */
static int sign(const tool_args *a)
{
    const char *in = tool_flag(a, "proposal"), *out = tool_flag(a, "out");
    if (need(a->key, "--key (your recovery private key)") || need(in, "--proposal") || need(out, "--out")) return 2;
    static tool_proposal p;
    kt_recovery_consent c = {0};
    kt_buf m = {0}, sig = {0}, b = {0};
    kt_key *k = NULL;
    size_t n;
    kt_status st = recovery_proposal_load(in, &p, &m);
    if (!st) st = instance_pinned(a, "the proposal", in, p.is_floor ? p.floor.instance : p.set.instance);
    if (!st) st = private_key(a->key, &k);
    if (!st) st = kt_key_public_raw(k, c.signer, 64, &n);
    if (!st) st = kt_sha256(m.data, m.len, c.digest);
    if (!st) st = kt_sign(k, m.data, m.len, &sig);
    if (!st && sig.len != 64) st = kt_fail(KT_ERR_CRYPTO, "a %zu-byte signature", sig.len);
    if (!st) memcpy(c.signature, sig.data, 64);
    if (!st) st = kt_recovery_consent_encode(&c, &b);
    if (!st) st = kt_file_write_atomic(out, b.data, b.len, 0644);
    kt_key_free(k);
    kt_buf_free(&m);
    kt_buf_free(&sig);
    kt_buf_free(&b);
    if (st) return tool_fail(T, "sign");
    char fp[17], was[32], to[32];
    if (p.is_floor) {
        fingerprint(p.floor.instance, fp);
        show_time(p.floor.floor_was, was);
        show_time(p.floor.floor, to);
        fprintf(stderr, T ": consenting: instance %s..., its clock floor moved back from %s (%lld) to %s (%lld)\n", fp,
                was, (long long)p.floor.floor_was, to, (long long)p.floor.floor);
    } else {
        const kt_recovery_proposal *q = &p.set;
        fingerprint(q->instance, fp);
        fprintf(stderr, T ": consenting: instance %s..., recovery set v%llu replaced by %u of %zu%s:\n", fp,
                (unsigned long long)q->version, q->threshold, q->count, q->single_holder ? " (single holder)" : "");
        for (size_t i = 0; i < q->count; i++) {
            fingerprint(q->keys[i], fp);
            fprintf(stderr, T ":   recovery key %zu: %s...\n", i + 1, fp);
        }
    }
    printf(a->json ? "{\"consent\":\"%s\"}\n" : "consent: %s\n", out);
    return 0;
}

int recovery_consents(const tool_args *a, const char *proposal, const kt_buf *msg, tool_consents *out)
{
    uint8_t digest[32];
    memset(out, 0, sizeof *out);
    if (kt_sha256(msg->data, msg->len, digest)) return tool_fail(T, "--consent");
    kt_status st = KT_OK;
    for (size_t i = 0; i < a->n && !st; i++) {
        if (strcmp(a->names[i], "consent")) continue;
        size_t n = out->n;
        if (n == KT_RECOVERY_MAX_KEYS) return fprintf(stderr, T ": at most %d --consent\n", KT_RECOVERY_MAX_KEYS), 2;
        kt_buf b = {0};
        st = read_small(a->values[i], &b);
        if (!st && (st = kt_recovery_consent_decode(b.data, b.len, &out->cs[n])) != KT_OK)
            st = kt_fail_context(st, "%s", a->values[i]);
        if (!st && !kt_equal(out->cs[n].digest, digest, 32))
            st = kt_fail(KT_ERR_INVALID_ARGUMENT, "%s consents to another proposal than %s", a->values[i], proposal);
        kt_buf_free(&b);
        kubetee__aecs__v1__recovery_consent__init(&out->msgs[n]);
        out->msgs[n].signer.data = out->cs[n].signer;
        out->msgs[n].signer.len = 64;
        out->msgs[n].signature.data = out->cs[n].signature;
        out->msgs[n].signature.len = 64;
        out->ptrs[n] = &out->msgs[n];
        out->n++;
    }
    return st ? tool_fail(T, "--consent") : 0;
}

static int set(const tool_args *a)
{
    const char *in = tool_flag(a, "proposal"), *dir = tool_flag(a, "out-dir");
    if (need(in, "--proposal") || need(dir, "--out-dir (the new set's shares)")) return 2;
    static tool_proposal tp;
    static tool_consents cs;
    kt_buf m = {0};
    kt_status st = recovery_proposal_load(in, &tp, &m);
    if (!st && tp.is_floor)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "%s lowers the clock floor: aecsadmin clock --accept --proposal", in);
    int rc = st ? tool_fail(T, "recovery set") : recovery_consents(a, in, &m, &cs);
    kt_buf_free(&m);
    if (rc) return rc;
    const kt_recovery_proposal *p = &tp.set;
    if (p->version == 0) fprintf(stderr, T ": %s", RECOVERY_NO_SET_WARNING); /* the first set */
    Kubetee__Aecs__V1__PublicKey keys[KT_RECOVERY_MAX_KEYS], *kp[KT_RECOVERY_MAX_KEYS];
    Kubetee__Aecs__V1__RecoverySet rs = KUBETEE__AECS__V1__RECOVERY_SET__INIT;
    for (size_t i = 0; i < p->count; i++) {
        kubetee__aecs__v1__public_key__init(&keys[i]);
        keys[i].type = KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
        keys[i].raw.data = (uint8_t *)p->keys[i];
        keys[i].raw.len = 64;
        kp[i] = &keys[i];
    }
    rs.keys = kp;
    rs.n_keys = p->count;
    rs.threshold = p->threshold;
    rs.single_holder = p->single_holder;
    Kubetee__Aecs__V1__SetRecoveryRequest rq = KUBETEE__AECS__V1__SET_RECOVERY_REQUEST__INIT;
    rq.recovery = &rs;
    rq.consents = cs.ptrs;
    rq.n_consents = cs.n;
    return call_and_write(a, "SetRecovery", &rq.base, dir);
}

int recovery_verb(const tool_args *a)
{
    const char *what = a->n_args ? a->args[0] : "";
    if (!strcmp(what, "open-share")) return open_share(a);
    if (!strcmp(what, "propose")) return propose(a);
    if (!strcmp(what, "sign")) return sign(a);
    if (!strcmp(what, "set")) return set(a);
    char shown[64];
    fprintf(stderr, T ": recovery takes open-share, propose, sign or set, not '%s'\n",
            kt_escape(what, strlen(what), shown, sizeof shown));
    return 2;
}
