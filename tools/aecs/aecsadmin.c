/* aecsadmin: the AECS admin's tool (docs/aecs.md, docs/man/aecsadmin.1).
 *   aecsadmin VERB --server H:P --key ADMIN.pem --policy AECS.yaml --sim-dir D [--json] ... */
#include "common.h"
#include "recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T "aecsadmin"
#define D(x) &kubetee__aecs__v1__##x##__descriptor

static int usage(void)
{
    fprintf(stderr,
            "usage: aecsadmin VERB [--server HOST:PORT] --key ADMIN.pem --policy AECS_POLICY.yaml | --config KUBECONFIG\n"
            "                 (--sim-dir DIR | --collateral DIR) [--json] [verb flags]\n"
            "verbs:\n"
            "  init [PLATFORM] [RECOVERY]            become the first admin (an empty AECS only)\n"
            "  platform PLATFORM | --none            which platforms TAs may prove themselves on (none: no TA)\n"
            "  status\n"
            "  addadmin --admin-key PEM\n"
            "  register --name SERVICE --admin-key PEM   a service and its admin's key (P-256 or SM2)\n"
            "  unregister --name SERVICE\n"
            "  list                                  the services\n"
            "  listsecret --service SERVICE\n"
            "  delsecret --service SERVICE --name SECRET\n"
            "  listta                                TA-bound secrets, every TA's (owners and names, never data)\n"
            "  delta --owner OWNER --name SECRET     delete a TA-bound secret (OWNER as listta shows it)\n"
            "  tasigners                             the TA signer allow-list, with what each entry's TAs hold\n"
            "  tasigners --allow mrsigner=HEX[,prodid=N],secrets=N,bytes=N [--allow ...] | --none\n"
            "                                        set it: whose TAs may create TA-bound secrets, and how many\n"
            "                                        and how many bytes each entry's TAs hold together (none: no TA)\n"
            "  clock --accept                        the host's time raises (or holds) AECS's clock floor, if this\n"
            "                                        machine's clock agrees (after a jump AECS does not take alone)\n"
            "  clock propose [--floor SECONDS] --out FILE   a lowering of the floor (to now), for the holders to sign\n"
            "  clock --accept --proposal FILE --consent FILE...   lower it: the recovery threshold of consents\n"
            "  backup --out-dir DIR                  the storage key as shares, one per recovery key, each sealed to it\n"
            "  rotate-key --out-dir DIR              a new storage key, every object sealed again under it; the new\n"
            "                                        shares (older backups no longer restore; also at recovery set)\n"
            "  restore --share FILE [--recovery-key PEM]  on a new machine: one open share (or a sealed one and its\n"
            "                                        key); AECS restores when it has the recovery threshold of them\n"
            "  recovery open-share --key PEM --share FILE --out FILE   offline, the holder: open a share\n"
            "  recovery propose RECOVERY --out FILE  a new recovery set, for the current set's holders to sign\n"
            "  recovery sign --key PEM --proposal FILE --out FILE      offline, a holder: consent to it (or to a\n"
            "                                        clock floor's lowering)\n"
            "  recovery set --proposal FILE [--consent FILE]... --out-dir DIR   change the set (the threshold of\n"
            "                                        consents; the first set: the init admin, none), new shares\n"
            "  audit head                            the signed head of the audit chain\n"
            "  audit verify FILE [--identity HEX]    check an audit file (the identity and a fresh signed head from\n"
            "                                        the enclave if not given); exit 3: lines left unverified\n"
            "every verb: [--instance HEX] (else AECS_INSTANCE, else the kubeconfig's aecsServer.instance):\n"
            "  refuse an AECS that cannot prove this instance key\n"
            "  (init prints it; another init, on an emptied store, makes another)\n"
            "every verb: [--timeout SECONDS] how long to wait for AECS's answer (1 to 86400, default 30;\n"
            "  rotate-key and recovery set, which seal every object again: 3600)\n"
            "every verb: [--connect-timeout SECONDS] how long connecting and the attested handshake may take\n"
            "  (1 to 86400, default 30; the answer's wait, --timeout, starts after it)\n"
            "PLATFORM (the TA platform policy): [--allow-simulation (--simulation-root HEX | --simulation-root-of\n"
            "  COLLATERAL_DIR)] [--allow-debug] [--tcb UpToDate,SWHardeningNeeded,...]   (no TA is served before it)\n"
            "RECOVERY (who can restore the storage key together): --recovery-key PEM (P-256, repeated)\n"
            "  --recovery-threshold M (2 or more; 1 only with --recovery-single-holder)\n");
    return 2;
}

static int need(const char *v, const char *flag)
{
    if (v) return 0;
    fprintf(stderr, T ": %s is required\n", flag);
    return 2;
}

/* status; as text the storage key in words (as JSON proto3's: a zero generation and no
 * unfinished rotation are left out of storageKey) */
static int status(const tool_args *a)
{
    Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    kt_status st = kt_aecs_call(c, "Status", &rq.base, D(status_response), &res);
    kt_aecs_client_free(c);
    if (st) return tool_fail(T, "Status");
    Kubetee__Aecs__V1__StatusResponse *r = (void *)res;
    Kubetee__Aecs__V1__StorageKeyStatus *k = r->storage_key;
    if (!a->json) r->storage_key = NULL;
    int rc = tool_call_print(a, T, res);
    if (!a->json && k && !rc)
        printf("storage_key: generation %u, %s\n", (unsigned)k->generation,
               k->rotation_unfinished ? "rotation unfinished (both keys in force)"
                                      : "no rotation unfinished");
    r->storage_key = k;
    protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

/* init, and the new instance's key printed: what admins and TAs pin (--instance) */
static int init(const tool_args *a, const Kubetee__Aecs__V1__InitRequest *rq)
{
    kt_aecs_client *c = NULL;
    ProtobufCMessage *res = NULL;
    if (tool_connect(a, &c)) return tool_fail(T, "connecting");
    int rc = kt_aecs_call(c, "Init", &rq->base, D(init_response), &res) ? tool_fail(T, "Init") : 0;
    if (!rc && !rq->recovery)
        fprintf(stderr, T ": %s", RECOVERY_NO_SET_WARNING); /* a refused init made no store */
    kt_aecs_client_free(c);
    if (rc) return rc;
    const Kubetee__Aecs__V1__InitResponse *r = (const void *)res;
    char hex[129];
    if (r->instance_public.len == 64 && !kt_hex_encode(r->instance_public.data, 64, hex, sizeof hex))
        fprintf(stderr,
                T ": the AECS instance key (pin it: --instance, AECS_INSTANCE or the kubeconfig's "
                  "aecsServer.instance for the tools, the TA's instance pin): %s\n",
                hex);
    else
        rc = tool_fail(T, "Init's answer has no instance key");
    if (!rc && !rq->recovery)
        fprintf(stderr, T ": no recovery set (--recovery-key, --recovery-threshold): backup is refused until this "
                          "admin sets one (aecsadmin recovery propose, then recovery set)\n");
    if (!rc) rc = tool_call_print(a, T, res);
    protobuf_c_message_free_unpacked(res, NULL);
    return rc;
}

/* The TA platform policy from the flags; *given says whether any was given. */
static int platform_flags(const tool_args *a, Kubetee__Aecs__V1__TaPlatformPolicy *p, uint8_t root[32],
                          char *tcb_names[8], char tcb_text[256], bool *given)
{
    const char *hex = tool_flag(a, "simulation-root"), *of = tool_flag(a, "simulation-root-of"), *tcb = tool_flag(a, "tcb");
    p->allow_simulation = tool_flag(a, "allow-simulation") != NULL;
    p->allow_debug = tool_flag(a, "allow-debug") != NULL;
    *given = p->allow_simulation || p->allow_debug || hex || of || tcb;
    if (hex && of) return fprintf(stderr, T ": --simulation-root and --simulation-root-of name the same thing: give one\n"), 2;
    if ((hex || of) && !p->allow_simulation)
        return fprintf(stderr, T ": a simulation root is for --allow-simulation\n"), 2;
    if (p->allow_simulation && !hex && !of)
        return fprintf(stderr, T ": --allow-simulation needs the one simulation root accepted: --simulation-root HEX "
                               "(SHA-256 of its DER) or --simulation-root-of COLLATERAL_DIR\n"), 2;
    if (hex && (strlen(hex) != 64 || kt_hex_decode(hex, root, 32)))
        return fprintf(stderr, T ": --simulation-root is 64 hex digits (SHA-256 of the root certificate's DER)\n"), 2;
    if (of) {
        kt_collateral *c = NULL;
        kt_status st = kt_collateral_load_dir(of, NULL, &c);
        if (!st) st = kt_collateral_root_sha256(c, root);
        kt_collateral_free(c);
        if (st) return tool_fail(T, "--simulation-root-of");
    }
    if (hex || of) {
        p->simulation_root.data = root;
        p->simulation_root.len = 32;
    }
    if (tcb) {
        if (strlen(tcb) >= 256) return fprintf(stderr, T ": --tcb is too long\n"), 2;
        strcpy(tcb_text, tcb);
        for (char *save = NULL, *t = strtok_r(tcb_text, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (p->n_tcb_statuses == 8) return fprintf(stderr, T ": --tcb names at most 8 statuses\n"), 2;
            tcb_names[p->n_tcb_statuses++] = t; /* each checked by AECS, the bad one named */
        }
        p->tcb_statuses = tcb_names;
    }
    return 0;
}

static int platform(const tool_args *a)
{
    Kubetee__Aecs__V1__TaPlatformPolicy p = KUBETEE__AECS__V1__TA_PLATFORM_POLICY__INIT;
    Kubetee__Aecs__V1__SetTaPlatformRequest rq = KUBETEE__AECS__V1__SET_TA_PLATFORM_REQUEST__INIT;
    uint8_t root[32];
    char *names[8], text[256];
    bool given, none = tool_flag(a, "none") != NULL;
    int rc = platform_flags(a, &p, root, names, text, &given);
    if (rc) return rc;
    if (given == none)
        return fprintf(stderr, T ": platform takes the policy's flags, or --none (no TA is served)\n"), 2;
    rq.policy = none ? NULL : &p;
    return tool_run(a, T, "SetTaPlatform", &rq.base, D(done));
}

/* The live head, over the session that told the identity: AuditHead's signature over our
 * nonce, checked; its own line is in the file from then on and covers every line before. */
static kt_status live_head(kt_aecs_client *c, const uint8_t identity[64], kt_aecs_audit_head *head)
{
    Kubetee__Aecs__V1__AuditHeadRequest rq = KUBETEE__AECS__V1__AUDIT_HEAD_REQUEST__INIT;
    ProtobufCMessage *res = NULL;
    uint8_t nonce[32], le[8];
    static const char label[] = "kubetee.aecs.audit-head.v1";
    kt_status st = kt_random(nonce, sizeof nonce);
    rq.nonce.data = nonce;
    rq.nonce.len = sizeof nonce;
    if (!st) st = kt_aecs_call(c, "AuditHead", &rq.base, D(audit_head_response), &res);
    if (st) return kt_fail_context(st, "AuditHead");
    Kubetee__Aecs__V1__AuditHeadResponse *h = (Kubetee__Aecs__V1__AuditHeadResponse *)res;
    kt_buf m = {0};
    kt_key *k = NULL;
    kt_put_le64(le, h->seq);
    if (h->hash.len != 32 || h->signature.len != 64) st = kt_fail(KT_ERR_VERIFY, "AuditHead: a malformed answer");
    if (!st) st = kt_buf_append(&m, label, sizeof label - 1);
    if (!st) st = kt_buf_append(&m, nonce, sizeof nonce);
    if (!st) st = kt_buf_append(&m, le, 8);
    if (!st) st = kt_buf_append(&m, h->hash.data, 32);
    if (!st) st = kt_key_from_public_raw(KT_KEY_P256, identity, 64, &k);
    if (!st && kt_verify(k, m.data, m.len, h->signature.data, 64))
        st = kt_fail(KT_ERR_VERIFY, "AuditHead: not signed by the AECS identity key over our nonce");
    if (!st) {
        head->seq = h->seq;
        memcpy(head->hash, h->hash.data, 32);
    }
    kt_key_free(k);
    kt_buf_free(&m);
    protobuf_c_message_free_unpacked(res, NULL);
    return st;
}

/* exit 0: every line verified; 1: a line fails (or the file does not reach the live
 * head); 3: the chain holds but some lines no signature covers (not verified) */
static int audit_verify(const tool_args *a)
{
    if (a->n_args < 2) return usage();
    const char *id = tool_flag(a, "identity");
    uint8_t identity[64];
    kt_aecs_audit_head head;
    if (id) {
        if (strlen(id) != 128 || kt_hex_decode(id, identity, 64))
            return fprintf(stderr, T ": --identity is the AECS identity key, 128 hex digits\n"), 2;
    } else { /* from the enclave itself, through the session, with a fresh signed head */
        kt_aecs_client *c = NULL;
        ProtobufCMessage *res = NULL;
        Kubetee__Aecs__V1__StatusRequest rq = KUBETEE__AECS__V1__STATUS_REQUEST__INIT;
        if (tool_connect(a, &c)) return tool_fail(T, "connecting");
        kt_status st = kt_aecs_call(c, "Status", &rq.base, D(status_response), &res);
        Kubetee__Aecs__V1__StatusResponse *s = (Kubetee__Aecs__V1__StatusResponse *)res;
        if (!st && s->identity_public.len != 64) st = kt_fail(KT_ERR_VERIFY, "Status: no identity key");
        if (!st) memcpy(identity, s->identity_public.data, 64);
        if (res) protobuf_c_message_free_unpacked(res, NULL);
        if (!st) st = live_head(c, identity, &head);
        int rc = st ? tool_fail(T, "the live audit head") : 0;
        kt_aecs_client_free(c);
        if (rc) return rc;
    }
    kt_buf text = {0};
    if (kt_file_read(a->args[1], 1u << 30, &text)) return tool_fail(T, a->args[1]);
    kt_aecs_audit_result r;
    char hex[65];
    kt_status st = kt_aecs_audit_verify(text.data, text.len, identity, 0, NULL, id ? NULL : &head, &r);
    kt_buf_free(&text);
    if (!st && !id && !r.head_seen)
        st = kt_fail(KT_ERR_VERIFY, "audit: the file does not reach the live head, seq %llu (its tail was cut or edited)",
                     (unsigned long long)head.seq);
    kt_hex_encode(r.hash, 32, hex, sizeof hex);
    bool all = !r.unsigned_tail && !r.abandoned;
    char from[65];
    kt_hex_encode(r.restored_hash, 32, from, sizeof from);
    if (a->json)
        printf("{\"ok\":%s,\"lines\":%zu,\"seq\":%llu,\"hash\":\"%s\",\"unsigned\":%zu,\"abandoned\":%zu,"
               "\"restores\":%zu,\"restoredFrom\":%llu,\"restoredHash\":\"%s\"}\n",
               !st && all ? "true" : "false", r.lines, (unsigned long long)r.seq, hex, r.unsigned_tail, r.abandoned,
               r.restores, (unsigned long long)r.restored_from, r.restores ? from : "");
    if (st) return tool_fail(T, "audit verify");
    if (!a->json) printf("%zu lines verified, last seq %llu, hash %s\n", r.lines, (unsigned long long)r.seq, hex);
    if (r.restores)
        fprintf(stderr, T ": restored: the chain goes on from the store's checkpoint seq %llu (hash %s), not from the "
                          "lines before it here; lines another machine wrote after that checkpoint are another "
                          "branch\n", (unsigned long long)r.restored_from, from);
    if (r.abandoned)
        fprintf(stderr, T ": NOT verified: %zu lines no signature covers, left behind at a restart (first: seq %llu..%llu)\n",
                r.abandoned, (unsigned long long)r.abandoned_first, (unsigned long long)r.abandoned_last);
    if (r.unsigned_tail)
        fprintf(stderr, T ": NOT verified: the %zu lines after seq %llu (to %llu): no signature covers them yet%s\n",
                r.unsigned_tail, (unsigned long long)r.seq, (unsigned long long)r.tail_seq,
                id ? " (without --identity, a fresh signed head covers them)" : "");
    return all ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) return usage();
    const char *verb = argv[1];
    tool_args a;
    static const char *const switches[] = {"allow-simulation", "allow-debug", "none", "recovery-single-holder",
                                           "accept", NULL};
    if (tool_parse(argc, argv, 2, switches, &a)) return 2;
    uint8_t raw[64];
    Kubetee__Aecs__V1__PublicKey pk = KUBETEE__AECS__V1__PUBLIC_KEY__INIT;
    if (!strcmp(verb, "init")) {
        Kubetee__Aecs__V1__InitRequest rq = KUBETEE__AECS__V1__INIT_REQUEST__INIT;
        Kubetee__Aecs__V1__TaPlatformPolicy p = KUBETEE__AECS__V1__TA_PLATFORM_POLICY__INIT;
        uint8_t root[32];
        char *names[8], text[256];
        bool given, recovery;
        tool_recovery_set r;
        int rc = platform_flags(&a, &p, root, names, text, &given);
        if (!rc) rc = recovery_flags(&a, &r, &recovery);
        if (rc) return rc;
        if (given) rq.ta_platform = &p;
        if (recovery) rq.recovery = &r.set;
        return init(&a, &rq);
    }
    if (!strcmp(verb, "platform")) return platform(&a);
    if (!strcmp(verb, "status")) return status(&a);
    if (!strcmp(verb, "addadmin")) {
        Kubetee__Aecs__V1__AddAdminRequest rq = KUBETEE__AECS__V1__ADD_ADMIN_REQUEST__INIT;
        if (need(tool_flag(&a, "admin-key"), "--admin-key")) return 2;
        if (tool_public_key(tool_flag(&a, "admin-key"), &pk, raw)) return tool_fail(T, "admin key");
        rq.key = &pk;
        return tool_run(&a, T, "AddAdmin", &rq.base, D(done));
    }
    if (!strcmp(verb, "register")) {
        Kubetee__Aecs__V1__RegisterServiceRequest rq = KUBETEE__AECS__V1__REGISTER_SERVICE_REQUEST__INIT;
        if (need(tool_flag(&a, "name"), "--name") || need(tool_flag(&a, "admin-key"), "--admin-key")) return 2;
        if (tool_public_key(tool_flag(&a, "admin-key"), &pk, raw)) return tool_fail(T, "admin key");
        rq.name = (char *)tool_flag(&a, "name");
        rq.admin_key = &pk;
        return tool_run(&a, T, "RegisterService", &rq.base, D(done));
    }
    if (!strcmp(verb, "unregister")) {
        Kubetee__Aecs__V1__UnregisterServiceRequest rq = KUBETEE__AECS__V1__UNREGISTER_SERVICE_REQUEST__INIT;
        if (need(tool_flag(&a, "name"), "--name")) return 2;
        rq.name = (char *)tool_flag(&a, "name");
        return tool_run(&a, T, "UnregisterService", &rq.base, D(done));
    }
    if (!strcmp(verb, "list")) {
        Kubetee__Aecs__V1__ListServicesRequest rq = KUBETEE__AECS__V1__LIST_SERVICES_REQUEST__INIT;
        return tool_run(&a, T, "ListServices", &rq.base, D(list_services_response));
    }
    if (!strcmp(verb, "listsecret")) {
        Kubetee__Aecs__V1__ListSecretsRequest rq = KUBETEE__AECS__V1__LIST_SECRETS_REQUEST__INIT;
        if (need(tool_flag(&a, "service"), "--service")) return 2;
        rq.service = (char *)tool_flag(&a, "service");
        return tool_run(&a, T, "ListSecrets", &rq.base, D(list_secrets_response));
    }
    if (!strcmp(verb, "delsecret")) {
        Kubetee__Aecs__V1__DeleteSecretRequest rq = KUBETEE__AECS__V1__DELETE_SECRET_REQUEST__INIT;
        if (need(tool_flag(&a, "service"), "--service") || need(tool_flag(&a, "name"), "--name")) return 2;
        rq.service = (char *)tool_flag(&a, "service");
        rq.name = (char *)tool_flag(&a, "name");
        return tool_run(&a, T, "DeleteSecret", &rq.base, D(done));
    }
    if (!strcmp(verb, "listta")) {
        Kubetee__Aecs__V1__ListTaSecretsRequest rq = KUBETEE__AECS__V1__LIST_TA_SECRETS_REQUEST__INIT;
        return tool_run(&a, T, "ListTaSecrets", &rq.base, D(list_ta_secrets_response));
    }
    if (!strcmp(verb, "delta")) {
        Kubetee__Aecs__V1__DeleteTaSecretRequest rq = KUBETEE__AECS__V1__DELETE_TA_SECRET_REQUEST__INIT;
        if (need(tool_flag(&a, "owner"), "--owner") || need(tool_flag(&a, "name"), "--name")) return 2;
        rq.owner = (char *)tool_flag(&a, "owner");
        rq.name = (char *)tool_flag(&a, "name");
        return tool_run(&a, T, "DeleteTaSecret", &rq.base, D(done));
    }
    if (!strcmp(verb, "tasigners")) return aecsadmin_tasigners(&a);
    if (!strcmp(verb, "clock")) return recovery_clock(&a);
    if (!strcmp(verb, "backup")) return recovery_backup(&a);
    if (!strcmp(verb, "restore")) return recovery_restore(&a);
    if (!strcmp(verb, "rotate-key")) return recovery_rotate(&a);
    if (!strcmp(verb, "recovery")) return recovery_verb(&a);
    if (!strcmp(verb, "audit") && a.n_args >= 1 && !strcmp(a.args[0], "head")) {
        Kubetee__Aecs__V1__AuditHeadRequest rq = KUBETEE__AECS__V1__AUDIT_HEAD_REQUEST__INIT;
        uint8_t nonce[32];
        if (kt_random(nonce, sizeof nonce)) return tool_fail(T, "nonce");
        rq.nonce.data = nonce;
        rq.nonce.len = sizeof nonce;
        return tool_run(&a, T, "AuditHead", &rq.base, D(audit_head_response));
    }
    if (!strcmp(verb, "audit") && a.n_args >= 1 && !strcmp(a.args[0], "verify")) return audit_verify(&a);
    fprintf(stderr, T ": no verb '%s'\n", verb);
    return usage();
}
