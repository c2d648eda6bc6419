/* Fuzz target: every decoder of the attested session protocol, and the paths that feed
 * them from a live session. The first byte picks: 0 Hello, 1 Reply, 2 Finish, 3 record,
 * 4 the routing id reader, 5 a record opened by an established session, 6 a Hello to a
 * fresh responder, 7 a Reply to an initiator that sent its Hello, 8 a Finish to a
 * responder that sent its Reply. */
#include "../src/session/internal.h"

#include <stdlib.h>
#include <string.h>

static kt_key *key_a, *key_b;
static kt_session *open_r;

static kt_session_config side(kt_session_role role, const kt_key *mine, const kt_key **peer)
{
    kt_session_config c = {.role = role, .key = mine};
    c.peer.keys = peer;
    c.peer.key_count = 1;
    return c;
}

static const kt_key *peer_a[1], *peer_b[1];

static void init(void)
{
    if (key_a) return;
    if (kt_key_generate(KT_KEY_P256, &key_a) || kt_key_generate(KT_KEY_P256, &key_b)) abort();
    peer_a[0] = key_a;
    peer_b[0] = key_b;
    kt_session_config ci = side(KT_SESSION_INITIATOR, key_a, peer_b);
    kt_session_config cr = side(KT_SESSION_RESPONDER, key_b, peer_a);
    kt_session *i;
    kt_buf h = {0}, r = {0}, f = {0}, none = {0};
    if (kt_session_new(&ci, &i) || kt_session_new(&cr, &open_r) ||
        kt_session_handshake(i, NULL, 0, &h) || kt_session_handshake(open_r, h.data, h.len, &r) ||
        kt_session_handshake(i, r.data, r.len, &f) ||
        kt_session_handshake(open_r, f.data, f.len, &none))
        abort();
    kt_buf_free(&h), kt_buf_free(&r), kt_buf_free(&f);
    kt_session_free(i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1) return 0;
    const uint8_t *m = data + 1;
    size_t n = size - 1;
    ks_hello h;
    ks_reply r;
    ks_finish f;
    ks_record rec;
    uint8_t id[16];
    char name[KT_SESSION_NAME_MAX + 1];
    kt_buf out = {0};
    kt_session *s = NULL;
    kt_session_config ci = side(KT_SESSION_INITIATOR, key_a, peer_b);
    kt_session_config cr = side(KT_SESSION_RESPONDER, key_b, peer_a);
    switch (data[0]) {
    case 0:
        if (!ks_hello_decode(m, n, &h) && (h.offer_count == 0 || h.pub != m + n - KS_PUB_LEN))
            abort();
        break;
    case 1:
        if (!ks_reply_decode(m, n, &r) && r.mac + KS_MAC_LEN != m + n) abort();
        break;
    case 2:
        if (!ks_finish_decode(m, n, &f) && f.mac + KS_MAC_LEN != m + n) abort();
        break;
    case 3:
        if (!ks_record_decode(m, n, &rec) &&
            (rec.tag + KT_GCM_TAG_LEN != m + n || !(rec.type == KS_CLOSE || ks_name_ok(rec.name, rec.name_len))))
            abort();
        break;
    case 4:
        kt_session_message_id(m, n, id);
        break;
    case 5:
        /* a forgery would have to pass AES-GCM: never accepted */
        if (kt_session_open(open_r, m, n, name, &out) == KT_OK) abort();
        break;
    case 6:
        if (!kt_session_new(&cr, &s)) kt_session_handshake(s, m, n, &out);
        break;
    case 7:
        if (!kt_session_new(&ci, &s) && !kt_session_handshake(s, NULL, 0, &out)) {
            out.len = 0;
            if (kt_session_handshake(s, m, n, &out) == KT_OK) abort(); /* unsigned by key_b */
        }
        break;
    case 8: {
        kt_session *i = NULL;
        kt_buf hello = {0};
        if (!kt_session_new(&ci, &i) && !kt_session_new(&cr, &s) &&
            !kt_session_handshake(i, NULL, 0, &hello) &&
            !kt_session_handshake(s, hello.data, hello.len, &out)) {
            /* the input's session id made this session's, to reach the proof and MAC */
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, m, n);
            if (n >= 20) memcpy(copy + 4, s->id, 16);
            if (kt_session_handshake(s, copy, n, &out) == KT_OK) abort();
            free(copy);
        }
        kt_buf_free(&hello);
        kt_session_free(i);
        break;
    }
    default:
        break;
    }
    kt_buf_free(&out);
    kt_session_free(s);
    return 0;
}
