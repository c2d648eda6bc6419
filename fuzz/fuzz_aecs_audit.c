/* AECS audit lines, which the host hands the AECS enclave at start (and aecsadmin reads
 * from a file): any bytes are verified or refused, never crash, and what passes is a
 * chain that goes on from where it said it started. The first byte picks the starting
 * sequence number; an odd second byte gives a checked head (seq: the third byte, hash: the
 * next 32). The identity key is P-256's generator (a valid point no line here is signed
 * for), so unsigned lines that chain are the most that passes: none of them may count
 * as verified unless the head names it. */
#include <kubetee/aecs.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t G[64] = {
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 2) return 0;
    kt_aecs_audit_head head = {0};
    bool with_head = (data[1] & 1) && n >= 35;
    size_t skip = with_head ? 35 : 2;
    if (with_head) {
        head.seq = data[2];
        memcpy(head.hash, data + 3, 32);
    }
    kt_aecs_audit_result r;
    kt_status st = kt_aecs_audit_verify(data + skip, n - skip, G, data[0], NULL, with_head ? &head : NULL, &r);
    if (st != KT_OK && st != KT_ERR_VERIFY) abort();
    if (r.seq < data[0] || r.tail_seq < r.seq) abort();
    if (!with_head && (r.lines || r.head_seen)) abort(); /* a fabricated line never verifies */
    if (with_head && r.lines && (!r.head_seen || r.seq != head.seq)) abort();
    return 0;
}
