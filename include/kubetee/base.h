/* kubetee base: status codes, error detail, logging, byte buffers, hex/base64, files.
 *
 * Every function returns kt_status (KT_OK is 0) and writes its outputs through
 * pointers. On failure it records a one-line reason for the calling thread that
 * kt_last_error() returns until the next failure on that thread.
 */
#ifndef KUBETEE_BASE_H
#define KUBETEE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int kt_status;

enum {
    KT_OK = 0,
    /* general errors */
    KT_ERR_INVALID_ARGUMENT = 1, /* a caller passed something unusable */
    KT_ERR_NO_MEMORY = 2,
    KT_ERR_IO = 3,        /* the OS refused a file or socket operation */
    KT_ERR_NOT_FOUND = 4, /* a named thing does not exist */
    KT_ERR_MALFORMED = 5, /* bytes from outside do not parse */
    KT_ERR_TOO_LARGE = 6, /* a size is over its limit */
    KT_ERR_CRYPTO = 7,    /* the crypto library failed */
    KT_ERR_VERIFY = 8,    /* a signature, MAC or measurement does not match */
    KT_ERR_DENIED = 9,    /* a policy or rule refuses the operation */
    KT_ERR_EXISTS = 10,
    KT_ERR_UNSUPPORTED = 11,
    KT_ERR_STATE = 12, /* called in the wrong state */
    KT_ERR_BUFFER_TOO_SMALL = 13,
    KT_ERR_TIMEOUT = 14,     /* a deadline passed */
    KT_ERR_UNAVAILABLE = 15, /* the peer or service is not there (yet) */
    KT_ERR_CANCELLED = 16,   /* the other side or a shutdown ended the operation */

    /* failures at the enclave call gate: the function did not run, or its result
     * could not be delivered. Trusted and untrusted functions never return these. */
    KT_ERR_GATE_FIRST = 100,
    KT_ERR_GATE_NO_FUNCTION = 100,   /* no function of that name is registered */
    KT_ERR_GATE_BAD_MESSAGE = 101,   /* a message did not decode */
    KT_ERR_GATE_TYPE_MISMATCH = 102, /* message type differs from the registered one */
    KT_ERR_GATE_TOO_LARGE = 103,     /* a message is over the enclave's limit */
    KT_ERR_GATE_OUT_OF_TCS = 104,    /* every TCS is busy */
    KT_ERR_GATE_DEPTH = 105,         /* nested calls too deep */
    KT_ERR_GATE_NOT_ALLOWED = 106,   /* call not permitted in this context */
    KT_ERR_GATE_ENCLAVE = 107,       /* the enclave runtime failed */
    KT_ERR_GATE_LAST = 199,

    /* a function returned a code from the gate range; replaced by this one */
    KT_ERR_FUNCTION = 200,
};

/* Short name of a status ("KT_ERR_VERIFY"). */
const char *kt_status_name(kt_status st);
/* True for failures at the call gate, false for codes a function returned. */
bool kt_status_is_gate(kt_status st);

/* Records a reason for this thread and returns st, so callers can write
 * `return kt_fail(KT_ERR_MALFORMED, "quote: header too short (%zu bytes)", n);` */
kt_status kt_fail(kt_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds context in front of the current reason: "loading x: <old reason>". */
kt_status kt_fail_context(kt_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reason recorded by the most recent failure on this thread ("" if none). */
const char *kt_last_error(void);
void kt_clear_error(void);

/* ---- memory ---- */
/* Overwrites n bytes in a way the compiler cannot drop. */
void kt_wipe(void *p, size_t n);
/* Equal-time comparison; returns true when equal. */
bool kt_equal(const void *a, const void *b, size_t n);

/* ---- byte buffer ----
 * A growable byte array. Zero-initialise (`kt_buf b = {0};`) and release with
 * kt_buf_free, which wipes the bytes. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} kt_buf;

kt_status kt_buf_reserve(kt_buf *b, size_t extra);
kt_status kt_buf_append(kt_buf *b, const void *data, size_t n);
/* Appends printf-formatted text of any length (no terminating NUL is counted in len). */
kt_status kt_buf_printf(kt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kt_buf_free(kt_buf *b);

/* ---- little-endian integers ---- */
static inline uint16_t kt_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t kt_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t kt_le64(const uint8_t *p)
{
    return (uint64_t)kt_le32(p) | ((uint64_t)kt_le32(p + 4) << 32);
}
static inline void kt_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void kt_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void kt_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- hex and base64 ---- */
/* Writes 2n lowercase hex digits and a NUL; out_cap must be at least 2n+1. */
kt_status kt_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);
/* Decodes exactly out_len bytes from hex of exactly 2*out_len digits, either case. */
kt_status kt_hex_decode(const char *hex, uint8_t *out, size_t out_len);
/* Standard base64 with padding. */
kt_status kt_base64_encode(const uint8_t *in, size_t n, kt_buf *out);
kt_status kt_base64_decode(const char *in, size_t n, kt_buf *out);
/* Either alphabet, standard (+/) or URL-safe (-_) but not both in one text, padding
 * optional (as proto3's JSON mapping accepts bytes); bits past the last byte must be 0,
 * so each byte string has one text per alphabet and padding choice. */
kt_status kt_base64_decode_any(const char *in, size_t n, kt_buf *out);
/* Why n bytes are not text: "invalid UTF-8" (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF) or "an embedded NUL"; NULL when they are. */
const char *kt_utf8_problem(const void *s, size_t n);
/* A decimal number up to max: digits only, no sign, space or leading zero ("0" itself
 * is fine), so "010" is an error rather than 8 or 10. The error says what is wrong, not
 * the text, which the caller names. */
kt_status kt_decimal_parse(const char *s, uint64_t max, uint64_t *out);
/* The next field of a line of space-separated fields: from *p up to a space or end, 1 to
 * cap-1 bytes, copied NUL-terminated into out; *p moves past it and its space. false for
 * an empty or overlong field. */
bool kt_next_field(const char **p, const char *end, char *out, size_t cap);
/* Bytes from input made safe for messages, plain output and JSON: printable ASCII
 * (0x20..0x7E) passes but for ' (\x27), " (\x22) and \ (\\), every other byte becomes
 * \xNN, so a value shown between single or double quotes can neither close them nor forge
 * an escape. Cut to fit out_cap, never inside an escape, and NUL-terminated (out_cap > 0).
 * Returns out. */
char *kt_escape(const void *in, size_t n, char *out, size_t out_cap);
/* A message already made of escaped parts (kt_last_error(), a reason another process or a
 * library wrote) made one safe line the same way, but its own quotes and escapes pass:
 * kt_escape's output, and this one's, stay as they are. Returns out. */
char *kt_escape_text(const void *in, size_t n, char *out, size_t out_cap);

/* ---- protobuf wire format, read and written in place ----
 * For the small messages of kubetee's own protocols (fields numbered 1..15, each at most
 * once), on the paths where a copy per message counts: a view of the fields that points
 * into the bytes instead of copying them out. */
typedef struct {
    const uint8_t *p;
    size_t n;
} kt_bytes; /* bytes someone else keeps */
typedef struct {
    bool present;
    uint64_t varint;     /* a varint field's value */
    const uint8_t *data; /* a length-delimited field's bytes, inside the message */
    size_t len;
} kt_pb_field;
/* layout: a character per field number from 1: 'L' length-delimited (bytes, string,
 * message), 'V' varint, '-' not a field. f[i] gets field i+1. KT_ERR_MALFORMED, naming
 * what (the message's name), for a field number not in the layout, another wire type, a
 * field given twice, an over-long varint, or bytes that run past n. */
kt_status kt_pb_view(const uint8_t *m, size_t n, const char *layout, kt_pb_field *f, const char *what);
/* A length-delimited field's tag and length (field 1..15) at p, at most KT_PB_HEADER_MAX
 * bytes; returns how many. kt_pb_header_len says how many without writing. */
#define KT_PB_HEADER_MAX 11
size_t kt_pb_header(uint8_t *p, unsigned field, size_t len);
size_t kt_pb_header_len(size_t len);

/* ---- logging: one line per event, to stderr (host) or through an OCALL (enclave) ---- */
typedef enum { KT_LOG_DEBUG, KT_LOG_INFO, KT_LOG_WARN, KT_LOG_ERROR } kt_log_level;
typedef enum { KT_LOG_KV, KT_LOG_JSON } kt_log_format;

void kt_log_set_format(kt_log_format f);
void kt_log_set_level(kt_log_level min);
/* kt_log(KT_LOG_INFO, "enclave.loaded", "path", p, "mrenclave", hex, NULL):
 * the arguments after the event are key/value string pairs ending in NULL. */
void kt_log(kt_log_level level, const char *event, ...);
void kt_logv(kt_log_level level, const char *event, va_list kv);
/* The same with n key/value pairs of an array: kv[2i] the key, kv[2i+1] the value. */
void kt_log_fields(kt_log_level level, const char *event, const char *const *kv, size_t n);
/* Formats a finished line; used by the enclave runtime to hand lines to the host. */
typedef void (*kt_log_sink)(kt_log_level level, const char *line);
void kt_log_set_sink(kt_log_sink sink);

#ifndef KT_TRUSTED
/* ---- files (untrusted code only) ---- */
/* Reads a whole file; fails with KT_ERR_TOO_LARGE past max bytes. */
kt_status kt_file_read(const char *path, size_t max, kt_buf *out);
/* The same for a name under an open directory (a descriptor from open with O_DIRECTORY,
 * or AT_FDCWD): several files of one directory without walking its path for each. */
kt_status kt_file_read_at(int dir, const char *name, size_t max, kt_buf *out);
/* Writes via a temporary file, fsync and rename; mode applies to the new file. */
kt_status kt_file_write_atomic(const char *path, const void *data, size_t n, unsigned mode);
/* The same under an open directory, durable: writes tmp (which must not exist), fsyncs
 * it, renames it to name and fsyncs the directory, so after KT_OK a crash leaves the new
 * file whole; before, the old one (or none) and perhaps tmp. */
kt_status kt_file_write_atomic_at(int dir, const char *name, const char *tmp, const void *data,
                                  size_t n, unsigned mode);
/* Its first step alone: creates tmp under dir (which must not exist), writes data, fsyncs and
 * closes it (removed again on failure). Renaming it and fsyncing the directory are the
 * caller's: several files written so are made durable by one fsync of their directory. */
kt_status kt_file_write_synced_at(int dir, const char *tmp, const void *data, size_t n,
                                  unsigned mode);
/* Creates a directory and its parents with the given mode if missing. */
kt_status kt_mkdirs(const char *path, unsigned mode);
#endif

#ifdef __cplusplus
}
#endif
#endif
