/* The sim CPU's EGETKEY and EREPORT. Keys come from the platform secret and the
 * enclave's identity as the loader verified it, the way SGX derives them from a fused
 * secret and the SECS. Nothing here is hidden from the host. */
#include "sim.h"

#include <string.h>
#include <kubetee/crypto.h>

typedef struct {
    uint8_t data[256];
    size_t len;
} kdf_input;

static void put(kdf_input *in, const void *p, size_t n)
{
    memcpy(in->data + in->len, p, n);
    in->len += n;
}

static void put16(kdf_input *in, uint16_t v)
{
    uint8_t b[2];
    kt_put_le16(b, v);
    put(in, b, 2);
}

static void put64(kdf_input *in, uint64_t v)
{
    uint8_t b[8];
    kt_put_le64(b, v);
    put(in, b, 8);
}

static kt_status derive(const kt_sim_state *s, const kdf_input *in, uint8_t key[16])
{
    uint8_t full[32];
    kt_status st = kt_hmac_sha256(s->seal_secret, sizeof s->seal_secret, in->data, in->len, full);
    memcpy(key, full, 16);
    kt_wipe(full, sizeof full);
    return st;
}

/* The report key of the enclave with this MRENCLAVE and attributes. */
kt_status kt_sim_report_key(const kt_sim_state *s, const uint8_t mrenclave[32], uint64_t flags,
                            uint64_t xfrm, const uint8_t keyid[32], uint8_t key[16])
{
    kdf_input in = {{0}, 0};
    put(&in, "KT-SIM-REPORT-KEY", 17);
    put(&in, mrenclave, 32);
    put64(&in, flags);
    put64(&in, xfrm);
    put(&in, keyid, 32);
    return derive(s, &in, key);
}

/* Answers a code the way EGETKEY does, never a reason: the enclave words its own. */
uint32_t kt_sim_egetkey(void *cpu_ctx, const kt_keyrequest *kr, uint8_t key[16])
{
    const kt_sim_cpu *cpu = cpu_ctx;
    const kt_enclave_identity *id = &cpu->id;
    if (kr->keyname == KT_KEYNAME_REPORT)
        return kt_sim_report_key(cpu->state, id->mrenclave, id->attr_flags, id->attr_xfrm,
                                 kr->keyid, key)
                   ? KT_EGETKEY_FAULT
                   : KT_EGETKEY_OK;
    if (kr->keyname != KT_KEYNAME_SEAL) return KT_EGETKEY_INVALID_KEYNAME;
    if (kr->policy == 0 || (kr->policy & ~(KT_KEYPOLICY_MRENCLAVE | KT_KEYPOLICY_MRSIGNER)))
        return KT_EGETKEY_FAULT;
    if (kr->isvsvn > id->config.svn) return KT_EGETKEY_INVALID_ISVSVN;
    for (int i = 0; i < 16; i++)
        if (kr->cpusvn[i] > cpu->state->cpusvn[i]) return KT_EGETKEY_INVALID_CPUSVN;
    static const uint8_t zero[32];
    kdf_input in = {{0}, 0};
    put(&in, "KT-SIM-SEAL-KEY", 15);
    put16(&in, kr->policy);
    put16(&in, kr->isvsvn);
    put(&in, kr->cpusvn, 16);
    put(&in, kr->keyid, 32);
    put64(&in, id->attr_flags); /* a debug enclave never gets a production enclave's keys */
    put64(&in, id->attr_xfrm);
    put(&in, kr->policy & KT_KEYPOLICY_MRENCLAVE ? id->mrenclave : zero, 32);
    put(&in, kr->policy & KT_KEYPOLICY_MRSIGNER ? id->mrsigner : zero, 32);
    put16(&in, id->config.prodid);
    return derive(cpu->state, &in, key) ? KT_EGETKEY_FAULT : KT_EGETKEY_OK;
}

kt_status kt_sim_ereport(void *cpu_ctx, const uint8_t *ti, const uint8_t report_data[64],
                         uint8_t report[432])
{
    const kt_sim_cpu *cpu = cpu_ctx;
    const kt_enclave_identity *id = &cpu->id;
    uint8_t *body = report;
    kt_report_body b = {.misc_select = id->misc_select,
                        .attr_flags = id->attr_flags,
                        .attr_xfrm = id->attr_xfrm,
                        .prodid = id->config.prodid,
                        .svn = id->config.svn};
    memcpy(b.cpusvn, cpu->state->cpusvn, 16);
    memcpy(b.mrenclave, id->mrenclave, 32);
    memcpy(b.mrsigner, id->mrsigner, 32);
    memcpy(b.report_data, report_data, 64);
    memset(report, 0, 432);
    kt_report_body_encode(&b, body);

    uint8_t *keyid = report + 384, key[16];
    kt_status st = kt_random(keyid, 32);
    if (st) return st;
    if (ti)
        st = kt_sim_report_key(cpu->state, ti, kt_le64(ti + 32), kt_le64(ti + 40), keyid, key);
    else
        st =
            kt_sim_report_key(cpu->state, id->mrenclave, id->attr_flags, id->attr_xfrm, keyid, key);
    if (!st) st = kt_aes_cmac(key, body, 384, report + 416);
    kt_wipe(key, sizeof key);
    return st;
}
