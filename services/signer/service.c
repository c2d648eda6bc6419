/* Sign and Keys. A request is judged cheapest first: who is calling (the certificate gRPC
 * verified, pinned by subject and issuer), whether that client may use the key, whether
 * the bytes are signing data as gendata writes them, the key's policy, then ISVSVN, which
 * is recorded before the token signs. One log line per request, whatever its outcome. */
#include "service.h"
#include "signer.pb-c.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

kt_status sg_service_init(sg_service *s, const sg_config *cfg, kt_p11 *token)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->token = token;
    kt_status st = KT_OK;
    for (size_t i = 0; !st && i < cfg->nkeys; i++) {
        st = kt_p11_key_find(token, cfg->keys[i].label, &s->keys[i]);
        if (st) {
            st = kt_fail_context(st, "key '%s'", cfg->keys[i].name);
            break;
        }
        size_t n;
        uint8_t le[KT_RSA3072_LEN];
        st = kt_key_public_raw(kt_p11_key_public(s->keys[i]), s->modulus[i], KT_RSA3072_LEN, &n);
        for (size_t j = 0; !st && j < KT_RSA3072_LEN; j++)
            le[j] = s->modulus[i][KT_RSA3072_LEN - 1 - j];
        if (!st) st = kt_sha256(le, sizeof le, s->mrsigner[i]);
    }
    if (!st) st = sg_state_open(cfg->state, &s->state);
    if (!st) st = sg_approvals_open(cfg, cfg->approvals, &s->approvals);
    if (!st) {
        kt_buf pem = {0};
        st = kt_file_read(cfg->log_key, 64 << 10, &pem);
        if (!st) st = kt_key_from_pem((const char *)pem.data, pem.len, &s->log_key);
        kt_buf_free(&pem);
        if (st) st = kt_fail_context(st, "the log key");
    }
    if (!st) st = kt_tlog_open(cfg->log_path, cfg->log_head, s->log_key, &s->log);
    if (st) sg_service_free(s);
    return st;
}

void sg_service_free(sg_service *s)
{
    for (size_t i = 0; i < SG_MAX_KEYS; i++)
        kt_p11_key_free(s->keys[i]);
    sg_state_free(s->state);
    sg_approvals_free(s->approvals);
    kt_tlog_free(s->log);
    kt_key_free(s->log_key);
    memset(s->keys, 0, sizeof s->keys);
    s->state = NULL;
    s->approvals = NULL;
    s->log = NULL;
    s->log_key = NULL;
}

static size_t key_index(const sg_service *s, const sg_key *k)
{
    return (size_t)(k - s->cfg->keys);
}

/* One line for the request, then its status for the client; seq: the log entry. */
static kt_status outcome_seq(sg_service *s, sg_outcome o, kt_status st, const char *client,
                             const char *key, const kt_sigdata_info *req, uint64_t seq)
{
    atomic_fetch_add(&s->outcomes[o], 1);
    char mre[65] = "", prodid[8] = "", svn[8] = "";
    if (req) {
        kt_hex_encode(req->mrenclave, 32, mre, sizeof mre);
        snprintf(prodid, sizeof prodid, "%u", (unsigned)req->prodid);
        snprintf(svn, sizeof svn, "%u", (unsigned)req->svn);
    }
    if (o == SG_OK) {
        char entry[24];
        snprintf(entry, sizeof entry, "%llu", (unsigned long long)seq);
        kt_log(KT_LOG_INFO, "signer.signed", "client", client, "key", key, "mrenclave", mre,
               "prodid", prodid, "svn", svn, "debug", req->debug ? "true" : "false", "log_entry",
               entry, NULL);
        return KT_OK;
    }
    char why[512];
    snprintf(why, sizeof why, "%s", kt_last_error());
    kt_log(o == SG_FAILED_TOKEN ? KT_LOG_ERROR : KT_LOG_WARN, "signer.refused", "reason",
           sg_outcome_names[o], "client", client, "key", key, "mrenclave", mre, "prodid", prodid,
           "svn", svn, "error", why, NULL);
    return kt_fail(st, "%s", why);
}

static kt_status outcome(sg_service *s, sg_outcome o, kt_status st, const char *client,
                         const char *key, const kt_sigdata_info *req)
{
    return outcome_seq(s, o, st, client, key, req, 0);
}

static kt_status who(char *client, size_t cap, int *idx, const sg_config *cfg)
{
    char subject[SG_DN_MAX], issuer[SG_DN_MAX];
    kt_status st = kt_rpc_peer_names(subject, sizeof subject, issuer, sizeof issuer);
    *idx = st ? -1 : sg_config_client(cfg, subject, issuer);
    if (*idx >= 0) {
        snprintf(client, cap, "%s", cfg->clients[*idx].name);
        return KT_OK;
    }
    if (!st) {
        char e[200];
        snprintf(client, cap, "unknown:%s", kt_escape(subject, strlen(subject), e, sizeof e));
        st = kt_fail(KT_ERR_DENIED, "the client certificate is not one the signer knows");
    } else {
        snprintf(client, cap, "none");
        st = kt_fail(KT_ERR_DENIED, "the call came without a client certificate");
    }
    return st;
}

/* ---- M-of-N approval ---- */

/* The approvers in set, by name, joined by ','. */
static void approver_names(const sg_config *c, uint64_t set, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < c->nclients; i++)
        if (set & (1ull << i))
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
                                  c->clients[i].name);
}

static kt_status approve(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *res_)
{
    sg_service *s = ctx;
    const Kubetee__Signer__V1__ApproveRequest *req = (const void *)req_;
    Kubetee__Signer__V1__ApproveResponse *res = (void *)res_;
    char client[300], key[SG_NAME_MAX * 4 + 1], mre[65] = "";
    kt_escape(req->key, strlen(req->key), key, sizeof key);
    int ci;
    kt_status st = who(client, sizeof client, &ci, s->cfg);
    const sg_key *k = st ? NULL : sg_config_key(s->cfg, req->key);
    if (!st && (!k || !k->approvals || !(k->approvers & (1ull << ci))))
        st = kt_fail(KT_ERR_DENIED, "client '%s' is not an approver of that key",
                     s->cfg->clients[ci].name);
    if (!st && req->mrenclave.len != 32)
        st = kt_fail(KT_ERR_INVALID_ARGUMENT, "mrenclave is %zu bytes, not 32",
                     req->mrenclave.len);
    if (!st) {
        kt_hex_encode(req->mrenclave.data, 32, mre, sizeof mre);
        unsigned have = 0;
        st = sg_approvals_add(s->approvals, key_index(s, k), req->mrenclave.data, ci, &have);
        res->approvals = have;
        res->required = k->approvals;
    }
    if (st) {
        kt_log(KT_LOG_WARN, "signer.approve_refused", "client", client, "key", key, "mrenclave",
               mre, "error", kt_last_error(), NULL);
        return st;
    }
    char n[24];
    snprintf(n, sizeof n, "%u/%u", (unsigned)res->approvals, (unsigned)res->required);
    kt_log(KT_LOG_INFO, "signer.approved", "client", client, "key", key, "mrenclave", mre,
           "approvals", n, NULL);
    return KT_OK;
}

#define LOG_PAGE (1u << 20)

/* A page of the log from entry `from`, and the head it is read under: the head first,
 * so the log read after it holds at least the entries the head covers. */
static kt_status log_page(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *res_)
{
    sg_service *s = ctx;
    const Kubetee__Signer__V1__LogRequest *req = (const void *)req_;
    Kubetee__Signer__V1__LogResponse *res = (void *)res_;
    char client[300];
    int ci;
    kt_status st = who(client, sizeof client, &ci, s->cfg);
    if (st) {
        kt_log(KT_LOG_WARN, "signer.log_refused", "client", client, "error", kt_last_error(), NULL);
        return st;
    }
    if (req->from == 0) return kt_fail(KT_ERR_INVALID_ARGUMENT, "log: entries count from 1");
    kt_buf head = {0}, lines = {0};
    kt_tlog_head h;
    /* the head first: the entries read after it include every one it covers */
    if ((st = kt_file_read(s->cfg->log_head, 4096, &head)) ||
        (st = kt_tlog_head_parse(head.data, head.len, s->log_key, &h)) ||
        (st = kt_tlog_read(s->log, req->from, h.entries, LOG_PAGE, &lines))) {
        kt_buf_free(&head);
        kt_buf_free(&lines);
        return kt_fail_context(KT_ERR_UNAVAILABLE, "log");
    }
    st = kt_call_bytes(&res->head, head.data, head.len);
    if (!st && lines.len) st = kt_call_bytes(&res->lines, lines.data, lines.len);
    res->entries = h.entries;
    kt_buf_free(&head);
    kt_buf_free(&lines);
    return st;
}

static kt_status sign(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *res_)
{
    sg_service *s = ctx;
    const Kubetee__Signer__V1__SignRequest *req = (const void *)req_;
    Kubetee__Signer__V1__SignResponse *res = (void *)res_;
    char client[300], key[SG_NAME_MAX * 4 + 1];
    kt_escape(req->key, strlen(req->key), key, sizeof key);
    int ci;
    kt_status st = who(client, sizeof client, &ci, s->cfg);
    if (st) return outcome(s, SG_REFUSED_CLIENT, st, client, key, NULL);
    const sg_key *k = sg_config_key(s->cfg, req->key);
    sg_outcome o = sg_policy_check(s->cfg, ci, k, NULL);
    if (o != SG_OK) return outcome(s, o, KT_ERR_DENIED, client, key, NULL);
    kt_sigdata_info info;
    st = kt_sigdata_decode(req->sigdata.data, req->sigdata.len, &info);
    if (st) return outcome(s, SG_REFUSED_REQUEST, st, client, key, NULL);
    if ((o = sg_policy_check(s->cfg, ci, k, &info)) != SG_OK)
        return outcome(s, o, KT_ERR_DENIED, client, key, &info);
    if (req->image.len || k->reproducible) {
        if (!req->image.len)
            st = kt_fail(KT_ERR_DENIED, "key '%s' signs only an image it measures itself: send "
                                        "the unsigned image and its config",
                         k->name);
        else
            st = sg_build_check(req->image.data, req->image.len, req->config,
                                strlen(req->config), s->cfg->max_enclave_size, &info);
        if (st) return outcome(s, SG_REFUSED_BUILD, st, client, key, &info);
    }
    size_t ki = key_index(s, k);
    uint64_t by;
    if ((st = sg_approvals_claim(s->approvals, k, ki, ci, info.mrenclave, &by)))
        return outcome(s, st == KT_ERR_STATE ? SG_AWAITING : SG_FAILED_TOKEN, st, client, key, &info);
    if ((st = sg_state_advance(s->state, s->mrsigner[ki], info.prodid, info.svn))) {
        sg_approvals_release(s->approvals, k, ki, info.mrenclave, false);
        return outcome(s, st == KT_ERR_DENIED ? SG_REFUSED_SVN : SG_FAILED_TOKEN, st, client,
                       key, &info);
    }
    uint8_t sig[KT_RSA3072_LEN];
    if ((st = kt_p11_sign(s->keys[ki], req->sigdata.data, KT_SIGDATA_LEN, sig))) {
        sg_approvals_release(s->approvals, k, ki, info.mrenclave, false);
        return outcome(s, SG_FAILED_TOKEN, KT_ERR_UNAVAILABLE, client, key, &info);
    }
    /* in the log before anyone has the signature */
    kt_tlog_entry e = {.time = (uint64_t)time(NULL), .prodid = info.prodid, .svn = info.svn,
                       .debug = info.debug};
    memcpy(e.mrenclave, info.mrenclave, 32);
    memcpy(e.mrsigner, s->mrsigner[ki], 32);
    snprintf(e.key, sizeof e.key, "%s", k->name);
    snprintf(e.client, sizeof e.client, "%s", s->cfg->clients[ci].name);
    approver_names(s->cfg, by, e.approvers, sizeof e.approvers);
    st = kt_tlog_append(s->log, &e);
    sg_approvals_release(s->approvals, k, ki, info.mrenclave, !st);
    if (st) {
        kt_wipe(sig, sizeof sig);
        return outcome(s, SG_FAILED_TOKEN, KT_ERR_UNAVAILABLE, client, key, &info);
    }
    if ((st = kt_call_bytes(&res->signature, sig, sizeof sig)) ||
        (st = kt_call_bytes(&res->modulus, s->modulus[ki], KT_RSA3072_LEN)) ||
        (st = kt_call_bytes(&res->mrsigner, s->mrsigner[ki], 32)))
        return st;
    atomic_fetch_add(&s->signed_by[ki], 1);
    return outcome_seq(s, SG_OK, KT_OK, client, key, &info, e.seq);
}

static kt_status keys(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *res_)
{
    (void)req_;
    sg_service *s = ctx;
    Kubetee__Signer__V1__KeysResponse *res = (void *)res_;
    char client[300];
    int ci;
    kt_status st = who(client, sizeof client, &ci, s->cfg);
    if (st) {
        kt_log(KT_LOG_WARN, "signer.keys_refused", "client", client, "error", kt_last_error(),
               NULL);
        return st;
    }
    const sg_config *c = s->cfg;
    res->keys = kt_call_alloc(c->nkeys * sizeof *res->keys + 1);
    if (!res->keys) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < c->nkeys; i++) {
        if (!(c->keys[i].clients & (1ull << ci))) continue;
        Kubetee__Signer__V1__Key *k = kt_call_alloc(sizeof *k);
        uint32_t *p = kt_call_alloc(c->keys[i].nprodids * sizeof *p + 1);
        if (!k || !p) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        kubetee__signer__v1__key__init(k);
        k->name = (char *)c->keys[i].name;
        k->production = c->keys[i].production;
        k->debug_allowed = c->keys[i].debug;
        k->approvals_required = c->keys[i].approvals;
        k->reproducible = c->keys[i].reproducible;
        for (size_t j = 0; j < c->keys[i].nprodids; j++)
            p[j] = c->keys[i].prodids[j];
        k->prodids = p;
        k->n_prodids = c->keys[i].nprodids;
        if ((st = kt_call_bytes(&k->modulus, s->modulus[i], KT_RSA3072_LEN)) ||
            (st = kt_call_bytes(&k->mrsigner, s->mrsigner[i], 32)))
            return st;
        res->keys[res->n_keys++] = k;
    }
    char n[16];
    snprintf(n, sizeof n, "%zu", res->n_keys);
    kt_log(KT_LOG_INFO, "signer.keys", "client", client, "keys", n, NULL);
    return KT_OK;
}

/* The approvals a client may see: of keys it may use or approve. */
static kt_status pending(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *res_)
{
    (void)req_;
    sg_service *s = ctx;
    Kubetee__Signer__V1__PendingResponse *res = (void *)res_;
    char client[300];
    int ci;
    kt_status st = who(client, sizeof client, &ci, s->cfg);
    if (st) {
        kt_log(KT_LOG_WARN, "signer.pending_refused", "client", client, "error", kt_last_error(), NULL);
        return st;
    }
    static __thread sg_approval list[SG_MAX_PENDING];
    size_t n = sg_approvals_list(s->approvals, list, SG_MAX_PENDING);
    res->pending = kt_call_alloc(n * sizeof *res->pending + 1);
    if (!res->pending) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    const sg_config *c = s->cfg;
    for (size_t i = 0; i < n; i++) {
        const sg_key *k = &c->keys[list[i].key];
        if (!((k->clients | k->approvers) & (1ull << ci))) continue;
        Kubetee__Signer__V1__Pending *p = kt_call_alloc(sizeof *p);
        char **names = kt_call_alloc(c->nclients * sizeof *names + 1);
        if (!p || !names) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
        kubetee__signer__v1__pending__init(p);
        p->key = (char *)k->name;
        if ((st = kt_call_bytes(&p->mrenclave, list[i].mrenclave, 32))) return st;
        for (size_t j = 0; j < c->nclients; j++)
            if (list[i].by & (1ull << j)) names[p->n_approvers++] = (char *)c->clients[j].name;
        p->approvers = names;
        p->approvals = (uint32_t)p->n_approvers;
        p->required = k->approvals;
        p->since = (int64_t)list[i].since;
        p->expires = (int64_t)(list[i].since + SG_APPROVAL_TTL);
        p->in_use = list[i].claimed;
        res->pending[res->n_pending++] = p;
    }
    char count[16];
    snprintf(count, sizeof count, "%zu", res->n_pending);
    kt_log(KT_LOG_INFO, "signer.pending", "client", client, "pending", count, NULL);
    return KT_OK;
}

size_t sg_service_methods(sg_service *s, kt_rpc_method *m)
{
    m[0] = (kt_rpc_method){"/kubetee.signer.v1.Signer/Sign",
                           &kubetee__signer__v1__sign_request__descriptor,
                           &kubetee__signer__v1__sign_response__descriptor, sign, NULL, s};
    m[1] = (kt_rpc_method){"/kubetee.signer.v1.Signer/Keys",
                           &kubetee__signer__v1__keys_request__descriptor,
                           &kubetee__signer__v1__keys_response__descriptor, keys, NULL, s};
    m[2] = (kt_rpc_method){"/kubetee.signer.v1.Signer/Approve",
                           &kubetee__signer__v1__approve_request__descriptor,
                           &kubetee__signer__v1__approve_response__descriptor, approve, NULL, s};
    m[3] = (kt_rpc_method){"/kubetee.signer.v1.Signer/Log",
                           &kubetee__signer__v1__log_request__descriptor,
                           &kubetee__signer__v1__log_response__descriptor, log_page, NULL, s};
    m[4] = (kt_rpc_method){"/kubetee.signer.v1.Signer/Pending",
                           &kubetee__signer__v1__pending_request__descriptor,
                           &kubetee__signer__v1__pending_response__descriptor, pending, NULL, s};
    return 5;
}

void sg_service_metrics(sg_service *s, kt_buf *out)
{
    char labels[128];
    for (int o = 0; o < SG_OUTCOMES; o++) {
        snprintf(labels, sizeof labels, "outcome=\"%s\"", sg_outcome_names[o]);
        kt_metric(out, "kubetee_signer_requests_total", "counter",
                  o == 0 ? "Sign requests by outcome" : NULL, labels,
                  (double)atomic_load(&s->outcomes[o]));
    }
    for (size_t i = 0; i < s->cfg->nkeys; i++) {
        snprintf(labels, sizeof labels, "key=\"%s\"", s->cfg->keys[i].name);
        kt_metric(out, "kubetee_signer_signatures_total", "counter",
                  i == 0 ? "Signatures made, by key" : NULL, labels,
                  (double)atomic_load(&s->signed_by[i]));
    }
}
