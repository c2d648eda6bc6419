/* kubetee-signer's policy reader, state file and approvals file: any bytes parse or are
 * refused with a reason, never crash. The first byte picks which. */
#include "service.h"

#include <stdlib.h>
#include <string.h>

/* Approvals are read against a configuration: clients a, b, c; key gated (2 of a, b, c)
 * and key plain (no approvals). */
static const sg_config *approvals_config(void)
{
    static sg_config c;
    if (!c.nkeys) {
        const char *names[] = {"a", "b", "c"};
        for (size_t i = 0; i < 3; i++)
            strcpy(c.clients[i].name, names[i]);
        c.nclients = 3;
        strcpy(c.keys[0].name, "gated");
        c.keys[0].approvals = 2;
        c.keys[0].approvers = 7;
        c.keys[0].clients = 1;
        strcpy(c.keys[1].name, "plain");
        c.keys[1].clients = 1;
        c.nkeys = 2;
    }
    return &c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    static sg_config c;
    if (data[0] & 1) {
        if (sg_config_parse((const char *)data + 1, n - 1, &c) == KT_OK) {
            /* what parsed holds the rules the reader promises */
            for (size_t i = 0; i < c.nkeys; i++)
                if ((c.keys[i].production && c.keys[i].debug) || !c.keys[i].nprodids ||
                    !c.keys[i].clients ||
                    (c.nclients < 64 && c.keys[i].clients >> c.nclients))
                    abort();
        }
    } else if (data[0] & 2) {
        sg_approvals *a;
        if (sg_approvals_open(approvals_config(), "/nonexistent-kt-fuzz/approvals", &a) != KT_OK) abort();
        size_t dropped;
        if (sg_approvals_parse(a, (const char *)data + 1, n - 1, &dropped) == KT_OK) {
            /* what is kept is of a key that asks for approvals, by its approvers only */
            sg_approval l[SG_MAX_PENDING];
            size_t k = sg_approvals_list(a, l, SG_MAX_PENDING);
            for (size_t i = 0; i < k; i++)
                if (l[i].key != 0 || !l[i].by || (l[i].by & ~7ull)) abort();
        }
        sg_approvals_free(a);
    } else {
        sg_state *s;
        if (sg_state_open("/nonexistent-kt-fuzz/state", &s) != KT_OK) abort();
        sg_state_parse(s, (const char *)data + 1, n - 1);
        sg_state_free(s);
    }
    return 0;
}
