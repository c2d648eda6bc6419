/* kubetee tlog: the signer's transparency log. Every signature kubetee-signer makes is an
 * entry (what was signed, by which key, for whom, when) in an append-only file of text
 * lines, each holding the hash of the one before; the service signs the head (entry
 * count and last hash) with a P-256 key of its own, so a changed, removed, reordered or
 * cut-off entry is found by anyone with that public key. docs/formats.md, "Transparency
 * log". */
#ifndef KUBETEE_TLOG_H
#define KUBETEE_TLOG_H

#include <kubetee/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_TLOG_NAME_MAX 64
#define KT_TLOG_APPROVERS_MAX 400

typedef struct {
    uint64_t seq;  /* 1, 2, ... */
    uint64_t time; /* seconds since the epoch, UTC */
    uint8_t mrenclave[KT_SHA256_LEN], mrsigner[KT_SHA256_LEN];
    uint16_t prodid, svn;
    bool debug;
    char key[KT_TLOG_NAME_MAX + 1];    /* the signer's key name */
    char client[KT_TLOG_NAME_MAX + 1]; /* who asked */
    char approvers[KT_TLOG_APPROVERS_MAX + 1]; /* who approved: names joined by ',', or "-" */
    uint8_t prev[KT_SHA256_LEN];       /* the previous entry's hash; zeros for the first */
    uint8_t hash[KT_SHA256_LEN];       /* SHA-256 of this line up to its hash field */
} kt_tlog_entry;

/* The line for e (fields as given; hash computed and stored in e). Names must be 1..64
 * bytes of [A-Za-z0-9._-]; approvers such names joined by ',' (no name twice), or "-"
 * (or "", written as "-") when nobody had to approve. */
kt_status kt_tlog_entry_format(kt_tlog_entry *e, kt_buf *line);
/* One line (without its newline) back into e, its hash checked against its text. */
kt_status kt_tlog_entry_parse(const char *line, size_t n, kt_tlog_entry *e);

/* The head: entries and the last entry's hash (zeros for an empty log), when, signed. */
typedef struct {
    uint64_t entries, time;
    uint8_t hash[KT_SHA256_LEN];
} kt_tlog_head;
kt_status kt_tlog_head_format(const kt_tlog_head *h, const kt_key *key, kt_buf *out);
/* Parses a head and checks its signature with pub. */
kt_status kt_tlog_head_parse(const uint8_t *data, size_t n, const kt_key *pub, kt_tlog_head *h);

/* Checks a whole log against its signed head: each line parses and hashes to itself, is
 * numbered one more than the last, chains to it, and the head's count and hash are the
 * last entry's. Calls each (NULL: none) for every entry; stops at its error. The failure
 * names the line. */
typedef kt_status (*kt_tlog_each)(void *arg, const kt_tlog_entry *e);
kt_status kt_tlog_verify(const uint8_t *log, size_t n, const uint8_t *head, size_t head_len,
                         const kt_key *pub, kt_tlog_each each, void *arg, kt_tlog_head *out);

/* The writer: opens (or starts) a log and its head, verifying what is there against
 * key's public half (a log that does not verify is refused, never continued); appends
 * entries, each written and fsynced before the head is re-signed and replaced
 * atomically. Serialised. */
typedef struct kt_tlog kt_tlog;
kt_status kt_tlog_open(const char *path, const char *head_path, const kt_key *key, kt_tlog **out);
/* Fills e->seq, e->prev and e->hash, then appends it. */
kt_status kt_tlog_append(kt_tlog *t, kt_tlog_entry *e);
uint64_t kt_tlog_entries(kt_tlog *t);
/* Appends to lines whole entries from `from` on, none past `upto` (the entries a signed
 * head covers), at most cap bytes of them but always the first: read from the file at an
 * offset the writer remembers, so a page costs its own size, not the log's. Nothing is
 * appended when from > upto. */
kt_status kt_tlog_read(kt_tlog *t, uint64_t from, uint64_t upto, size_t cap, kt_buf *lines);
void kt_tlog_free(kt_tlog *t);

#ifdef __cplusplus
}
#endif
#endif
