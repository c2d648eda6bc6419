/* kubetee-serve's YAML configuration: one mapping of single-line values, and a tls
 * mapping of three file names. An allow-list of keys; each key once (the YAML reader
 * refuses repeats and anchors). docs/operations.md. */
#include "serve.h"
#include <kubetee/yaml.h>

#include <string.h>

typedef struct {
    const char *key;
    size_t off, cap;
} field;

#define F(k, m) {k, offsetof(sv_config, m), sizeof(((sv_config *)0)->m)}
static const field top[] = {F("enclave", enclave),   F("listen", listen),         F("http", http),
                            F("sim_dir", sim_dir),   F("expect_mrsigner", expect_mrsigner),
                            F("limits", limits),     F("rpc_limits", rpc_limits), F("log_format", log_format),
                            F("drain_ms", drain_ms), F("collateral", collateral),
                            F("collateral_root", collateral_root), F("collateral_cache", collateral_cache),
                            {"tls", 0, 0}};
static const field tls[] = {F("cert", tls_cert), F("key", tls_key), F("client_ca", tls_client_ca)};
#undef F

static kt_status scalar(const kt_y *v, const char *key, char *out, size_t cap)
{
    if (v->kind != KT_Y_SCALAR)
        return kt_fail(KT_ERR_MALFORMED, "serve config: %s must be a single value (line %zu)", key, v->line);
    size_t n = strlen(v->text);
    if (n >= cap) return kt_fail(KT_ERR_MALFORMED, "serve config: %s is longer than %zu bytes (line %zu)", key, cap - 1, v->line);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f)
            return kt_fail(KT_ERR_MALFORMED, "serve config: %s has a control character (line %zu)", key, v->line);
    memcpy(out, v->text, n + 1);
    return KT_OK;
}

static kt_status mapping(const kt_y *m, const char *where, const field *f, size_t nf, sv_config *c)
{
    if (m->kind != KT_Y_MAP) return kt_fail(KT_ERR_MALFORMED, "serve config: %s must be a mapping (line %zu)", where, m->line);
    for (size_t i = 0; i + 1 < m->count; i += 2) {
        const kt_y *k = m->items[i], *v = m->items[i + 1];
        size_t j = 0;
        while (j < nf && strcmp(f[j].key, k->text)) j++;
        if (j == nf) {
            char e[96];
            return kt_fail(KT_ERR_MALFORMED, "serve config: unknown key '%s' in %s (line %zu)",
                           kt_escape(k->text, strlen(k->text), e, sizeof e), where, k->line);
        }
        kt_status st = f[j].cap ? scalar(v, f[j].key, (char *)c + f[j].off, f[j].cap)
                                : mapping(v, "tls", tls, sizeof tls / sizeof tls[0], c);
        if (st) return st;
    }
    return KT_OK;
}

kt_status sv_config_parse(const char *text, size_t n, sv_config *c)
{
    if (!c || (n && !text)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve config: NULL");
    kt_y *root = NULL;
    kt_status st = kt_yaml_parse(text, n, &root);
    if (st) return kt_fail_context(st, "serve config");
    if (!root) return kt_fail(KT_ERR_MALFORMED, "serve config: the document is empty");
    st = mapping(root, "the document", top, sizeof top / sizeof top[0], c);
    kt_yaml_free(root);
    return st;
}

kt_status sv_config_check(const sv_config *c)
{
    if (!c->enclave[0]) return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: no enclave (enclave:, KT_SERVE_ENCLAVE or --enclave)");
    if (!c->listen[0]) return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: no listen address (listen:, KT_SERVE_LISTEN or --listen)");
    if (c->log_format[0] && strcmp(c->log_format, "kv") && strcmp(c->log_format, "json"))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: log_format must be kv or json");
    uint64_t v;
    if (c->drain_ms[0] && (kt_decimal_parse(c->drain_ms, 600000, &v) || !v))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: drain_ms must be a number of ms from 1 to 600000");
    uint8_t mrs[32];
    if (c->expect_mrsigner[0] && kt_hex_decode(c->expect_mrsigner, mrs, sizeof mrs))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: expect_mrsigner must be 64 hex digits");
    bool url = !strncmp(c->collateral, "http://", 7) || !strncmp(c->collateral, "https://", 8);
    if (url && (!c->collateral_root[0] || !c->collateral_cache[0]))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: a collateral URL needs collateral_root and collateral_cache");
    if (!c->tls_cert[0] != !c->tls_key[0] || (c->tls_client_ca[0] && !c->tls_cert[0]))
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "serve: tls needs cert and key together (client_ca only with them)");
    return KT_OK;
}
