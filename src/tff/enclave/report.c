/* Reports and local attestation, over the CPU's EREPORT and EGETKEY. */
#include "trts.h"

#include <string.h>

static kt_report_body self;

kt_status kt_trts_self_init(void)
{
    uint8_t rd[64] = {0}, report[KT_REPORT_LEN];
    kt_status st = kt_trts_host->ereport(kt_trts_host->cpu, NULL, rd, report);
    if (!st) kt_report_body_decode(report, &self);
    return st;
}

kt_status kt_self(kt_report_body *info)
{
    if (!info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "self: NULL argument");
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "self: enclave not initialised");
    *info = self;
    return KT_OK;
}

kt_status kt_target_info(uint8_t ti[KT_TARGET_INFO_LEN])
{
    if (!ti) return kt_fail(KT_ERR_INVALID_ARGUMENT, "target info: NULL argument");
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "target info: enclave not initialised");
    memset(ti, 0, KT_TARGET_INFO_LEN);
    memcpy(ti, self.mrenclave, 32);
    kt_put_le64(ti + 32, self.attr_flags);
    kt_put_le64(ti + 40, self.attr_xfrm);
    kt_put_le32(ti + 52, self.misc_select);
    return KT_OK;
}

kt_status kt_report_create(const uint8_t *ti, const uint8_t report_data[KT_REPORT_DATA_LEN],
                           uint8_t report[KT_REPORT_LEN])
{
    if (!report_data || !report) return kt_fail(KT_ERR_INVALID_ARGUMENT, "report: NULL argument");
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "report: enclave not initialised");
    uint8_t ti_copy[KT_TARGET_INFO_LEN];
    if (ti) memcpy(ti_copy, ti, sizeof ti_copy);
    kt_status st =
        kt_trts_host->ereport(kt_trts_host->cpu, ti ? ti_copy : NULL, report_data, report);
    /* the platform's reason, if any, is in the host's copy of the base library */
    return st ? kt_fail(st, "EREPORT failed on this platform") : KT_OK;
}

kt_status kt_report_verify(const uint8_t report[KT_REPORT_LEN], kt_report_body *info)
{
    if (!report || !info) return kt_fail(KT_ERR_INVALID_ARGUMENT, "report verify: NULL argument");
    if (!kt_trts_host) return kt_fail(KT_ERR_STATE, "report verify: enclave not initialised");
    uint8_t copy[KT_REPORT_LEN], key[16], mac[KT_CMAC_LEN];
    memcpy(copy, report, sizeof copy);
    kt_keyrequest kr = {.keyname = KT_KEYNAME_REPORT};
    memcpy(kr.keyid, copy + 384, 32);
    kt_status st = kt_trts_egetkey(&kr, key);
    if (!st) st = kt_aes_cmac(key, copy, KT_REPORT_BODY_LEN, mac);
    kt_wipe(key, sizeof key);
    if (st) return st;
    if (!kt_equal(mac, copy + 416, KT_CMAC_LEN))
        return kt_fail(KT_ERR_VERIFY, "report MAC does not match: not made for this enclave on "
                                      "this platform, or altered");
    kt_report_body_decode(copy, info);
    return KT_OK;
}
