/* What the fuzz targets of the call gate share (fuzz_call, fuzz_aecs_requests): bytes
 * dispatched to one registered function as the other side's packed request, the way
 * kt_dispatch runs a call that crossed the gate. */
#ifndef FUZZ_GATE_H
#define FUZZ_GATE_H

#include "../src/tff/common/runtime.h"

typedef struct {
    size_t max_message; /* the limit of the side that takes the call, request and response */
    bool copy_in;       /* the request lies in the other side's memory: copied before parsing */
    uint8_t *res_buf;   /* the packed response goes here when it fits (NULL: always malloc) */
    size_t res_buf_cap;
} fuzz_gate;

/* Runs f, registered in t, on the n bytes at req. On KT_OK *res holds the packed response:
 * g->res_buf or malloc'd memory (fuzz_gate_free frees it). Else the gate's or f's status. */
kt_status fuzz_dispatch(kt_fntab *t, const kt_function *f, const fuzz_gate *g, const uint8_t *req,
                        size_t n, uint8_t **res, size_t *res_len);
void fuzz_gate_free(const fuzz_gate *g, uint8_t *res);

#endif
