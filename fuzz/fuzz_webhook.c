/* Fuzz target: what kube-apiserver sends sgx-webhook. First byte: bit 0 chooses AESM as a
 * resource rather than a volume; the rest is the request body. Whatever comes in, a 200
 * answer must be an AdmissionReview v1 that echoes a uid and, when it carries a patch,
 * a base64 JSON array of "add" operations. */
#include "review.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    wh_config c;
    wh_config_defaults(&c);
    c.aesm_resource = data[0] & 1;
    c.max_body = 1 << 16;
    kt_buf out = {0};
    wh_result r;
    unsigned code = wh_review(&c, data + 1, n - 1, &out, &r);
    if (code == 200) {
        json_t *a = json_loadb((char *)out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
        json_t *resp = json_object_get(a, "response");
        const char *uid = json_string_value(json_object_get(resp, "uid"));
        if (!uid || strcmp(uid, r.uid)) abort();
        const char *patch = json_string_value(json_object_get(resp, "patch"));
        if (patch) {
            kt_buf raw = {0};
            if (kt_base64_decode(patch, strlen(patch), &raw)) abort();
            json_t *ops = json_loadb((char *)raw.data, raw.len, 0, NULL);
            if (!json_is_array(ops) || !json_array_size(ops) || r.outcome != WH_MUTATED) abort();
            size_t i;
            json_t *op;
            json_array_foreach(ops, i, op)
            {
                const char *path = json_string_value(json_object_get(op, "path"));
                if (strcmp(json_string_value(json_object_get(op, "op")), "add") || !path ||
                    strncmp(path, "/spec/", 6))
                    abort();
            }
            json_decref(ops);
            kt_buf_free(&raw);
        }
        json_decref(a);
    } else if (r.outcome != WH_INVALID) {
        abort();
    }
    kt_buf_free(&out);
    return 0;
}
