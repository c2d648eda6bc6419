/* kubetee-serve's configuration reader: any bytes parse or are refused with a reason,
 * never crash; what parses holds only single-line values that fit their fields. */
#include "serve.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static sv_config c;
    memset(&c, 0, sizeof c);
    if (sv_config_parse((const char *)data, n, &c) == KT_OK) {
        const char *fields[] = {c.enclave, c.listen, c.http, c.sim_dir, c.limits, c.rpc_limits, c.tls_cert};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            for (const char *p = fields[i]; *p; p++)
                if ((unsigned char)*p < 0x20) abort();
        sv_config_check(&c);
    }
    return 0;
}
