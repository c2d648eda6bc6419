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
 *   - a request message framed wrongly (its 5-byte prefix read as DATA passes; the bodies
 *     are passed over): a flag byte other than 0 or 1, the compressed flag, anything after
 *     the one request message every method of ours takes (a second message, trailing
 *     bytes), a length over max_message. gRPC core 1.51 accepts the first four as they
 *     are; the meter marks such a message (its first bytes, see KT_RPC_MARK0) before gRPC
 *     core reads it, and the server refuses the call with INTERNAL naming why. Counted
 *     either way. The one case it cannot mark (the message went to gRPC core in an
 *     earlier read) cuts the connection.
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
#define PADDED 0x8

/* Adds to the WINDOW_UPDATE bucket, up to max. */
static void add_window(kt_rpc_meter *m, int64_t add, int64_t max)
{
    if (m->window < max) m->window = m->window + add > max ? max : m->window + add;
}

/* Frame by frame: calls on(m, l, head) for each frame header complete in p[0..n), and
 * body(m, l, bytes, k) for the payload of a frame on() took for a DATA frame to read. */
typedef kt_rpc_meter_verdict (*frame_fn)(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                         const uint8_t *head);
typedef kt_rpc_meter_verdict (*payload_fn)(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                           uint8_t *p, size_t n);
static kt_rpc_meter_verdict frames(kt_rpc_meter_frames *f, kt_rpc_meter *m,
                                   const kt_rpc_meter_limits *l, uint8_t *p, size_t n,
                                   frame_fn on, payload_fn body)
{
    while (n) {
        if (f->skip) {
            size_t k = f->skip < n ? f->skip : n;
            if (body && f->data_id) {
                kt_rpc_meter_verdict v = body(m, l, p, k);
                if (v) return v;
            }
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
            f->data_id = 0;
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
    frames(&m->out, m, l, (uint8_t *)p, n, sent_frame, NULL); /* no payload reader: read only */
}

/* ---- the request message's framing ---- */

static const char *const framing_names[KT_FRAMING_N] = {
    [KT_FRAMING_OK] = "ok",
    [KT_FRAMING_FLAGS] = "flags",
    [KT_FRAMING_COMPRESSED] = "compressed",
    [KT_FRAMING_SECOND] = "second_message",
    [KT_FRAMING_TRAILING] = "trailing_bytes",
    [KT_FRAMING_TOO_LARGE] = "too_large",
};

const char *kt_rpc_framing_name(kt_rpc_framing f)
{
    return f < KT_FRAMING_N ? framing_names[f] : "unknown";
}

kt_rpc_framing kt_rpc_framing_mark(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] != KT_RPC_MARK0 || p[1] <= KT_RPC_MARK1 || p[1] >= KT_RPC_MARK1 + KT_FRAMING_TOO_LARGE)
        return KT_FRAMING_OK;
    return (kt_rpc_framing)(p[1] - KT_RPC_MARK1);
}

void kt_rpc_meter_read(kt_rpc_meter *m)
{
    m->reads++;
}

/* The first message's byte i (0 its flag, 1 and 2 its body's first two) as it should read
 * once marked. */
static uint8_t marked(const kt_rpc_meter_stream *st, int i)
{
    return i == 0 ? 0 : i == 1 ? KT_RPC_MARK0 : (uint8_t)(KT_RPC_MARK1 + st->mark);
}

/* The first message is framed wrongly: counted once, and marked where its bytes are still
 * in this read (the rest are marked as they come). A message of under two bytes, or one
 * whose bytes gRPC core has already, cannot be marked: the connection is cut. */
static kt_rpc_meter_verdict wrong(kt_rpc_meter *m, kt_rpc_meter_stream *st, kt_rpc_framing why)
{
    st->messages = 2; /* nothing more of this stream is read */
    if (st->mark) return KT_METER_OK;
    st->mark = (uint8_t)why;
    m->framing[why]++;
    if (why == KT_FRAMING_TOO_LARGE) return KT_METER_OK; /* gRPC core refuses it itself */
    if (st->size < 2) return KT_METER_FRAMING;
    for (int i = 0; i < 3; i++) {
        if (!st->at[i]) continue; /* still to come */
        if (st->at_read[i] != m->reads) return KT_METER_FRAMING;
        *st->at[i] = marked(st, i);
    }
    return KT_METER_OK;
}

/* Bytes of a stream's DATA, in order (frame_left of the frame's data from p on): the first
 * message's prefix and its first two body bytes are looked at (and remembered while this
 * read lasts), the rest passed over. */
static kt_rpc_meter_verdict message_bytes(kt_rpc_meter *m, const kt_rpc_meter_limits *l,
                                          kt_rpc_meter_stream *st, uint8_t *p, size_t n,
                                          size_t frame_left)
{
    uint8_t *start = p;
    while (n && st->messages < 2) {
        /* anything after the one request message: a second message when the frame holds
         * a prefix's worth (by the frame, so any cut into reads says the same) */
        if (st->messages == 1 && !st->left)
            return wrong(m, st, frame_left - (size_t)(p - start) >= 5 ? KT_FRAMING_SECOND : KT_FRAMING_TRAILING);
        if (st->have < 5) {
            if (!st->have) st->at[0] = p, st->at_read[0] = m->reads;
            st->prefix[st->have++] = *p++;
            n--;
            if (st->have < 5) continue;
            st->messages = 1;
            st->size = st->left = (uint32_t)st->prefix[1] << 24 | (uint32_t)st->prefix[2] << 16 |
                                  (uint32_t)st->prefix[3] << 8 | st->prefix[4];
            kt_rpc_framing why = l->max_message && st->size > l->max_message ? KT_FRAMING_TOO_LARGE
                                 : st->prefix[0] > 1                         ? KT_FRAMING_FLAGS
                                 : st->prefix[0] == 1                        ? KT_FRAMING_COMPRESSED
                                                                             : KT_FRAMING_OK;
            if (why) {
                kt_rpc_meter_verdict v = wrong(m, st, why);
                if (v || why == KT_FRAMING_TOO_LARGE) return v;
                st->messages = 1; /* what is left of it is marked as it passes */
            }
            continue;
        }
        /* the body: its first two bytes remembered (and marked, once it is to be) */
        for (uint32_t i = st->size - st->left; i < 2 && n && st->left; i++) {
            st->at[i + 1] = p;
            st->at_read[i + 1] = m->reads;
            if (st->mark) *p = marked(st, (int)i + 1);
            p++, n--, st->left--;
        }
        size_t k = n < st->left ? n : st->left;
        st->left -= (uint32_t)k;
        p += k, n -= k;
        if (st->mark && !st->left) st->messages = 2; /* marked: nothing more to read */
    }
    return KT_METER_OK;
}

/* A client DATA frame's payload: its pad length, its data, its padding. */
static kt_rpc_meter_verdict data_payload(kt_rpc_meter *m, const kt_rpc_meter_limits *l, uint8_t *p,
                                         size_t n)
{
    kt_rpc_meter_frames *f = &m->in;
    if (f->pad_length) { /* more padding than payload is gRPC core's to refuse */
        f->pad_length = false;
        f->data_left = f->data_left > p[0] ? f->data_left - 1 - p[0] : 0;
        p++, n--;
    }
    size_t k = n < f->data_left ? n : f->data_left, frame_left = f->data_left;
    f->data_left -= (uint32_t)k;
    kt_rpc_meter_stream *st = k ? find(m, f->data_id) : NULL;
    if (!f->data_left) f->data_id = 0; /* the rest is padding */
    return st ? message_bytes(m, l, st, p, k, frame_left) : KT_METER_OK;
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
        if (len) { /* its payload read for the message's framing, on a stream still open */
            kt_rpc_meter_stream *st = find(m, id);
            if (st && !st->ended) {
                m->in.data_id = id;
                m->in.data_left = len;
                m->in.pad_length = flags & PADDED;
            }
        }
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
                                       uint8_t *p, size_t n, int64_t now_ms)
{
    if (m->verdict) return m->verdict;
    refill(m, l, now_ms);
    if (m->preface < PREFACE_LEN) {
        size_t k = PREFACE_LEN - m->preface < n ? PREFACE_LEN - m->preface : n;
        if (memcmp(p, preface + m->preface, k)) return m->verdict = KT_METER_OFF;
        m->preface += (uint32_t)k;
        p += k, n -= k;
    }
    return m->verdict = frames(&m->in, m, l, p, n, frame, data_payload);
}
