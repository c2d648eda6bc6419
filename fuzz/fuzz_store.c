/* The fs store's decoders of bytes from disk: an object file (0x00), the revision file
 * (0x01) or an object file name (0x02) decode or are refused, never crash; what decodes
 * encodes back to the same bytes (so two files never decode to one object, and the
 * name mapping is one to one). And etcd store URLs (0x03): parsed or refused, never a
 * crash; what parses has one canonical form, which parses to the same endpoints. */
#include "../src/store/backend.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const uint8_t *p = data + 1;
    size_t m = n - 1;
    if (data[0] == 0) {
        kt_store_obj_view v;
        if (kt_store_obj_decode(p, m, &v) == KT_OK) {
            kt_buf back = {0};
            if (kt_store_obj_encode(v.key, v.version, v.create_revision, v.mod_revision, v.value,
                                    v.value_len, &back) ||
                back.len != m || memcmp(back.data, p, m))
                abort();
            kt_buf_free(&back);
        }
    } else if (data[0] == 1) {
        uint64_t rev;
        if (kt_store_rev_decode(p, m, &rev) == KT_OK) {
            uint8_t back[KT_STORE_REV_LEN];
            kt_store_rev_encode(rev, back);
            if (memcmp(back, p, sizeof back)) abort();
        }
    } else if (data[0] == 2 && m <= 255) {
        char name[256], key[KT_STORE_KEY_MAX + 1], again[KT_STORE_FS_NAME_MAX + 1];
        memcpy(name, p, m);
        name[m] = '\0';
        if (kt_store_fs_key(name, key) == KT_OK) {
            if (kt_store_fs_name(key, again) || strcmp(again, name)) abort();
        }
    } else if (data[0] == 3 && m <= 4096) {
        char *url = malloc(m + 1), canon[4096], again[4096];
        if (!url) return 0;
        memcpy(url, p, m);
        url[m] = '\0';
        kt_etcd_url u, v;
        if (kt_store_etcd_url_parse(url, &u) == KT_OK) {
            if (u.n == 0 || u.n > KT_ETCD_ENDPOINTS_MAX) abort();
            size_t len = kt_store_etcd_url_format(&u, canon, sizeof canon);
            if (len >= sizeof canon || kt_store_etcd_url_parse(canon, &v) != KT_OK || v.n != u.n ||
                strcmp(v.ns, u.ns))
                abort();
            for (size_t i = 0; i < u.n; i++)
                if (strcmp(u.ep[i].host, v.ep[i].host) || u.ep[i].port != v.ep[i].port ||
                    u.ep[i].loopback != v.ep[i].loopback)
                    abort();
            kt_store_etcd_url_format(&v, again, sizeof again);
            if (strcmp(canon, again)) abort();
        }
        free(url);
    }
    return 0;
}
