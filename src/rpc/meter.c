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
 *     follow what it reads);
 *   - more than streams streams open at once (opened by the client's HEADERS, ended by
 *     RST_STREAM either way or the server's END_STREAM, which the server's frames say):
 *     gRPC core binds its own limit only on a client that acknowledged SETTINGS;
 *   - more than unfinished bytes of DATA on its streams whose request message is not yet
 *     complete (no END_STREAM from the client), or the connections sharing a total
 *     together more than unfinished_total: gRPC core holds a message until it is whole
 *     before any call is made of it, and its resource quota does not bound that.
 * Bytes that do not open with the client preface (TLS, or not HTTP/2) turn the meter off
 * for the connection. Pure: the caller gives the time and serialises a connection's feed
 * and sent, so the fuzzer drives it too. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
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

/* Adds to the WINDOW_UPDATE bucket, up to max. */
static void add_window(kt_rpc_meter *m, int64_t add, int64_t max)
{
    if (m->window < max) m->window = m->window + add > max ? max : m->window + add;
}

/* Frame by frame: calls on(m, l, head) for each frame header complete in p[0..n). */
typedef kt_rpc_meter_verdict (*frame_fn)(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                         const uint8_t *head);
static kt_rpc_meter_verdict frames(kt_rpc_meter_frames *f, kt_rpc_meter *m,
                                   const kt_rpc_meter_limits *l, const uint8_t *p, size_t n,
                                   frame_fn on)
{
    while (n) {
        if (f->skip) {
            size_t k = f->skip < n ? f->skip : n;
            f->skip -= (uint32_t)k;
            p += k, n -= k;
            continue;
        }
        size_t k = sizeof f->head - f->have < n ? sizeof f->head - f->have : n;
        memcpy(f->head + f->have, p, k);
        f->have += (uint8_t)k;
        p += k, n -= k;
        if (f->have == sizeof f->head) {
            f->have = 0;
            f->skip = (uint32_t)f->head[0] << 16 | (uint32_t)f->head[1] << 8 | f->head[2];
            kt_rpc_meter_verdict v = on(m, l, f->head);
            if (v) return v;
        }
    }
    return KT_METER_OK;
}

static uint32_t stream_of(const uint8_t *h)
{
    return ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) &
           0x7fffffffu;
}

static kt_rpc_meter_stream *find(kt_rpc_meter *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->nstreams; i++)
        if (m->streams[i].id == id) return &m->streams[i];
    return NULL;
}

/* The stream's message is complete (or never will be): its bytes are no longer held. */
static void finished(kt_rpc_meter *m, kt_rpc_meter_stream *st)
{
    if (st->ended) return;
    st->ended = true;
    m->unfinished -= st->bytes;
    atomic_fetch_sub(m->total, st->bytes);
    st->bytes = 0;
}

static void remove_stream(kt_rpc_meter *m, kt_rpc_meter_stream *st)
{
    finished(m, st);
    *st = m->streams[--m->nstreams];
}

/* What the server sent: a stream it ended (trailers or RST_STREAM) is closed. */
static kt_rpc_meter_verdict sent_frame(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                       const uint8_t *h)
{
    (void)l;
    uint8_t type = h[3], flags = h[4];
    if (type == RST_STREAM || ((type == HEADERS || type == DATA) && (flags & END_STREAM))) {
        kt_rpc_meter_stream *st = find(m, stream_of(h));
        if (st) remove_stream(m, st);
    }
    return KT_METER_OK;
}

void kt_rpc_meter_sent(kt_rpc_meter *m, const kt_rpc_meter_limits *l, const uint8_t *p, size_t n)
{
    int64_t bytes = (int64_t)(n > (1u << 30) ? (1u << 30) : n);
    add_window(m, bytes * (1000 / BYTES_PER_UPDATE),
               ((int64_t)l->control * CONTROL_BURST_S + WINDOW_EARNED_MAX) * 1000);
    m->sent_pings += bytes * 1000 / BYTES_PER_PING;
    frames(&m->out, m, l, p, n, sent_frame);
}

void kt_rpc_meter_release(kt_rpc_meter *m)
{
    atomic_fetch_sub(m->total, m->unfinished);
    m->unfinished = 0;
    free(m->streams);
    m->streams = NULL;
    m->nstreams = m->cap = 0;
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
    int64_t c = m->control + m->sent_pings;
    m->sent_pings = 0;
    m->control = c > 2 * cmax ? 2 * cmax : c;
}

void kt_rpc_meter_init(kt_rpc_meter *m, const kt_rpc_meter_limits *l, int64_t now_ms,
                       _Atomic uint64_t *total)
{
    memset(m, 0, sizeof *m);
    m->last_ms = now_ms;
    m->resets = (int64_t)l->resets * RESET_BURST_S * 1000;
    m->control = (int64_t)l->control * CONTROL_BURST_S * 1000;
    m->window = m->control;
    m->total = total;
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

/* The client opened a stream. */
static kt_rpc_meter_verdict opened(kt_rpc_meter *m, const kt_rpc_meter_limits *l, uint32_t id,
                                   bool ended)
{
    if (m->nstreams >= l->streams) return KT_METER_STREAMS;
    if (m->nstreams == m->cap) {
        uint32_t cap = m->cap ? 2 * m->cap : 4;
        if (cap > l->streams) cap = l->streams;
        kt_rpc_meter_stream *t = realloc(m->streams, cap * sizeof *t);
        if (!t) return KT_METER_STREAMS; /* no memory to hold it either */
        m->streams = t;
        m->cap = cap;
    }
    m->streams[m->nstreams++] = (kt_rpc_meter_stream){id, 0, ended};
    return KT_METER_OK;
}

/* DATA on a stream: a message that is not complete yet holds its bytes. */
static kt_rpc_meter_verdict data(kt_rpc_meter *m, const kt_rpc_meter_limits *l, uint32_t id,
                                 uint32_t len, bool end)
{
    kt_rpc_meter_stream *st = find(m, id);
    if (!st || st->ended) return KT_METER_OK; /* gRPC core refuses or drops it */
    if (end) {
        finished(m, st);
        return KT_METER_OK;
    }
    /* the frame that would pass a budget is not counted: the connection is cut before
     * gRPC core reads it */
    if (m->unfinished + len > l->unfinished) return KT_METER_UNFINISHED;
    uint64_t total = atomic_load(m->total);
    do
        if (total + len > l->unfinished_total) return KT_METER_UNFINISHED_TOTAL;
    while (!atomic_compare_exchange_weak(m->total, &total, total + len));
    st->bytes += len;
    m->unfinished += len;
    return KT_METER_OK;
}

/* A frame header from the client is complete: what it costs. */
static kt_rpc_meter_verdict frame(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                  const uint8_t *h)
{
    uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2], id = stream_of(h);
    uint8_t type = h[3], flags = h[4];
    switch (type) {
    case HEADERS: {
        earn(m, l);
        m->block = len;
        m->in_block = !(flags & END_HEADERS);
        if (m->block > l->header_block) return KT_METER_HEADER_BLOCK;
        if ((id & 1) && id > m->last_id) { /* a new stream (others: gRPC core's to judge) */
            m->last_id = id;
            return opened(m, l, id, flags & END_STREAM);
        }
        kt_rpc_meter_stream *st = find(m, id);
        if (st && (flags & END_STREAM)) finished(m, st); /* trailers */
        return KT_METER_OK;
    }
    case CONTINUATION:
        m->block = m->block + len < m->block ? UINT32_MAX : m->block + len;
        if (flags & END_HEADERS) m->in_block = false;
        return m->block > l->header_block ? KT_METER_HEADER_BLOCK : KT_METER_OK;
    case RST_STREAM: {
        kt_rpc_meter_stream *st = find(m, id);
        if (st) remove_stream(m, st);
        return spend(&m->resets, KT_METER_RESETS);
    }
    case DATA:
        if (len || (flags & END_STREAM)) {
            earn(m, l);
            return data(m, l, id, len, flags & END_STREAM);
        }
        return spend(&m->control, KT_METER_CONTROL);
    case SETTINGS:
        if (flags & ACK) return KT_METER_OK;
        return spend(&m->control, KT_METER_CONTROL);
    case WINDOW_UPDATE:
        m->window -= 1000;
        return m->window < 0 ? KT_METER_CONTROL : KT_METER_OK;
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
    if (m->preface < PREFACE_LEN) {
        size_t k = PREFACE_LEN - m->preface < n ? PREFACE_LEN - m->preface : n;
        if (memcmp(p, preface + m->preface, k)) return m->verdict = KT_METER_OFF;
        m->preface += (uint32_t)k;
        p += k, n -= k;
    }
    return m->verdict = frames(&m->in, m, l, p, n, frame);
}
