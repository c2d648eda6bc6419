/* Runtime pieces both sides use: function tables, call frames, dispatch. Internal. */
#ifndef KT_RUNTIME_H
#define KT_RUNTIME_H

#include <kubetee/tff_common.h>
#include <stdatomic.h>
#include <pthread.h>

/* ---- function table: lock-free lookups, serialised appends ---- */
#define KT_FNTAB_MAX 512
typedef struct {
    pthread_mutex_t lock;
    _Atomic size_t count;
    struct {
        const kt_function *f;
        uint32_t hash;
    } entries[KT_FNTAB_MAX];
} kt_fntab;

#define KT_FNTAB_INIT                                                                              \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0,                                                              \
        {                                                                                          \
            {                                                                                      \
                0                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

kt_status kt_fntab_add(kt_fntab *t, const kt_function *f);
const kt_function *kt_fntab_find(kt_fntab *t, const char *name);
size_t kt_fntab_count(kt_fntab *t);
const kt_function *kt_fntab_at(kt_fntab *t, size_t i); /* NULL past the count */

/* ---- call frames: call memory, wiped and freed when the frame is popped ---- */
typedef struct kt_block kt_block;
typedef struct kt_frame {
    struct kt_frame *prev;
    kt_block *blocks;
    size_t used;
    _Alignas(16) uint8_t inline_mem[1024];
} kt_frame;

void kt_frame_push(kt_frame *f);
void kt_frame_pop(kt_frame *f);
bool kt_in_call(void);
/* Call memory of a given frame (kt_call_alloc uses the current one). */
void *kt_frame_alloc(kt_frame *f, size_t n);
/* protobuf-c allocators over call memory (their free is a no-op): the current frame's,
 * and a given frame's. */
extern ProtobufCAllocator kt_call_allocator;
ProtobufCAllocator kt_frame_allocator(kt_frame *f);
/* Unpacks into an initialised message (its descriptor says the type); fields come from
 * allocator (NULL: malloc, freed later by kt_message_clear). False when the bytes do
 * not decode, leaving the message initialised. */
bool kt_unpack_into(void *message, ProtobufCAllocator *allocator, size_t len, const uint8_t *data);

/* ---- dispatch: run a registered function on packed bytes ---- */
typedef struct {
    const char *name, *req_type, *res_type;
    const uint8_t *req;
    size_t req_len;
    size_t max_message;       /* limit for request and response */
    bool copy_in;             /* copy the request before parsing (it is in host memory) */
    void *(*alloc)(size_t n); /* where the packed response goes ... */
    uint8_t *res_buf;         /* ... unless it fits here, */
    uint8_t *(*place)(void *ctx, size_t n); /* ... or, when set, here (NULL: no memory) */
    void *place_ctx;
    size_t res_buf_cap;
    uint8_t **res;
    size_t *res_len;
    char *detail;
    size_t detail_cap;
} kt_dispatch_args;

/* Returns KT_OK, a gate failure (with a reason in detail), or the function's status. */
kt_status kt_dispatch(kt_fntab *t, const kt_dispatch_args *a);

/* The caller's half: checks and packs a request. Packs into buf when it fits, else into
 * alloc'd memory; *packed says where. */
kt_status kt_pack_request(const void *req, const void *res, size_t max_message, uint8_t *buf,
                          size_t buf_cap, void *(*alloc)(size_t), uint8_t **packed, size_t *len);
/* Unpacks a response into the caller's initialised res using allocator. */
kt_status kt_unpack_response(const uint8_t *data, size_t len, void *res,
                             ProtobufCAllocator *allocator);

/* Copies a reason into a detail buffer. */
void kt_detail(char *detail, size_t cap, const char *reason);

#endif
