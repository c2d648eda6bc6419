/* The transparency log's readers: an entry line (0x00), a head (0x01) or a whole log
 * with a head (0x02, split at the first 0xff) parse or are refused, never crash; an entry
 * that parses is written back byte for byte. */
#include <kubetee/tlog.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static kt_key *pub;
    if (!pub) {
        kt_key *k;
        uint8_t raw[64];
        size_t rl;
        if (kt_key_generate(KT_KEY_P256, &k) || kt_key_public_raw(k, raw, sizeof raw, &rl) ||
            kt_key_from_public_raw(KT_KEY_P256, raw, rl, &pub))
            abort();
        kt_key_free(k);
    }
    if (n < 1) return 0;
    const uint8_t *p = data + 1;
    size_t m = n - 1;
    if (data[0] == 0) {
        kt_tlog_entry e;
        if (kt_tlog_entry_parse((const char *)p, m, &e) == KT_OK) {
            kt_buf line = {0};
            if (kt_tlog_entry_format(&e, &line) || line.len != m + 1 || memcmp(line.data, p, m))
                abort();
            kt_buf_free(&line);
        }
    } else if (data[0] == 1) {
        kt_tlog_head h;
        kt_tlog_head_parse(p, m, pub, &h);
    } else {
        const uint8_t *split = memchr(p, 0xff, m);
        size_t ln = split ? (size_t)(split - p) : m;
        kt_tlog_verify(p, ln, split ? split + 1 : p, split ? m - ln - 1 : 0, pub, NULL, NULL, NULL);
    }
    return 0;
}
