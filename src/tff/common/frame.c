/* Call frames and call memory: a bump allocator that starts in the frame itself, so a
 * small call allocates nothing, and grows in heap blocks. Popping wipes and frees. */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

struct kt_block {
    kt_block *next;
    size_t used, cap;
    _Alignas(16) uint8_t mem[];
};

static _Thread_local kt_frame *current;

void kt_frame_push(kt_frame *f)
{
    f->prev = current;
    f->blocks = NULL;
    f->used = 0;
    current = f;
}

void kt_frame_pop(kt_frame *f)
{
    kt_wipe(f->inline_mem, f->used);
    for (kt_block *b = f->blocks, *next; b; b = next) {
        next = b->next;
        kt_wipe(b->mem, b->used);
        free(b);
    }
    f->blocks = NULL;
    f->used = 0;
    current = f->prev;
}

bool kt_in_call(void)
{
    return current != NULL;
}

void *kt_frame_alloc(kt_frame *f, size_t n)
{
    if (!f || n > (1ull << 32)) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (f->used + n <= sizeof f->inline_mem) {
        void *p = f->inline_mem + f->used;
        f->used += n;
        return p;
    }
    kt_block *b = f->blocks;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = f->blocks;
        f->blocks = b;
    }
    void *p = b->mem + b->used;
    b->used += n;
    return p;
}

void *kt_call_alloc(size_t n)
{
    return kt_frame_alloc(current, n);
}

void *kt_call_memdup(const void *p, size_t n)
{
    void *q = kt_call_alloc(n);
    if (q && n) memcpy(q, p, n);
    return q;
}

kt_status kt_call_bytes(ProtobufCBinaryData *field, const void *p, size_t n)
{
    field->data = n ? kt_call_memdup(p, n) : NULL;
    field->len = field->data ? n : 0;
    return field->data || !n ? KT_OK : kt_fail(KT_ERR_NO_MEMORY, "out of call memory");
}

char *kt_call_strdup(const char *s)
{
    return s ? kt_call_memdup(s, strlen(s) + 1) : NULL;
}

static void *arena_alloc(void *frame, size_t n)
{
    return frame ? kt_frame_alloc(frame, n) : kt_call_alloc(n);
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

ProtobufCAllocator kt_call_allocator = {arena_alloc, arena_free, NULL};

ProtobufCAllocator kt_frame_allocator(kt_frame *f)
{
    ProtobufCAllocator a = {arena_alloc, arena_free, f};
    return a;
}

/* protobuf-c frees a message together with its fields. To free only the fields of the
 * caller's struct, it is handed an allocator that skips the top-level pointer. */
static void free_fields_only(void *top, void *p)
{
    if (p != top) free(p);
}

void kt_message_clear(void *message)
{
    ProtobufCMessage *m = message;
    if (!m || !m->descriptor) return;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    ProtobufCAllocator skip = {NULL, free_fields_only, m};
    protobuf_c_message_free_unpacked(m, &skip);
    protobuf_c_message_init(d, m);
}

/* Unpacking straight into the caller's message: protobuf-c allocates the top-level
 * message first, and that first allocation is handed the caller's struct. Should the
 * library ever ask for something else first, the unpack still works: the result then
 * lands elsewhere and is copied. */
typedef struct {
    ProtobufCAllocator *next;
    void *target;
    size_t size;
    bool given;
} into;

static void *into_alloc(void *data, size_t n)
{
    into *in = data;
    if (!in->given && n == in->size) {
        in->given = true;
        return in->target;
    }
    return in->next ? in->next->alloc(in->next->allocator_data, n) : malloc(n);
}

static void into_free(void *data, void *p)
{
    into *in = data;
    if (p == in->target) return;
    if (in->next)
        in->next->free(in->next->allocator_data, p);
    else
        free(p);
}

bool kt_unpack_into(void *message, ProtobufCAllocator *allocator, size_t len, const uint8_t *data)
{
    ProtobufCMessage *m = message;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    into in = {allocator, m, d->sizeof_message, false};
    ProtobufCAllocator a = {into_alloc, into_free, &in};
    ProtobufCMessage *got = protobuf_c_message_unpack(d, &a, len, data);
    if (!got) {
        protobuf_c_message_init(d, m);
        return false;
    }
    if (got != m) {
        memcpy(m, got, d->sizeof_message);
        into_free(&in, got);
    }
    return true;
}
