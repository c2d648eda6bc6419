/* A meter over the bytes a client sends on one HTTP/2 connection, before gRPC core reads
 * them. gRPC core 1.51 binds its own limits only on a client that acknowledges SETTINGS,
 * and has none for rapid reset (CVE-2023-44487) or control-frame floods; so this reads the
 * frame headers (never the payloads) and says when a connection passed what any client of
 * ours needs:
 *   - a header block (HEADERS and its CONTINUATIONs) longer than header_block bytes: one
 *     that never ends was never checked at all (it is not a call until it ends);
 *   - RST_STREAM frames faster than resets a second, after a burst of ten seconds' worth;
 *   - PING, SETTINGS, PRIORITY and empty DATA frames faster than control a second, after
 *     a burst of two seconds' worth, beyond EARNED for each request or message and one for
 *     each BYTES_PER_PING bytes the server sent (a flood of them carries neither);
 *   - WINDOW_UPDATE frames faster than control a second beyond one for each
 *     BYTES_PER_UPDATE bytes the server sent on the connection (a reading client's updates
 *     follow what it reads).
 * Bytes that do not open with the client preface (TLS, or not HTTP/2) turn the meter off
 * for the connection. Pure: the caller gives the time, so the fuzzer drives it too. */
#include "internal.h"

#include <stdatomic.h>
#include <string.h>

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24
/* a bucket holds this many seconds of its rate: resets come in bursts (a client cancelling
 * what it waits for), control frames do not (gRPC core 1.51 spends ~10 KiB on each PING it
 * acknowledges) */
#define RESET_BURST_S 10
#define CONTROL_BURST_S 2
#define EARNED 4 /* control frames a HEADERS or DATA frame earns */
/* A WINDOW_UPDATE is earned by this many bytes the server sent: a client updates after
 * reading DATA, at most for the stream and the connection per frame read, and the
 * smallest frame that carries a message is 14 bytes */
#define BYTES_PER_UPDATE 5
#define WINDOW_EARNED_MAX 65536 /* what sending may put in the bucket beyond the burst */
/* ... and a PING (a reading client's BDP probes follow its reads, about one a round trip;
 * a PING's acknowledgement is 17 bytes, so a flood never pays for itself) */
#define BYTES_PER_PING 256

enum { DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6,
       WINDOW_UPDATE = 8, CONTINUATION = 9 };
#define END_STREAM 0x1
#define ACK 0x1
#define END_HEADERS 0x4

/* Adds to the WINDOW_UPDATE bucket, up to max (it is also filled from the sending
 * thread). */
static void add_window(kt_rpc_meter *m, int64_t add, int64_t max)
{
    int64_t cur = atomic_load(&m->window);
    while (cur < max && !atomic_compare_exchange_weak(&m->window, &cur,
                                                      cur + add > max ? max : cur + add))
        ;
}

void kt_rpc_meter_sent(kt_rpc_meter *m, const kt_rpc_meter_limits *l, size_t n)
{
    int64_t bytes = (int64_t)(n > (1u << 30) ? (1u << 30) : n);
    add_window(m, bytes * (1000 / BYTES_PER_UPDATE),
               ((int64_t)l->control * CONTROL_BURST_S + WINDOW_EARNED_MAX) * 1000);
    atomic_fetch_add(&m->sent_pings, bytes * 1000 / BYTES_PER_PING);
}

/* Tokens in thousandths. */
static void refill(kt_rpc_meter *m, const kt_rpc_meter_limits *l, int64_t now_ms)
{
    int64_t cmax = (int64_t)l->control * CONTROL_BURST_S * 1000;
    int64_t dt = now_ms - m->last_ms;
    if (dt > 0) {
        if (dt > RESET_BURST_S * 1000) dt = RESET_BURST_S * 1000;
        m->last_ms = now_ms;
        int64_t r = m->resets + (int64_t)l->resets * dt;
        int64_t rmax = (int64_t)l->resets * RESET_BURST_S * 1000;
        m->resets = r > rmax ? rmax : r;
        if (m->control < cmax) { /* time alone fills the buckets to the burst */
            int64_t c = m->control + (int64_t)l->control * dt;
            m->control = c > cmax ? cmax : c;
        }
        add_window(m, (int64_t)l->control * dt, cmax);
    }
    /* what sending earned, up to twice the burst */
    int64_t c = m->control + atomic_exchange(&m->sent_pings, 0);
    m->control = c > 2 * cmax ? 2 * cmax : c;
}

void kt_rpc_meter_init(kt_rpc_meter *m, const kt_rpc_meter_limits *l, int64_t now_ms)
{
    memset(m, 0, sizeof *m);
    m->last_ms = now_ms;
    m->resets = (int64_t)l->resets * RESET_BURST_S * 1000;
    m->control = (int64_t)l->control * CONTROL_BURST_S * 1000;
    atomic_init(&m->window, m->control);
    atomic_init(&m->sent_pings, 0);
}

static kt_rpc_meter_verdict spend(int64_t *bucket, kt_rpc_meter_verdict over)
{
    if (*bucket < 1000) return over;
    *bucket -= 1000;
    return KT_METER_OK;
}

/* A request or a message earns the control frames that come with traffic (a client's
 * WINDOW_UPDATEs and pings grow with what it sends and reads), up to the burst. */
static void earn(kt_rpc_meter *m, const kt_rpc_meter_limits *l)
{
    int64_t c = m->control + EARNED * 1000, cmax = (int64_t)l->control * CONTROL_BURST_S * 1000;
    if (m->control < cmax) m->control = c > cmax ? cmax : c;
}

/* A frame header is complete: what it costs. */
static kt_rpc_meter_verdict frame(kt_rpc_meter *m, const kt_rpc_meter_limits *l)
{
    const uint8_t *h = m->head;
    uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    uint8_t type = h[3], flags = h[4];
    m->skip = len;
    switch (type) {
    case HEADERS:
        earn(m, l);
        m->block = len;
        m->in_block = !(flags & END_HEADERS);
        return m->block > l->header_block ? KT_METER_HEADER_BLOCK : KT_METER_OK;
    case CONTINUATION:
        m->block = m->block + len < m->block ? UINT32_MAX : m->block + len;
        if (flags & END_HEADERS) m->in_block = false;
        return m->block > l->header_block ? KT_METER_HEADER_BLOCK : KT_METER_OK;
    case RST_STREAM:
        return spend(&m->resets, KT_METER_RESETS);
    case DATA:
        if (len || (flags & END_STREAM)) {
            earn(m, l);
            return KT_METER_OK;
        }
        return spend(&m->control, KT_METER_CONTROL);
    case SETTINGS:
        if (flags & ACK) return KT_METER_OK;
        return spend(&m->control, KT_METER_CONTROL);
    case WINDOW_UPDATE: {
        int64_t left = atomic_fetch_sub(&m->window, 1000) - 1000;
        return left < 0 ? KT_METER_CONTROL : KT_METER_OK;
    }
    case PING:
    case PRIORITY:
        return spend(&m->control, KT_METER_CONTROL);
    default: /* PUSH_PROMISE, GOAWAY, unknown: gRPC core deals with them */
        return KT_METER_OK;
    }
}

kt_rpc_meter_verdict kt_rpc_meter_feed(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                       const uint8_t *p, size_t n, int64_t now_ms)
{
    if (m->verdict) return m->verdict;
    refill(m, l, now_ms);
    while (n) {
        if (m->preface < PREFACE_LEN) {
            size_t k = PREFACE_LEN - m->preface < n ? PREFACE_LEN - m->preface : n;
            if (memcmp(p, preface + m->preface, k)) return m->verdict = KT_METER_OFF;
            m->preface += (uint32_t)k;
            p += k, n -= k;
        } else if (m->skip) {
            size_t k = m->skip < n ? m->skip : n;
            m->skip -= (uint32_t)k;
            p += k, n -= k;
        } else {
            size_t k = sizeof m->head - m->have < n ? sizeof m->head - m->have : n;
            memcpy(m->head + m->have, p, k);
            m->have += (uint8_t)k;
            if (m->have == sizeof m->head) {
                m->have = 0;
                kt_rpc_meter_verdict v = frame(m, l);
                if (v) return m->verdict = v;
            }
            p += k, n -= k;
        }
    }
    return KT_METER_OK;
}
