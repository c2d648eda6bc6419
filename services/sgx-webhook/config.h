/* sgx-webhook's settings: defaults, then a YAML file (--config), then environment
 * variables, then flags (kubetee/svc.h's settings reader); the last one given wins. */
#ifndef SGX_WEBHOOK_CONFIG_H
#define SGX_WEBHOOK_CONFIG_H

#include "review.h"
#include <kubetee/svc.h>

typedef struct {
    wh_config review;
    char listen[64];
    char cert_file[512], key_file[512];
    unsigned reload_seconds; /* 0: no reload on change (SIGHUP still reloads) */
    unsigned drain_seconds;
    unsigned per_address; /* connections one address may hold (kube-apiserver's pool) */
    bool log_json;
    char epc_list[WH_MAX_EPC * WH_NAME], delivery[16], log_format[8]; /* as given */
} wh_settings;

/* 0 when the settings are usable, else 2 (after printing why) or -1 for --help. */
int wh_settings_load(int argc, char **argv, wh_settings *s);
/* The settings in effect, one log line. */
void wh_settings_log(const wh_settings *s);

#endif
