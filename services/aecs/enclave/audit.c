/* The audit log: one JSON line per request and its outcome, made here and hash-chained;
 * at checkpoints a line carries the enclave's signature over its hash, which covers the
 * chain up to it. The host only appends the lines to its file (docs/aecs.md "Audit log").
 * Also who the caller is, which every line names. */
#include "aecs.h"
#include <kubetee/aecs.h>

#include <stdio.h>
#include <string.h>


void ae_peer_label(const kt_session_peer_info *p, const char *prefix, char *out, size_t n)
{
    char hex[129];
    if (p->proof == KT_SESSION_PROOF_QUOTE && p->tee != KT_TEE_SGX) {
        snprintf(out, n, "%std", prefix);
    } else if (p->proof == KT_SESSION_PROOF_QUOTE) { /* everything a secret's rule can judge */
        char signer[65];
        const kt_report_body *e = &p->enclave;
        kt_hex_encode(e->mrenclave, 32, hex, sizeof hex);
        kt_hex_encode(e->mrsigner, 32, signer, sizeof signer);
        snprintf(out, n, "%senclave:%s:%s:%u:%u%s", prefix, hex, signer, (unsigned)e->prodid, (unsigned)e->svn,
                 (e->attr_flags & 2) ? ":debug" : "");
    } else {
        kt_hex_encode(p->public_key, 64, hex, sizeof hex);
        snprintf(out, n, "%s%s:%s", prefix, p->proof == KT_SESSION_PROOF_SM2 ? "sm2" : "p256", hex);
    }
}

kt_status ae_caller_get(ae_caller *c)
{
    kt_status st = ae_caller_untimed(c);
    return st ? st : ae_now(&c->now); /* F10: no request runs on a time AECS refuses */
}

kt_status ae_caller_untimed(ae_caller *c)
{
    memset(c, 0, sizeof *c);
    kt_status st = kt_service_caller(&c->peer, NULL);
    if (st) return st;
    ae_peer_label(&c->peer, "", c->label, sizeof c->label);
    if (c->peer.proof == KT_SESSION_PROOF_QUOTE) return KT_OK;
    c->key = true;
    c->key_type = c->peer.proof == KT_SESSION_PROOF_SM2 ? KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_SM2
                                                         : KUBETEE__AECS__V1__KEY_TYPE__KEY_TYPE_P256;
    memcpy(c->raw, c->peer.public_key, 64);
    return KT_OK;
}

/* JSON string content: printable ASCII but '"' and '\' as itself, the rest \u00XX. */
static kt_status json_text(kt_buf *b, const char *s)
{
    kt_status st = KT_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && !st; p++)
        st = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' ? kt_buf_append(b, p, 1)
                                                                  : kt_buf_printf(b, "\\u%04x", *p);
    return st;
}

static const char *outcome(kt_status st)
{
    switch (st) {
    case KT_OK: return "ok";
    case KT_ERR_DENIED: return "denied";
    case KT_ERR_INVALID_ARGUMENT:
    case KT_ERR_MALFORMED:
    case KT_ERR_TOO_LARGE: return "invalid";
    case KT_ERR_NOT_FOUND: return "not_found";
    case KT_ERR_EXISTS:
    case KT_ERR_STATE: return "conflict";
    case KT_ERR_VERIFY: return "damaged";
    default: return "error";
    }
}

/* Reads may wait for a checkpoint (every AE_AUDIT_EVERY lines or AE_AUDIT_SECONDS); every
 * other operation's line is one, as are Start, Stop and AuditHead's. An allow-list. */
static bool batched(const char *op)
{
    static const char *const reads[] = {"GetSecret", "TaGetSecret", "GetPublic", "ListSecrets", "ListServices",
                                        "ListTaSecrets", "ListTaSigners", "Status", "Sign", "Encrypt", "Decrypt",
                                        "Wrap", "Unwrap", "SignBatch", /* a TA's key uses (use.c) */
                                        "HandshakeRefused", NULL}; /* refusals.c */
    for (size_t i = 0; reads[i]; i++)
        if (!strcmp(op, reads[i])) return true;
    return false;
}

/* hash = SHA-256(prev || body); the line is body + the hash (and, a checkpoint, its signature). */
static kt_status seal_line(const kt_buf *body, const uint8_t prev[32], bool sign, uint8_t hash[32], kt_buf *line)
{
    kt_buf m = {0};
    uint8_t sig[KT_P256_SIG_LEN];
    char hh[65], sh[129];
    kt_status st = kt_buf_append(&m, prev, 32);
    if (!st) st = kt_buf_append(&m, body->data, body->len);
    if (!st) st = kt_sha256(m.data, m.len, hash);
    if (!st && sign) st = kt_identity_sign(hash, 32, sig);
    kt_buf_free(&m);
    if (st) return st;
    kt_hex_encode(hash, 32, hh, sizeof hh);
    if (!(st = kt_buf_append(line, body->data, body->len))) st = kt_buf_printf(line, ",\"hash\":\"%s\"", hh);
    if (!st && sign) {
        kt_hex_encode(sig, 64, sh, sizeof sh);
        st = kt_buf_printf(line, ",\"sig\":\"%s\"", sh);
    }
    if (!st) st = kt_buf_append(line, "}", 2); /* with its NUL */
    return st;
}

void ae_audit(const ae_caller *c, const char *op, const char *target, kt_status result)
{
    ae_audit_count(c, op, target, 0, result);
}

void ae_audit_count(const ae_caller *c, const char *op, const char *target, size_t count, kt_status result)
{
    char reason[512];
    snprintf(reason, sizeof reason, "%s", result ? kt_last_error() : "");
    char prev[65];
    kt_hex_encode(ae.audit_hash, 32, prev, sizeof prev);
    kt_buf body = {0}, line = {0};
    uint8_t hash[32];
    int64_t now = c ? c->now : ae_clock_floor();
    bool sign = !batched(op) || ae.audit_unsigned + 1 >= AE_AUDIT_EVERY || now < ae.audit_signed_at ||
                now - ae.audit_signed_at >= AE_AUDIT_SECONDS;
    kt_status st = kt_buf_printf(&body, "{\"seq\":%llu,\"time\":%lld,\"caller\":\"%s\",\"op\":\"%s\",\"target\":\"",
                                 (unsigned long long)(ae.audit_seq + 1), (long long)now, c ? c->label : "host", op);
    if (!st) st = json_text(&body, target ? target : "");
    if (!st) st = kt_buf_append(&body, "\"", 1);
    if (!st && count) st = kt_buf_printf(&body, ",\"count\":%zu", count);
    if (!st) st = kt_buf_printf(&body, ",\"outcome\":\"%s\",\"reason\":\"", outcome(result));
    if (!st) st = json_text(&body, reason);
    if (!st) st = kt_buf_printf(&body, "\",\"prev\":\"%s\"", prev);
    if (!st) st = seal_line(&body, ae.audit_hash, sign, hash, &line);
    if (!st) {
        Kubetee__Aecs__V1__AuditAppendRequest rq = KUBETEE__AECS__V1__AUDIT_APPEND_REQUEST__INIT;
        Kubetee__Aecs__V1__Done rs = KUBETEE__AECS__V1__DONE__INIT;
        rq.line = (char *)line.data;
        rq.op = (char *)op;
        rq.outcome = (char *)outcome(result);
        /* the chain moves on even when the host does not keep the line: a gap is then
         * what `aecsadmin audit verify` finds */
        kt_ocall("aecs.audit.Append", &rq, &rs);
        ae.audit_seq++;
        memcpy(ae.audit_hash, hash, 32);
        ae.audit_unsigned = sign ? 0 : ae.audit_unsigned + 1;
        if (sign) ae.audit_signed_at = now;
    }
    kt_buf_free(&body);
    kt_buf_free(&line);
    if (result) kt_fail(result, "%s", reason); /* the caller's reason, not ours */
}

void ae_audit_adopt(char **lines, size_t n)
{
    uint8_t pub[64];
    kt_buf text = {0};
    kt_aecs_audit_result r = {0};
    kt_status st = kt_identity_public(pub);
    for (size_t i = 0; i < n && !st; i++)
        if (!(st = kt_buf_append(&text, lines[i], strlen(lines[i])))) st = kt_buf_append(&text, "\n", 1);
    /* the lines that chain on from the sealed checkpoint and a signature covers are
     * adopted; the first that does not chain (the host cut or edited the file) ends them,
     * an unsigned tail (AECS stopped before its next checkpoint) is left behind, and the
     * chain goes on from the last covered line */
    if (!st && text.len) {
        if (kt_aecs_audit_verify(text.data, text.len, pub, ae.audit_seq, ae.audit_hash, NULL, &r))
            kt_log(KT_LOG_WARN, "aecs.audit_tail_refused", "reason", kt_last_error(), NULL);
        ae.audit_seq = r.seq;
        memcpy(ae.audit_hash, r.hash, 32);
    }
    kt_buf_free(&text);
    char a[24], u[24];
    snprintf(a, sizeof a, "%zu", r.lines);
    snprintf(u, sizeof u, "%zu", r.unsigned_tail);
    kt_log(KT_LOG_INFO, "aecs.audit_adopted", "lines", a, "unsigned_left", u, NULL);
}
