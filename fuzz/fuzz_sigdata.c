/* The signer's request decoder: any bytes decode or are refused, never crash; what
 * decodes is exactly what gendata writes for the fields read. */
#include <kubetee/image.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_sigdata_info i;
    if (kt_sigdata_decode(data, n, &i) != KT_OK) return 0;
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = i.prodid;
    c.svn = i.svn;
    c.debug = i.debug;
    c.xfrm = i.xfrm;
    uint8_t again[KT_SIGDATA_LEN];
    if (kt_sigstruct_sigdata(i.mrenclave, &c, i.date, again) != KT_OK ||
        memcmp(again, data, KT_SIGDATA_LEN))
        abort();
    return 0;
}
