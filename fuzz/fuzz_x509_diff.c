/* Differential fuzz target: attest's DER reader against OpenSSL's d2i_X509 / d2i_X509_CRL
 * on the same bytes. First byte even: a certificate, odd: a CRL. Aborts when ours accepts
 * what OpenSSL rejects, or when the two read a field the verifier uses differently (the
 * same comparison that guards loading collateral). */
#include "../src/attest/internal.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const uint8_t *der = data + 1;
    size_t len = n - 1;
    kt_status st;
    if (data[0] % 2 == 0) {
        kt_x509 x;
        if (kt_x509_parse(der, len, &x) != KT_OK) return 0;
        st = kt_x509_crosscheck(&x, "differential");
    } else {
        kt_crl c;
        if (kt_crl_parse(der, len, &c) != KT_OK) return 0;
        st = kt_crl_crosscheck(&c, "differential");
    }
    if (st != KT_OK) {
        fprintf(stderr, "readers disagree: %s\n", kt_last_error());
        abort();
    }
    return 0;
}
