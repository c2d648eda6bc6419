/* Fuzz target: the collateral proxy's untrusted inputs: request targets (selector 0),
 * item keys (1), stored or exported records (2), platform registration bodies (3),
 * Intel PCS's pckcerts answers (4) and PUT /platformcollateral bodies (5). */
#include "collateral.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    uint8_t sel = data[0];
    data++, n--;
    kt_coll_query q;
    if (sel == 0) {
        if (kt_coll_query_parse((const char *)data, n, &q) == KT_OK) {
            /* what parses names an item whose key parses back to the same item (lists,
             * fmspcs and pckcerts, are keyed for logs only) */
            kt_coll_query back;
            if (q.route == KT_COLL_ITEM &&
                (kt_coll_key_parse(q.key, &back) || strcmp(back.key, q.key) ||
                 memcmp(&back.id, &q.id, sizeof q.id)))
                abort();
            char path[1200];
            kt_coll_upstream_path(&q, false, path, sizeof path);
            kt_coll_upstream_path(&q, true, path, sizeof path);
        }
    } else if (sel == 1) {
        char key[KT_COLL_KEY_MAX + 8];
        size_t k = n < sizeof key - 1 ? n : sizeof key - 1;
        memcpy(key, data, k);
        key[k] = '\0';
        kt_coll_key_parse(key, &q);
    } else if (sel == 2) {
        const uint8_t *d = data;
        size_t left = n;
        kt_coll_record r;
        while (left && kt_coll_record_next(&d, &left, &r) == KT_OK)
            if (r.chain + r.chain_len != r.body || r.body + r.body_len > data + n) abort();
    } else if (sel == 3) {
        kt_coll_platform pl;
        if (kt_coll_platform_parse(data, n, n & 1, &pl) == KT_OK) {
            /* an encrypted PPID of its exact length, or a platform manifest in its stead */
            if (strlen(pl.ppid) != KT_COLL_PPID_HEX && !(pl.ppid[0] == 0 && pl.manifest.len))
                abort();
            kt_buf out = {0}; /* what GET /platforms lists parses back to the same */
            kt_coll_platform back;
            if (kt_coll_platform_json(&pl, &out) ||
                kt_coll_platform_parse(out.data, out.len, true, &back) ||
                memcmp(back.qeid, pl.qeid, 16) || strcmp(back.ppid, pl.ppid) ||
                back.manifest.len != pl.manifest.len)
                abort();
            kt_coll_platform_clear(&back);
            kt_buf_free(&out);
            kt_coll_platform_clear(&pl);
        }
    } else if (sel == 4) {
        kt_coll_pckcert *certs;
        size_t count;
        if (kt_coll_pckcerts_parse(data, n, &certs, &count) == KT_OK) {
            if (!count) abort();
            kt_coll_pckcerts_free(certs, count);
        }
    } else if (sel == 5) {
        kt_coll_put put;
        if (kt_coll_put_parse(data, n, n & 1 ? 3 : 4, &put) == KT_OK) {
            /* every item it carries is named by a key that parses back to it */
            for (size_t i = 0; i < put.item_count; i++) {
                kt_coll_query back;
                if (kt_coll_key_parse(put.items[i].q.key, &back) ||
                    put.items[i].q.route != KT_COLL_ITEM)
                    abort();
            }
            kt_coll_put_free(&put);
        }
    }
    return 0;
}
