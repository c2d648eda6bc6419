/* Fuzz target: the quote parser, and verification of whatever parses against real
 * collateral (when ../shared is beside the repository) so the PCK chain, extension and
 * signature paths see hostile input too. */
#include <kubetee/attest.h>

#include <stdlib.h>

static kt_collateral *coll;
static int tried;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!tried) {
        tried = 1;
        const char *dir = getenv("KT_FUZZ_COLLATERAL");
        if (dir) kt_collateral_load_dir(dir, NULL, &coll);
    }
    kt_quote q;
    if (kt_quote_parse(data, n, &q) == KT_OK && coll) {
        kt_verdict v;
        kt_quote_verify(data, n, coll, 1751623200, &v);
    }
    return 0;
}
