/* The fs store's decoders of bytes from disk: an object file (0x00), the revision file
 * (0x01) or an object file name (0x02) decode or are refused, never crash; what decodes
 * encodes back to the same bytes (so two files never decode to one object, and the
 * name mapping is one to one). */
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
    }
    return 0;
}
