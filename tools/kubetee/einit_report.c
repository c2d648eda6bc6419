/* The EINIT-ready report as `kubetee sign` and `kubetee dump` print it. */
#include "cli.h"

#include <stdio.h>

void cli_print_einit(const kt_einit_report *r, bool json)
{
    /* rule names and details are kubetee's own text and numbers: nothing to escape */
    if (json) {
        printf("\"einit_ready\":%s,\"einit_rules\":[", r->ready ? "true" : "false");
        for (unsigned i = 0; i < r->n; i++)
            printf("%s{\"rule\":\"%s\",\"ok\":%s,\"detail\":\"%s\"}", i ? "," : "", r->rule[i].name,
                   r->rule[i].ok ? "true" : "false", r->rule[i].detail);
        printf("]");
        return;
    }
    printf("EINIT-ready:      %s (%u rules)\n", r->ready ? "yes" : "NO", r->n);
    for (unsigned i = 0; i < r->n; i++)
        printf("  %s %-15s %s\n", r->rule[i].ok ? "pass" : "FAIL", r->rule[i].name,
               r->rule[i].detail);
}
