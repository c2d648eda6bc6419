/* The settings reader (kubetee/svc.h) over YAML bytes: any bytes are read or refused with
 * a reason, never crash; what is read holds the table's promises (text of one line that
 * fits, numbers in range, an enum one of its words). */
#include <kubetee/svc.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[16], dir[32], mode[8], items[32], cert[32];
    bool on;
    unsigned count, wait_s;
    uint64_t wait_ms;
} conf;

static const char *const modes[] = {"a", "b", NULL};
#define F(m) KT_SET_FIELD(conf, m)
static const kt_setting table[] = {
    {"name", KT_SET_STRING, F(name), "n", ""},
    {"dir", KT_SET_PATH, F(dir), NULL, "", .opts = KT_SET_ABSOLUTE},
    {"on", KT_SET_BOOL, F(on), NULL, ""},
    {"count", KT_SET_UINT, F(count), "1", "", 1, 64},
    {"wait_ms", KT_SET_DURATION, F(wait_ms), NULL, "", 0, 600000},
    {"wait_s", KT_SET_DURATION, F(wait_s), NULL, "", 0, 86400, .unit_ms = 1000},
    {"mode", KT_SET_ENUM, F(mode), "a", "", .words = modes},
    {"items", KT_SET_LIST, F(items), NULL, "", 0, 4},
    {"tls.cert", KT_SET_PATH, F(cert), NULL, ""},
};
#undef F
static const char *const own[] = {"rules", NULL};
static const kt_settings_spec spec = {
    "fuzz", "", "KT_FUZZ_", table, sizeof table / sizeof table[0], own, false};

static void one_line(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap) abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static conf c;
    kt_y *doc = NULL;
    if (kt_settings_parse(&spec, &c, (const char *)data, n, "fuzz.yaml", &doc) != KT_OK) return 0;
    one_line(c.name, sizeof c.name);
    one_line(c.dir, sizeof c.dir);
    one_line(c.items, sizeof c.items);
    one_line(c.cert, sizeof c.cert);
    if ((c.dir[0] && c.dir[0] != '/') || c.count < 1 || c.count > 64 || c.wait_ms > 600000 ||
        c.wait_s > 86400 || (strcmp(c.mode, "a") && strcmp(c.mode, "b")) || !doc)
        abort();
    kt_yaml_free(doc);
    return 0;
}
