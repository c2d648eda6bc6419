/* The SQLite store: one file, one table of records by key (WAL, synchronous writes), for
 * a user who wants storage in one file. Records are as the directory store's, and as
 * untrusted: the proxy verifies each one it reads. */
#include "collateral.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    kt_coll_store base;
    sqlite3 *db;
} sql_store;

static kt_status db_fail(sql_store *s, const char *what)
{
    return kt_fail(KT_ERR_IO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static kt_status valid_key(const char *key)
{
    kt_coll_query q;
    return kt_coll_key_parse(key, &q) ? kt_fail_context(KT_ERR_MALFORMED, "store") : KT_OK;
}

static kt_status sql_put(kt_coll_store *base, const char *key, const kt_buf *record)
{
    sql_store *s = (sql_store *)base;
    sqlite3_stmt *st = NULL;
    kt_status rc = valid_key(key);
    if (rc) return rc;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO items(key, record) VALUES(?1, ?2) "
                           "ON CONFLICT(key) DO UPDATE SET record = excluded.record",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, record->data, (int)record->len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(s, "writing an item");
    sqlite3_finalize(st);
    return rc;
}

static kt_status sql_get(kt_coll_store *base, const char *key, kt_buf *record)
{
    sql_store *s = (sql_store *)base;
    sqlite3_stmt *st = NULL;
    kt_status rc = valid_key(key);
    if (rc) return rc;
    if (sqlite3_prepare_v2(s->db, "SELECT record FROM items WHERE key = ?1", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = db_fail(s, "reading an item");
    } else {
        int step = sqlite3_step(st);
        size_t n = step == SQLITE_ROW ? (size_t)sqlite3_column_bytes(st, 0) : 0;
        if (step == SQLITE_DONE)
            rc = kt_fail(KT_ERR_NOT_FOUND, "store: no item %s", key);
        else if (step != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_BLOB)
            rc = db_fail(s, "reading an item");
        else if (n > 2 * KT_COLL_ITEM_MAX + 256)
            rc = kt_fail(KT_ERR_TOO_LARGE, "store: item %s too large", key);
        else
            rc = kt_buf_append(record, sqlite3_column_blob(st, 0), n);
    }
    sqlite3_finalize(st);
    return rc;
}

static kt_status sql_list(kt_coll_store *base, void (*fn)(void *arg, const char *key), void *arg)
{
    sql_store *s = (sql_store *)base;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT key FROM items ORDER BY key", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "listing items");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        char copy[KT_COLL_KEY_MAX];
        if (key && strlen(key) < sizeof copy && valid_key(key) == KT_OK) {
            memcpy(copy, key, strlen(key) + 1);
            fn(arg, copy);
        }
        kt_clear_error();
    }
    kt_status rc = step == SQLITE_DONE ? KT_OK : db_fail(s, "listing items");
    sqlite3_finalize(st);
    return rc;
}

static void sql_free(kt_coll_store *base)
{
    sql_store *s = (sql_store *)base;
    sqlite3_close(s->db);
    free(s);
}

static const kt_coll_store_ops sql_ops = {sql_put, sql_get, sql_list, sql_free};

kt_status kt_coll_store_sqlite(const char *path, kt_coll_store **out)
{
    if (!path || !path[0] || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "store: no file");
    sql_store *s = calloc(1, sizeof *s);
    if (!s) return kt_fail(KT_ERR_NO_MEMORY, "out of memory");
    s->base.ops = &sql_ops;
    /* one connection shared by the serving threads: serialized by SQLite */
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(s->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY NOT NULL, "
                     "record BLOB NOT NULL) STRICT",
                     NULL, NULL, NULL) != SQLITE_OK) {
        kt_status st = kt_fail(KT_ERR_IO, "store: %s: %s", path,
                               s->db ? sqlite3_errmsg(s->db) : "cannot open");
        sql_free(&s->base);
        return st;
    }
    sqlite3_busy_timeout(s->db, 5000);
    *out = &s->base;
    return KT_OK;
}
