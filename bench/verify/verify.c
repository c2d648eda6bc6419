/* bench/verify: quote verification against raw ECDSA P-256 verifies in the same run.
 * Warm: collateral loaded and its chains checked once, then quote after quote. Cold:
 * collateral loaded from disk and every check made, each time. Two ECDSA verifies per
 * quote is the floor: targets 0.45 (warm) and 0.12 (cold). A cold verification checks
 * nine signatures, so its ratio cannot pass 1/9 = 0.111 (docs/attestation.md, Speed). */
#include "../bench.h"
#include <kubetee/attest.h>

#include <stdlib.h>
#include <string.h>

#define SECONDS 1.0

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_verify <attestation test set directory>\n");
        return 2;
    }
    const char *dir = argv[1];
    char path[1024];
    snprintf(path, sizeof path, "%s/quote.dat", dir);
    kt_buf quote = {0};
    if (kt_file_read(path, KT_QUOTE_MAX, &quote)) {
        fprintf(stderr, "bench_verify: %s\n", kt_last_error());
        return 1;
    }
    const time_t at = 1751623200; /* the set's verify-at time */

    /* baseline: raw ECDSA P-256 verifies of a quote-sized message */
    kt_key *key;
    kt_buf sig = {0};
    if (kt_key_generate(KT_KEY_P256, &key) || kt_sign(key, quote.data, 432, &sig)) return 1;
    long n = 0;
    double t0 = bench_now(), t;
    while ((t = bench_now()) - t0 < SECONDS)
        for (int i = 0; i < 64; i++, n++)
            if (kt_verify(key, quote.data, 432, sig.data, sig.len)) return 1;
    double ecdsa = (double)n / (t - t0);

    /* warm */
    kt_collateral *c;
    kt_verdict v;
    if (kt_collateral_load_dir(dir, NULL, &c) ||
        kt_quote_verify(quote.data, quote.len, c, at, &v) || !v.ok) {
        fprintf(stderr, "bench_verify: %s\n", v.reason);
        return 1;
    }
    n = 0;
    t0 = bench_now();
    while ((t = bench_now()) - t0 < SECONDS)
        for (int i = 0; i < 16; i++, n++)
            if (kt_quote_verify(quote.data, quote.len, c, at, &v) || !v.ok) return 1;
    double warm = (double)n / (t - t0);
    kt_collateral_free(c);

    /* cold */
    n = 0;
    t0 = bench_now();
    while ((t = bench_now()) - t0 < SECONDS) {
        if (kt_collateral_load_dir(dir, NULL, &c) ||
            kt_quote_verify(quote.data, quote.len, c, at, &v) || !v.ok)
            return 1;
        kt_collateral_free(c);
        n++;
    }
    double cold = (double)n / (t - t0);
    printf("verify: ECDSA P-256 %.0f verifies/s, warm %.0f quotes/s, cold %.0f quotes/s "
           "(cold ceiling: 9 verifies, %.0f/s)\n",
           ecdsa, warm, cold, ecdsa / 9);
    bench_line("verify_cold", cold / ecdsa, ">=", 0.12, cold, ecdsa);
    bench_line("verify_warm", warm / ecdsa, ">=", 0.45, warm, ecdsa);
    kt_key_free(key);
    kt_buf_free(&sig);
    kt_buf_free(&quote);
    return 0;
}
