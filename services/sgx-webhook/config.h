/* sgx-webhook's settings: defaults, then a YAML file (--config), then environment
 * variables, then flags; the last one given wins. */
#ifndef SGX_WEBHOOK_CONFIG_H
#define SGX_WEBHOOK_CONFIG_H

#include "review.h"

typedef struct {
    wh_config review;
    char listen[64];
    char cert_file[512], key_file[512];
    unsigned reload_seconds; /* 0: no reload on change (SIGHUP still reloads) */
    unsigned drain_seconds;
    unsigned per_address; /* connections one address may hold (kube-apiserver's pool) */
    bool log_json;
} wh_settings;

/* 0 when the settings are usable, else 2 (after printing why) or -1 for --help. */
int wh_settings_load(int argc, char **argv, wh_settings *s);

#endif
