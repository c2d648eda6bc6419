/* Fuzz target: the sealed-blob reader, inside the trusted runtime. A deterministic test
 * CPU stands in for the platform. Inputs that start with "KTSL" are read as they are;
 * others patch a valid blob (offset byte, then bytes), to reach the checks past the
 * header. */
#include <kubetee/trusted.h>
#include "../src/tff/common/gate.h"

#include <stdlib.h>
#include <string.h>

kt_status kt_enclave_entry(kt_gate_call *c);

static uint32_t test_egetkey(void *cpu, const kt_keyrequest *kr, uint8_t key[16])
{
    (void)cpu;
    uint8_t full[32];
    if (kr->cpusvn[0] > 2) return KT_EGETKEY_INVALID_CPUSVN; /* reach the refusal's path */
    kt_status st = kt_hmac_sha256((const uint8_t *)"fuzz", 4, kr, sizeof *kr, full);
    memcpy(key, full, 16);
    return st ? KT_EGETKEY_FAULT : KT_EGETKEY_OK;
}

static kt_status test_ereport(void *cpu, const uint8_t *ti, const uint8_t rd[64],
                              uint8_t report[432])
{
    (void)cpu, (void)ti;
    memset(report, 0, 432);
    kt_put_le16(report + 258, 1); /* ISVSVN */
    memcpy(report + 320, rd, 64);
    return KT_OK;
}

static kt_status test_ocall(void *ctx, const char *name, const char *req_type, const char *res_type,
                            const uint8_t *req, size_t req_len, uint8_t **res, size_t *res_len,
                            char *detail, size_t detail_cap)
{
    (void)ctx, (void)req_type, (void)res_type, (void)req, (void)req_len, (void)detail,
        (void)detail_cap;
    if (strcmp(name, "kt.identity.load") == 0) return KT_ERR_NOT_FOUND;
    *res = malloc(1);
    *res_len = 0;
    return KT_OK;
}

static void test_log(void *ctx, int level, const char *line)
{
    (void)ctx, (void)level, (void)line;
}

static uint8_t config[64];
static kt_gate_host host = {KT_GATE_ABI, NULL, test_ocall,   malloc,       free,
                            test_log,    NULL, test_egetkey, test_ereport, config};
static kt_buf valid;

static void start(void)
{
    kt_put_le32(config, 1);        /* config block version */
    kt_put_le32(config + 4, 1);    /* tcs_count */
    kt_put_le64(config + 8, 4096); /* heap */
    kt_put_le64(config + 16, 4096);
    kt_put_le64(config + 24, 65536);
    kt_gate_call c = {.op = KT_GATE_INIT, .host = &host};
    if (kt_enclave_entry(&c) != KT_OK) abort();
    if (kt_seal(KT_SEAL_MRSIGNER, (const uint8_t *)"aad", 3, (const uint8_t *)"secret", 6, &valid))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!valid.len) start();
    kt_buf plain = {0}, aad = {0};
    if (n >= 4 && memcmp(data, "KTSL", 4) == 0) {
        kt_unseal(data, n, &plain, &aad);
    } else if (n >= 1) {
        uint8_t *blob = malloc(valid.len);
        memcpy(blob, valid.data, valid.len);
        size_t at = data[0] % valid.len;
        for (size_t i = 1; i < n && at < valid.len; i++)
            blob[at++] = data[i];
        kt_unseal(blob, valid.len, &plain, &aad);
        free(blob);
    }
    kt_buf_free(&plain);
    kt_buf_free(&aad);
    return 0;
}
