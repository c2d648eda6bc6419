/* Fuzz target: the frame meter that reads a client's HTTP/2 bytes before gRPC core does
 * (src/rpc/meter.c). The first byte seeds how the rest is cut into reads (and, with its
 * top bit set, puts the client preface in front). Fed whole or in pieces, at the same
 * time, the meter must come to the same verdict, keep it, and never read past a piece;
 * a request message it marks reads the same whole or in pieces, except that in pieces
 * a message already passed on may cut the connection instead (KT_METER_FRAMING). */
#include "../src/rpc/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (n < 1) return 0;
    uint8_t seed = data[0];
    size_t extra = seed & 0x80 ? 24 : 0, len = n - 1 + extra;
    uint8_t *buf = malloc(len ? len : 1), *orig = malloc(len ? len : 1);
    if (!buf || !orig) {
        free(buf), free(orig);
        return 0;
    }
    memcpy(buf, preface, extra);
    memcpy(buf + extra, data + 1, n - 1);
    memcpy(orig, buf, len);
    kt_rpc_meter_limits l = {64 + (seed & 0x0f) * 512u, 1 + (seed & 0x30), 1 + (seed & 0x40),
                             1 + (seed & 0x07), 1000 + (seed & 0x30) * 4096u, 1 << 20};
    kt_rpc_meter whole, parts;
    _Atomic uint64_t total_whole = 0, total_parts = 0;
    kt_rpc_meter_init(&whole, &l, 0, &total_whole);
    kt_rpc_meter_init(&parts, &l, 0, &total_parts);
    kt_rpc_meter_verdict a = kt_rpc_meter_feed(&whole, &l, buf, len, 0), b = KT_METER_OK;
    uint32_t r = seed * 2654435761u + 1;
    for (size_t at = 0; at < len && !b;) {
        r = r * 1103515245u + 12345u;
        size_t k = 1 + (r >> 16) % 97;
        if (k > len - at) k = len - at;
        uint8_t *piece = malloc(k); /* its own allocation: a read past it is caught */
        if (!piece) break;
        memcpy(piece, orig + at, k);
        kt_rpc_meter_read(&parts);
        b = kt_rpc_meter_feed(&parts, &l, piece, k, 0);
        memcpy(orig + at, piece, k); /* as the meter left it */
        free(piece);
        at += k;
    }
    /* what the meter marked in pieces is what it marked in the whole (unless either cut) */
    if (!a && !b && memcmp(orig, buf, len)) abort();
    if (a != b && a != KT_METER_FRAMING && b != KT_METER_FRAMING) abort();
    if (a && kt_rpc_meter_feed(&whole, &l, buf, len, 0) != a) abort(); /* a verdict sticks */
    if (a == KT_METER_OK) {
        /* the same bytes as the server's frames: every stream they end leaves the count,
         * and what is left is this connection's own */
        kt_rpc_meter_sent(&whole, &l, data + 1, n - 1);
        if (atomic_load(&total_whole) != whole.unfinished) abort();
        for (uint32_t i = 0; i < whole.nstreams; i++)
            if (whole.streams[i].ended && whole.streams[i].bytes) abort();
    }
    kt_rpc_meter_release(&whole);
    kt_rpc_meter_release(&parts);
    if (atomic_load(&total_whole) || atomic_load(&total_parts)) abort(); /* all given back */
    free(buf);
    free(orig);
    return 0;
}
