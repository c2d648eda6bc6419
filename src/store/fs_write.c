/* The fs backend's files written side by side: each write creates, writes and fsyncs its
 * file on its own, and the fsyncs of several threads waiting at once are committed by the
 * file system's journal together, where one after another each would wait for a commit of
 * its own. The durability of each file is its own fsync's, whatever the file system. */
#include "backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

typedef struct {
    kt_store_fs_write *w;
    size_t n;
    atomic_size_t next;
} work;

static void write_one(kt_store_fs_write *w)
{
    w->st = w->name ? kt_file_write_atomic_at(w->dir, w->name, w->tmp, w->data, w->n, 0600)
                    : kt_file_write_synced_at(w->dir, w->tmp, w->data, w->n, 0600);
    if (w->st) snprintf(w->why, sizeof w->why, "%s", kt_last_error());
}

static void *writer(void *arg)
{
    work *k = arg;
    for (size_t i; (i = atomic_fetch_add(&k->next, 1)) < k->n;)
        write_one(&k->w[i]);
    return NULL;
}

void kt_store_fs_write_all(kt_store_fs_write *w, size_t n)
{
    work k = {.w = w, .n = n};
    atomic_init(&k.next, 0);
    pthread_t t[KT_STORE_FS_WRITERS - 1];
    size_t started = 0;
    while (started + 1 < n && started < KT_STORE_FS_WRITERS - 1 &&
           pthread_create(&t[started], NULL, writer, &k) == 0)
        started++; /* a thread not had: the others (and this one) do its share */
    writer(&k);
    for (size_t i = 0; i < started; i++)
        pthread_join(t[i], NULL);
}
