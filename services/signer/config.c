/* The signer's configuration: a settings table (where it listens, its TLS files, the
 * token, the log; kubetee/svc.h reads them from the YAML file, the environment KT_SIGNER_*
 * and flags) and two sections of its own in the file: the clients (each one certificate,
 * pinned by subject and issuer) and the keys with their policies. Allow-lists throughout:
 * every mapping's keys are known ones, a key signs the prodids and serves the clients it
 * names and no others. docs/operations.md. */
#include "signer.h"
#include <kubetee/svc.h>

#include <stdio.h>
#include <string.h>

static kt_status bad(const kt_y *at, const char *fmt, const char *what)
{
    return kt_fail(KT_ERR_MALFORMED, "signer config: %s %s (line %zu)", what, fmt,
                   at ? at->line : 0);
}

/* A mapping whose keys are all allowed (NULL-terminated). */
static kt_status known_keys(const kt_y *m, const char *where, const char *const *allowed)
{
    kt_status st = kt_yaml_known_keys(m, allowed, where);
    return st ? kt_fail_context(st, "signer config") : KT_OK;
}

static kt_status want_map(const kt_y *v, const char *what)
{
    return v->kind == KT_Y_MAP ? KT_OK : bad(v, "must be a mapping", what);
}

/* A scalar into out (cap bytes); required when req. Names are escaped when reported. */
static kt_status text(const kt_y *map, const char *key, const char *what, bool req, char *out,
                      size_t cap)
{
    const kt_y *v = kt_yaml_get(map, key);
    if (!v) return req ? bad(map, "is missing", what) : KT_OK;
    if (v->kind != KT_Y_SCALAR) return bad(v, "must be a single value", what);
    size_t n = strlen(v->text);
    if (n == 0 && req) return bad(v, "is empty", what);
    if (n >= cap) return bad(v, "is too long", what);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f)
            return bad(v, "has a control character", what);
    memcpy(out, v->text, n + 1);
    return KT_OK;
}

static kt_status boolean(const kt_y *map, const char *key, const char *what, bool req, bool *out)
{
    const kt_y *v = kt_yaml_get(map, key);
    if (!v) return req ? bad(map, "is missing (true or false)", what) : KT_OK;
    if (v->kind == KT_Y_SCALAR && !v->quoted && !strcmp(v->text, "true"))
        *out = true;
    else if (v->kind == KT_Y_SCALAR && !v->quoted && !strcmp(v->text, "false"))
        *out = false;
    else
        return bad(v, "must be true or false", what);
    return KT_OK;
}

static kt_status name_check(const kt_y *k, const char *what)
{
    size_t n = strlen(k->text);
    if (n == 0 || n > SG_NAME_MAX) return bad(k, "must be 1 to 64 bytes", what);
    for (size_t i = 0; i < n; i++) {
        char ch = k->text[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return bad(k, "may hold only letters, digits, '-', '_' and '.'", what);
    }
    return KT_OK;
}

static kt_status clients(const kt_y *m, sg_config *c)
{
    static const char *const allowed[] = {"subject", "issuer", NULL};
    kt_status st = want_map(m, "clients");
    if (st) return st;
    if (m->count / 2 > SG_MAX_CLIENTS) return bad(m, "are more than 64", "clients");
    for (size_t i = 0; i + 1 < m->count; i += 2) {
        const kt_y *k = m->items[i], *v = m->items[i + 1];
        sg_client *cl = &c->clients[c->nclients];
        if ((st = name_check(k, "a client's name")) || (st = known_keys(v, "a client", allowed)))
            return st;
        snprintf(cl->name, sizeof cl->name, "%s", k->text);
        if ((st = text(v, "subject", "a client's subject", true, cl->subject, SG_DN_MAX)) ||
            (st = text(v, "issuer", "a client's issuer", true, cl->issuer, SG_DN_MAX)))
            return st;
        for (size_t j = 0; j < c->nclients; j++)
            if (!strcmp(c->clients[j].subject, cl->subject) &&
                !strcmp(c->clients[j].issuer, cl->issuer))
                return kt_fail(KT_ERR_MALFORMED,
                               "signer config: clients '%s' and '%s' pin the same certificate "
                               "names (line %zu)",
                               c->clients[j].name, cl->name, k->line);
        c->nclients++;
    }
    return KT_OK;
}

static kt_status prodids(const kt_y *v, sg_key *key)
{
    if (!v) return bad(NULL, "is missing (the ISVPRODIDs it signs)", "a key's prodids");
    if (v->kind != KT_Y_SEQ || v->count == 0)
        return bad(v, "must be a list of one or more numbers", "a key's prodids");
    if (v->count > SG_MAX_PRODIDS) return bad(v, "are more than 64", "a key's prodids");
    for (size_t i = 0; i < v->count; i++) {
        const kt_y *p = v->items[i];
        uint64_t n;
        if (p->kind != KT_Y_SCALAR || kt_decimal_parse(p->text, 65535, &n))
            return bad(p, "must be decimal numbers 0 to 65535", "a key's prodids");
        for (size_t j = 0; j < key->nprodids; j++)
            if (key->prodids[j] == n) return bad(p, "name one prodid twice", "a key's prodids");
        key->prodids[key->nprodids++] = (uint16_t)n;
    }
    return KT_OK;
}

/* A list of client names into a bit set. */
static kt_status client_set(const kt_y *v, const sg_config *c, const char *what, uint64_t *set)
{
    if (!v) return bad(NULL, "is missing", what);
    if (v->kind != KT_Y_SEQ || v->count == 0)
        return bad(v, "must be a list of one or more client names", what);
    for (size_t i = 0; i < v->count; i++) {
        const kt_y *p = v->items[i];
        size_t j = 0;
        if (p->kind == KT_Y_SCALAR)
            while (j < c->nclients && strcmp(c->clients[j].name, p->text))
                j++;
        if (p->kind != KT_Y_SCALAR || j == c->nclients)
            return bad(p, "names a client the clients section does not define", what);
        if (*set & (1ull << j)) return bad(p, "name one client twice", what);
        *set |= 1ull << j;
    }
    return KT_OK;
}

/* approvals: {required: M, approvers: [N names]}, 1 <= M <= N. */
static kt_status approvals(const kt_y *v, const sg_config *c, sg_key *key)
{
    static const char *const allowed[] = {"required", "approvers", NULL};
    if (!v) return KT_OK;
    kt_status st = known_keys(v, "a key's approvals", allowed);
    if (!st) st = client_set(kt_yaml_get(v, "approvers"), c, "a key's approvers", &key->approvers);
    const kt_y *m = kt_yaml_get(v, "required");
    uint64_t n;
    if (!st && (!m || m->kind != KT_Y_SCALAR || kt_decimal_parse(m->text, 64, &n) || n == 0 ||
                n > (uint64_t)__builtin_popcountll(key->approvers)))
        st = bad(m ? m : v, "must be a number from 1 to the number of approvers",
                 "a key's approvals.required");
    if (!st) key->approvals = (unsigned)n;
    return st;
}

static kt_status key_clients(const kt_y *v, const sg_config *c, sg_key *key)
{
    if (!v) return bad(NULL, "is missing (the clients that may use it)", "a key's clients");
    return client_set(v, c, "a key's clients", &key->clients);
}

static kt_status keys(const kt_y *m, sg_config *c)
{
    static const char *const allowed[] = {"label",   "production", "debug",        "prodids",
                                          "clients", "approvals",  "reproducible", NULL};
    kt_status st = want_map(m, "keys");
    if (st) return st;
    if (m->count == 0) return bad(m, "must hold at least one key", "keys");
    if (m->count / 2 > SG_MAX_KEYS) return bad(m, "are more than 64", "keys");
    for (size_t i = 0; i + 1 < m->count; i += 2) {
        const kt_y *k = m->items[i], *v = m->items[i + 1];
        sg_key *key = &c->keys[c->nkeys];
        if ((st = name_check(k, "a key's name")) || (st = known_keys(v, "a key", allowed)))
            return st;
        snprintf(key->name, sizeof key->name, "%s", k->text);
        snprintf(key->label, sizeof key->label, "%s", k->text);
        if ((st = text(v, "label", "a key's label", false, key->label, sizeof key->label)))
            return st;
        if (kt_p11_label_check(key->label))
            return kt_fail_context(KT_ERR_MALFORMED, "signer config: key '%s' (line %zu)",
                                   key->name, k->line);
        if ((st = boolean(v, "production", "a key's production", true, &key->production)) ||
            (st = boolean(v, "debug", "a key's debug", false, &key->debug)) ||
            (st = boolean(v, "reproducible", "a key's reproducible", false, &key->reproducible)))
            return st;
        if (key->production && key->debug)
            return kt_fail(KT_ERR_MALFORMED,
                           "signer config: key '%s' is a production key and "
                           "may not sign debug enclaves (line %zu)",
                           key->name, k->line);
        if ((st = prodids(kt_yaml_get(v, "prodids"), key)) ||
            (st = key_clients(kt_yaml_get(v, "clients"), c, key)) ||
            (st = approvals(kt_yaml_get(v, "approvals"), c, key)))
            return kt_fail_context(st, "key '%s'", key->name);
        for (size_t j = 0; j < c->nkeys; j++)
            if (!strcmp(c->keys[j].label, key->label))
                return kt_fail(KT_ERR_MALFORMED,
                               "signer config: keys '%s' and '%s' are one "
                               "token key '%s' (line %zu)",
                               c->keys[j].name, key->name, key->label, k->line);
        c->nkeys++;
    }
    return KT_OK;
}

static const char *const formats[] = {"kv", "json", NULL};

#define F(m) KT_SET_FIELD(sg_config, m)
static const kt_setting table[] = {
    {"listen", KT_SET_STRING, F(listen), NULL, "gRPC address, host:port (port 0 picks one)"},
    {"http", KT_SET_STRING, F(http), NULL, "/healthz /readyz /metrics address (empty: off)"},
    {"state", KT_SET_PATH, F(state), NULL, "file of the highest ISVSVN signed per key and prodid",
     .opts = KT_SET_REQUIRED},
    {"approvals", KT_SET_PATH, F(approvals), NULL,
     "file of pending approvals (default: state's path + .approvals)"},
    {"log_format", KT_SET_ENUM, F(log_format), "kv", "log lines", .words = formats},
    {"rpc_limits", KT_SET_STRING, F(rpc_limits), NULL,
     "gRPC limits, name=value,... (docs/operations.md)"},
    {"max_enclave_mib", KT_SET_UINT, F(max_enclave_mib), "1024",
     "largest enclave the build check measures, MiB", 1, 1u << 20},
    {"tls.cert", KT_SET_PATH, F(tls_cert), NULL, "mutual TLS: the server's certificate chain (PEM)",
     .opts = KT_SET_REQUIRED},
    {"tls.key", KT_SET_PATH, F(tls_key), NULL, "its private key (PEM)", .opts = KT_SET_REQUIRED},
    {"tls.client_ca", KT_SET_PATH, F(tls_client_ca), NULL, "the clients' CA (PEM)",
     .opts = KT_SET_REQUIRED},
    {"token.module", KT_SET_PATH, F(module), NULL, "the PKCS#11 module", .opts = KT_SET_REQUIRED},
    {"token.label", KT_SET_STRING, F(token), NULL, "the token's label", .opts = KT_SET_REQUIRED},
    {"token.pin_file", KT_SET_PATH, F(pin_file), NULL,
     "file of the token's PIN (or pin_env; never the PIN itself)"},
    {"token.pin_env", KT_SET_STRING, F(pin_env), NULL, "environment variable of the token's PIN",
     .opts = KT_SET_ENV_NAME},
    {"log.path", KT_SET_PATH, F(log_path), NULL, "the transparency log", .opts = KT_SET_REQUIRED},
    {"log.head", KT_SET_PATH, F(log_head), NULL, "its signed head", .opts = KT_SET_REQUIRED},
    {"log.key", KT_SET_PATH, F(log_key), NULL, "the key that signs the head",
     .opts = KT_SET_REQUIRED},
    {"key", KT_SET_STRING, F(key), NULL, "keygen: the configured key to make", .env = "",
     .opts = KT_SET_NO_FILE},
};
#undef F

static const char *const own_sections[] = {"clients", "keys", NULL};
static const kt_settings_spec spec = {
    .prog = "kubetee-signer",
    .usage = "usage: kubetee-signer [serve|keygen|keys] --config signer.yaml [options]\n"
             "  keygen --key NAME   make the configured key NAME in the token\n"
             "  keys                list the configured keys as the token holds them\n"
             "The clients and keys sections are the file's alone; the PIN is only read from the\n"
             "file or variable token.pin_file or token.pin_env names.\n",
    .env_prefix = "KT_SIGNER_",
    KT_SET_TABLE(table),
    .sections = own_sections,
    .config_required = true,
};

/* The file's own sections and what follows from the settings. */
static kt_status sections(const kt_y *root, sg_config *c)
{
    kt_status st = KT_OK;
    if (!c->approvals[0] && (size_t)snprintf(c->approvals, sizeof c->approvals, "%s.approvals",
                                             c->state) >= sizeof c->approvals)
        st = bad(root, "is too long to name the approvals file beside it (give approvals:)",
                 "state");
    c->max_enclave_size = (uint64_t)c->max_enclave_mib << 20;
    if (!st && !c->pin_file[0] == !c->pin_env[0])
        st = kt_fail(KT_ERR_MALFORMED, "signer config: token must give exactly one of pin_file and "
                                       "pin_env (never the PIN itself)");
    const kt_y *cl = kt_yaml_get(root, "clients"), *ks = kt_yaml_get(root, "keys");
    if (!st && !cl) st = bad(root, "is missing", "clients");
    if (!st) st = clients(cl, c);
    if (!st && !ks) st = bad(root, "is missing", "keys");
    if (!st) st = keys(ks, c);
    return st;
}

kt_status sg_config_parse(const char *text_, size_t n, sg_config *c)
{
    if (!c || (n && !text_)) return kt_fail(KT_ERR_INVALID_ARGUMENT, "signer config: NULL");
    memset(c, 0, sizeof *c);
    kt_y *root = NULL;
    kt_status st = kt_settings_parse(&spec, c, text_, n, "signer config", &root);
    if (!st) st = sections(root, c);
    kt_yaml_free(root);
    return st;
}

kt_status sg_config_load(int argc, char **argv, sg_config *c, bool *help)
{
    memset(c, 0, sizeof *c);
    kt_y *root = NULL;
    kt_status st = kt_settings_load(&spec, c, argc, argv, help, &root);
    if (!st && !*help) st = sections(root, c);
    kt_yaml_free(root);
    return st;
}

void sg_config_usage(FILE *f)
{
    kt_settings_usage(&spec, f);
}

void sg_config_log(const sg_config *c)
{
    kt_settings_log(&spec, c, "signer.settings");
}

const sg_key *sg_config_key(const sg_config *c, const char *name)
{
    for (size_t i = 0; name && i < c->nkeys; i++)
        if (!strcmp(c->keys[i].name, name)) return &c->keys[i];
    return NULL;
}

int sg_config_client(const sg_config *c, const char *subject, const char *issuer)
{
    for (size_t i = 0; i < c->nclients; i++)
        if (!strcmp(c->clients[i].subject, subject) && !strcmp(c->clients[i].issuer, issuer))
            return (int)i;
    return -1;
}
