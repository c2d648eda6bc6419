/* Fuzz target: the AECS SecretPolicy reader (serviceadmin create's input). */
#include <kubetee/aecs_files.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_aecs_secret_file f;
    if (kt_aecs_secret_file_parse((const char *)data, n, &f) == KT_OK) {
        /* what a reader hands on: every secret has a valid name, and a policy unless no one
         * is admitted */
        for (size_t i = 0; i < f.count; i++) {
            const kt_aecs_secret_spec *s = &f.secrets[i];
            if (kt_aecs_name_check(KT_AECS_NAME_SECRET, s->name, __builtin_strlen(s->name)) ||
                kt_aecs_name_check(KT_AECS_NAME_SERVICE, s->service,
                                   __builtin_strlen(s->service)) ||
                (!s->policy && !s->no_one) || (s->policy && s->no_one) ||
                s->data.len > KT_AECS_DATA_MAX)
                __builtin_trap();
        }
        kt_aecs_secret_file_free(&f);
    }
    return 0;
}
