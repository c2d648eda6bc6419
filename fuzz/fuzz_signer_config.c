/* kubetee-signer's policy reader and state file: any bytes parse or are refused with a
 * reason, never crash. The first byte picks which. */
#include "signer.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    static sg_config c;
    if (data[0] & 1) {
        if (sg_config_parse((const char *)data + 1, n - 1, &c) == KT_OK) {
            /* what parsed holds the rules the reader promises */
            for (size_t i = 0; i < c.nkeys; i++)
                if ((c.keys[i].production && c.keys[i].debug) || !c.keys[i].nprodids ||
                    !c.keys[i].clients ||
                    (c.nclients < 64 && c.keys[i].clients >> c.nclients))
                    abort();
        }
    } else {
        sg_state *s;
        if (sg_state_open("/nonexistent-kt-fuzz/state", &s) != KT_OK) abort();
        sg_state_parse(s, (const char *)data + 1, n - 1);
        sg_state_free(s);
    }
    return 0;
}
