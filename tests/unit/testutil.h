/* Small helpers shared by the unit tests. Include after cmocka.h. */
#ifndef KT_TESTUTIL_H
#define KT_TESTUTIL_H

#include <kubetee/base.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes a hex literal of known length, failing the test on bad input. */
static inline void unhex(const char *hex, uint8_t *out)
{
    assert_int_equal(kt_hex_decode(hex, out, strlen(hex) / 2), KT_OK);
}

/* Removes a test's scratch directory and all under it: 0, or -1. */
static inline int rm_tree(const char *dir)
{
    char cmd[600];
    if (snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= (int)sizeof cmd) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/* Asserts st is want and that a reason mentioning needle was recorded. */
#define assert_fails_with(st, want, needle)                                                        \
    do {                                                                                           \
        kt_status st_ = (st);                                                                      \
        if (st_ != (want) || !strstr(kt_last_error(), (needle)))                                   \
            fail_msg("expected %s with '%s', got %s: %s", kt_status_name(want), (needle),          \
                     kt_status_name(st_), kt_last_error());                                        \
    } while (0)

#endif
