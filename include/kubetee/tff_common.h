/* TFF, both sides: functions called by name with protobuf-c messages.
 *
 * A function takes a request message and fills a response message. It is registered
 * under a name with the two message types; a caller names it and passes messages of
 * those types. Requests and responses cross the boundary packed, are checked against
 * the registered types and the enclave's size limit, and are unpacked on the far side.
 *
 * Memory during a call: the request the runtime hands a function, and anything the
 * function allocates with kt_call_alloc/kt_call_strdup/kt_call_memdup, live until the
 * function returns and the runtime has packed its response; then they are wiped and
 * freed. Put only static data or call memory in a response. */
#ifndef KUBETEE_TFF_COMMON_H
#define KUBETEE_TFF_COMMON_H

#include <kubetee/base.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef kt_status (*kt_function_fn)(const ProtobufCMessage *req, ProtobufCMessage *res);

/* kubetee's own steps on a hot path (the enclave service's calls) can take and give the
 * packed bytes themselves, without protobuf-c's copies: req is where the caller put it
 * (host memory for an ECALL: copy before parsing), the response goes out through
 * kt_raw_reply_bytes. */
typedef struct kt_raw_reply kt_raw_reply;
typedef kt_status (*kt_raw_fn)(const uint8_t *req, size_t n, kt_raw_reply *reply);
/* The response's packed bytes, copied to where the caller receives them (once). */
kt_status kt_raw_reply_bytes(kt_raw_reply *r, const uint8_t *p, size_t n);

typedef struct {
    const char *name;
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    kt_function_fn call;
    size_t request_size, response_size; /* sizeof the C types, checked against the descriptors */
    kt_raw_fn raw; /* instead of call (the types still name what the bytes are) */
} kt_function;

/* Call memory: valid until the current call returns. NULL outside a call. */
void *kt_call_alloc(size_t n);
char *kt_call_strdup(const char *s);
void *kt_call_memdup(const void *p, size_t n);

/* Puts a copy of n bytes in a response's bytes field, in call memory. On failure
 * (KT_ERR_NO_MEMORY) the field is left empty. */
kt_status kt_call_bytes(ProtobufCBinaryData *field, const void *p, size_t n);

/* Frees what a call put in a response message the caller owns, and re-initialises it. */
void kt_message_clear(void *message);

/* Internal to the macros below. */
#define KT__FUNCTION(registrar, fn, fname, Req, req_prefix, Res, res_prefix)                       \
    static kt_status kt__adapt_##fn(const ProtobufCMessage *rq, ProtobufCMessage *rs)              \
    {                                                                                              \
        kt_status (*typed)(const Req *, Res *) = fn;                                               \
        return typed((const Req *)rq, (Res *)rs);                                                  \
    }                                                                                              \
    __attribute__((constructor)) static void kt__register_##fn(void)                               \
    {                                                                                              \
        static const kt_function f = {fname,                                                       \
                                      &req_prefix##__descriptor,                                   \
                                      &res_prefix##__descriptor,                                   \
                                      kt__adapt_##fn,                                              \
                                      sizeof(Req),                                                 \
                                      sizeof(Res)};                                                \
        registrar(&f);                                                                             \
    }

#ifdef __cplusplus
}
#endif
#endif
