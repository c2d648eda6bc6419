/* The AECS admin kubeconfig: `kind: Config`, administrator{name, identityKey},
 * aecsServer{serverEndpoint, verifyPolicy} and ours beside them (identityKeyFile,
 * aecsServer.instance: the AECS instance key the tools pin). The identity key is decoded into a kt_key and
 * every copy of its bytes wiped; no message ever quotes it. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)

/* A private key from PEM bytes: P-256 or SM2, with its private half. */
static kt_status identity_from_pem(const kt_buf *pem, const char *what, size_t line, kt_key **out)
{
    kt_key *k = NULL;
    if (kt_key_from_pem((const char *)pem->data, pem->len, &k))
        return kt_fail(KT_ERR_MALFORMED,
                       "administrator: %s is not a PEM key kubetee reads (an ECDSA P-256 or SM2 "
                       "private key) (line %zu)",
                       what, line);
    kt_status st = KT_OK;
    if (!kt_key_has_private(k))
        st = kt_fail(KT_ERR_MALFORMED,
                     "administrator: %s is a public key; the admin signs with its private key "
                     "(line %zu)",
                     what, line);
    else if (kt_key_type_of(k) != KT_KEY_P256 && kt_key_type_of(k) != KT_KEY_SM2)
        st = kt_fail(KT_ERR_UNSUPPORTED,
                     "administrator: %s must be an ECDSA P-256 or SM2 key (line %zu)", what, line);
    if (st) {
        kt_key_free(k);
        return st;
    }
    *out = k;
    return KT_OK;
}

/* identityKey: inline PEM, or (the original's form) base64 of the PEM. */
static kt_status inline_key(const kt_y *v, kt_key **out)
{
    kt_status st = af_scalar(v, "administrator", "identityKey");
    if (st) return st;
    kt_buf pem = {0};
    size_t n = strlen(v->text);
    if (!strncmp(v->text, "-----BEGIN ", 11))
        st = kt_buf_append(&pem, v->text, n);
    else if (kt_base64_decode_any(v->text, n, &pem))
        st = kt_fail(KT_ERR_MALFORMED,
                     "administrator: identityKey is neither a PEM key nor base64 of one (line %zu)",
                     v->line);
    if (!st) st = identity_from_pem(&pem, "identityKey", v->line, out);
    kt_buf_free(&pem);
    return st;
}

/* identityKeyFile: a PEM file only its owner may read (as ssh insists for its keys). */
static kt_status file_key(const kt_y *v, const char *base_dir, kt_key **out)
{
    kt_status st = af_scalar(v, "administrator", "identityKeyFile");
    if (st) return st;
    char path[4096], e[128];
    if (!v->text[0])
        return kt_fail(KT_ERR_MALFORMED, "administrator: identityKeyFile is empty (line %zu)",
                       v->line);
    int len = v->text[0] == '/' || !base_dir
                  ? snprintf(path, sizeof path, "%s", v->text)
                  : snprintf(path, sizeof path, "%s/%s", base_dir, v->text);
    if (len < 0 || (size_t)len >= sizeof path)
        return kt_fail(KT_ERR_TOO_LARGE,
                       "administrator: identityKeyFile path is too long (line %zu)", v->line);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0) close(fd);
        return kt_fail(KT_ERR_NOT_FOUND,
                       "administrator: identityKeyFile %s cannot be opened (line %zu)",
                       af_esc(path, e, sizeof e), v->line);
    }
    close(fd);
    if (!S_ISREG(sb.st_mode))
        return kt_fail(KT_ERR_MALFORMED,
                       "administrator: identityKeyFile %s is not a regular file (line %zu)",
                       af_esc(path, e, sizeof e), v->line);
    if (sb.st_mode & 077)
        return kt_fail(KT_ERR_DENIED,
                       "administrator: identityKeyFile %s may be read by others (mode %04o); "
                       "chmod 600 it (line %zu)",
                       af_esc(path, e, sizeof e), (unsigned)(sb.st_mode & 07777), v->line);
    kt_buf pem = {0};
    st = kt_file_read(path, KEY_FILE_MAX, &pem);
    if (st)
        st = kt_fail(st, "administrator: identityKeyFile %s cannot be read (line %zu)",
                     af_esc(path, e, sizeof e), v->line);
    else
        st = identity_from_pem(&pem, "identityKeyFile", v->line, out);
    kt_buf_free(&pem);
    return st;
}

static kt_status parse_admin(const kt_y *a, const char *base_dir, kt_aecs_admin_config *c)
{
    static const char *const keys[] = {"name", "identityKey", "identityKeyFile", NULL};
    kt_status st = af_keys(a, "administrator", keys);
    if (st) return st;
    const kt_y *name = kt_yaml_get(a, "name"), *key = kt_yaml_get(a, "identityKey"),
               *file = kt_yaml_get(a, "identityKeyFile");
    if (!name) return kt_fail(KT_ERR_MALFORMED, "administrator: no name (line %zu)", a->line);
    if ((st = af_scalar(name, "administrator", "name"))) return st;
    if (kt_aecs_name_check(KT_AECS_NAME_ADMIN, name->text, strlen(name->text))) {
        char e[80];
        return kt_fail_context(KT_ERR_MALFORMED, "administrator: name '%s' (line %zu)",
                               af_esc(name->text, e, sizeof e), name->line);
    }
    if ((st = af_string(name, "administrator", "name", c->admin_name, sizeof c->admin_name)))
        return st;
    if (key && file)
        return kt_fail(KT_ERR_MALFORMED,
                       "administrator: identityKey and identityKeyFile are one setting; give only "
                       "one (lines %zu and %zu)",
                       key->line, file->line);
    if (!key && !file)
        return kt_fail(
            KT_ERR_MALFORMED,
            "administrator: no identityKey (base64 or PEM) or identityKeyFile (line %zu)", a->line);
    return key ? inline_key(key, &c->identity) : file_key(file, base_dir, &c->identity);
}

static bool host_byte(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-';
}

static bool v6_byte(char ch)
{
    return (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || (ch >= '0' && ch <= '9') ||
           ch == ':' || ch == '.';
}

/* host:port, a DNS name or IPv4 address, or [IPv6]:port; port 1..65535 in decimal. */
static kt_status parse_endpoint(const kt_y *v, kt_aecs_admin_config *c)
{
    kt_status st = af_string(v, "aecsServer", "serverEndpoint", c->endpoint, sizeof c->endpoint);
    if (st) return st;
    const char *t = c->endpoint, *colon = strrchr(t, ':');
    char e[300];
    bool ok = colon && colon > t;
    if (ok && t[0] == '[') {
        ok = colon[-1] == ']' && colon - t > 2;
        for (const char *p = t + 1; ok && p < colon - 1; p++)
            ok = v6_byte(*p);
    } else {
        for (const char *p = t; ok && p < colon; p++)
            ok = host_byte(*p);
        ok = ok && colon - t <= 253;
    }
    uint64_t port = 0;
    if (ok && (kt_decimal_parse(colon + 1, 65535, &port) || port == 0)) ok = false;
    if (!ok)
        return kt_fail(KT_ERR_MALFORMED,
                       "aecsServer: serverEndpoint '%s' is not host:port (a DNS name, IPv4 or "
                       "[IPv6] address, and a port 1..65535) (line %zu)",
                       af_esc(t, e, sizeof e), v->line);
    return KT_OK;
}

/* verifyPolicy: kubetee's policy (it has rules or enclaveMatchAnyRules), or the
 * original's one rule (mrenclave, mrsigner, prodid, min_svn, spid, user_data). */
static kt_status parse_verify(const kt_y *v, kt_aecs_admin_config *c)
{
    if (v->kind != KT_Y_MAP)
        return kt_fail(KT_ERR_MALFORMED, "aecsServer: verifyPolicy must be a mapping (line %zu)",
                       v->line);
    kt_policy_options o = {.ignore_spid = true};
    bool ours = kt_yaml_get(v, "rules") || kt_yaml_get(v, "enclaveMatchAnyRules");
    const kt_y *spid = kt_yaml_get(v, "spid");
    kt_status st = ours ? kt_policy_from_tree(v, &o, &c->verify)
                        : kt_policy_from_rules_tree(v, &o, &c->verify);
    if (st) return kt_fail_context(st, "aecsServer: verifyPolicy (line %zu)", v->line);
    if (!ours && spid && spid->kind == KT_Y_SCALAR && spid->text[0])
        return af_note(&c->notes, spid->line,
                       "aecsServer.verifyPolicy: spid is ignored: it is for EPID attestation, "
                       "which is gone (DCAP quotes carry no SPID)");
    return KT_OK;
}

/* instance: the AECS instance key (x||y) as 128 hex digits, as aecsadmin init prints it. */
static kt_status parse_instance(const kt_y *v, kt_aecs_admin_config *c)
{
    kt_status st = af_scalar(v, "aecsServer", "instance");
    if (st) return st;
    size_t n = strlen(v->text), bad = 0;
    while (bad < n && ((v->text[bad] >= '0' && v->text[bad] <= '9') || ((v->text[bad] | 0x20) >= 'a' &&
                                                                       (v->text[bad] | 0x20) <= 'f')))
        bad++;
    if (bad < n) {
        char e[8];
        return kt_fail(KT_ERR_MALFORMED,
                       "aecsServer: instance is not hex: character %zu is '%s' (the AECS instance key as 128 hex "
                       "digits, as aecsadmin init prints it) (line %zu)",
                       bad + 1, kt_escape(v->text + bad, 1, e, sizeof e), v->line);
    }
    if (n != 2 * sizeof c->instance)
        return kt_fail(KT_ERR_MALFORMED,
                       "aecsServer: instance is %zu hex digits; the AECS instance key is 128 (x||y, as aecsadmin "
                       "init prints it) (line %zu)",
                       n, v->line);
    if (kt_hex_decode(v->text, c->instance, sizeof c->instance))
        return kt_fail(KT_ERR_MALFORMED, "aecsServer: instance is not hex (line %zu)", v->line);
    c->has_instance = true;
    return KT_OK;
}

static kt_status parse_server(const kt_y *s, kt_aecs_admin_config *c)
{
    static const char *const keys[] = {"serverEndpoint",
                                       "verifyPolicy",
                                       "instance",
                                       "clientRpcSecure",
                                       "clientKey",
                                       "clientCert",
                                       "clientCA",
                                       NULL};
    kt_status st = af_keys(s, "aecsServer", keys);
    if (st) return st;
    const kt_y *ep = kt_yaml_get(s, "serverEndpoint"), *vp = kt_yaml_get(s, "verifyPolicy");
    if (!ep) return kt_fail(KT_ERR_MALFORMED, "aecsServer: no serverEndpoint (line %zu)", s->line);
    if ((st = parse_endpoint(ep, c))) return st;
    if (!vp)
        return kt_fail(KT_ERR_MALFORMED,
                       "aecsServer: no verifyPolicy: say which AECS enclave to trust (line %zu)",
                       s->line);
    if ((st = parse_verify(vp, c))) return st;
    const kt_y *inst = kt_yaml_get(s, "instance");
    if (inst && (st = parse_instance(inst, c))) return st;
    /* the original's TLS settings: kubetee's attested session authenticates the AECS
     * enclave by its quote and the admin by identityKey, so they have nothing to do */
    for (size_t i = 0; i < s->count; i += 2) {
        const char *k = s->items[i]->text;
        if (strncmp(k, "client", 6)) continue;
        if ((st = af_scalar(s->items[i + 1], "aecsServer", k))) return st;
        if ((st = af_note(&c->notes, s->items[i]->line,
                          "aecsServer.%s is ignored: the attested session authenticates the "
                          "AECS enclave by its quote and the admin by identityKey",
                          k)))
            return st;
    }
    return KT_OK;
}

static kt_status parse_doc(const kt_y *doc, const char *base_dir, kt_aecs_admin_config *c)
{
    static const char *const top[] = {"apiVersion", "kind", "administrator", "aecsServer", NULL};
    kt_status st = af_envelope(doc, "Config", top);
    if (st) return st;
    const kt_y *admin = kt_yaml_get(doc, "administrator"), *server = kt_yaml_get(doc, "aecsServer");
    if (!admin) return kt_fail(KT_ERR_MALFORMED, "Config: no administrator");
    if (!server) return kt_fail(KT_ERR_MALFORMED, "Config: no aecsServer");
    if ((st = parse_admin(admin, base_dir, c))) return st;
    return parse_server(server, c);
}

kt_status kt_aecs_admin_config_parse(const char *text, size_t n, const char *base_dir,
                                     kt_aecs_admin_config *out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "Config: NULL argument");
    memset(out, 0, sizeof *out);
    if (n > AF_MAX_FILE) return kt_fail(KT_ERR_TOO_LARGE, "Config: file over 1 MiB");
    kt_y *doc;
    kt_status st = kt_yaml_parse(text, n, &doc);
    if (st) return kt_fail_context(st, "Config");
    st = parse_doc(doc, base_dir, out);
    /* the tree held the inline key's text */
    kt_y *node = kt_yaml_get(kt_yaml_get(doc, "administrator"), "identityKey");
    if (node && node->kind == KT_Y_SCALAR) kt_wipe(node->text, strlen(node->text));
    kt_yaml_free(doc);
    if (st) kt_aecs_admin_config_free(out);
    return st;
}

kt_status kt_aecs_admin_config_load(const char *path, kt_aecs_admin_config *out)
{
    if (!path || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "Config: NULL argument");
    memset(out, 0, sizeof *out);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    kt_buf b = {0};
    kt_status st = kt_file_read(path, AF_MAX_FILE, &b);
    if (!st) st = kt_aecs_admin_config_parse((const char *)b.data, b.len, dir, out);
    kt_buf_free(&b); /* wipes the file's bytes, the inline key among them */
    return st ? kt_fail_context(st, "%s", path) : KT_OK;
}

void kt_aecs_admin_config_free(kt_aecs_admin_config *c)
{
    if (!c) return;
    kt_key_free(c->identity);
    kt_policy_free(c->verify);
    kt_buf_free(&c->notes);
    memset(c, 0, sizeof *c);
}
