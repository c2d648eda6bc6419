/* The call gate for the fuzz targets (fuzz_gate.h). */
#include "fuzz_gate.h"

#include <stdlib.h>

kt_status fuzz_dispatch(kt_fntab *t, const kt_function *f, const fuzz_gate *g, const uint8_t *req,
                        size_t n, uint8_t **res, size_t *res_len)
{
    char detail[256];
    *res = NULL;
    *res_len = 0;
    kt_dispatch_args a = {.name = f->name,
                          .req_type = f->request->name,
                          .res_type = f->response->name,
                          .req = req,
                          .req_len = n,
                          .max_message = g->max_message,
                          .copy_in = g->copy_in,
                          .alloc = malloc,
                          .res_buf = g->res_buf,
                          .res_buf_cap = g->res_buf_cap,
                          .res = res,
                          .res_len = res_len,
                          .detail = detail,
                          .detail_cap = sizeof detail};
    return kt_dispatch(t, &a);
}

void fuzz_gate_free(const fuzz_gate *g, uint8_t *res)
{
    if (res != g->res_buf) free(res);
}
