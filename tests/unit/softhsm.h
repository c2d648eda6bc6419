/* A SoftHSM2 token made by the test itself: its own configuration and token directory
 * under a temporary directory (SOFTHSM2_CONF), initialised with softhsm2-util. */
#ifndef KT_TEST_SOFTHSM_H
#define KT_TEST_SOFTHSM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOFTHSM_MODULE "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"

/* Makes dir/softhsm2.conf and dir/tokens, points SOFTHSM2_CONF at it and initialises a
 * token with this label and user PIN. 0 on success. */
static inline int softhsm_token(const char *dir, const char *label, const char *pin)
{
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/tokens", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd)) return -1;
    snprintf(path, sizeof path, "%s/softhsm2.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    snprintf(cmd, sizeof cmd,
             "softhsm2-util --init-token --free --label '%s' --pin '%s' --so-pin 97531 >/dev/null",
             label, pin);
    return system(cmd) ? -1 : 0;
}

#endif
