/* Fuzz target: the DER readers for certificates and CRLs (the quote's PCK chain and the
 * collateral's CRLs and issuer chains reach them from outside). First byte even: a
 * certificate, then its names, CRL URL and SGX extensions; odd: a CRL, then a lookup. */
#include "../src/attest/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const uint8_t *der = data + 1;
    size_t len = n - 1;
    if (data[0] % 2 == 0) {
        kt_x509 x;
        if (kt_x509_parse(der, len, &x) != KT_OK) return 0;
        char text[256];
        kt_pck_info pck;
        kt_x509_common_name(x.subject, text, sizeof text);
        kt_x509_common_name(x.issuer, text, sizeof text);
        kt_x509_crl_url(&x, text, sizeof text);
        kt_pck_info_from_cert(&x, &pck);
    } else {
        kt_crl c;
        if (kt_crl_parse(der, len, &c) != KT_OK) return 0;
        kt_x509 none = {.serial = {der, len < 20 ? len : 20}};
        kt_crl_lists(&c, &none);
    }
    return 0;
}
