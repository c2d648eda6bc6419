/* The crash test's writer (driven by store_crash.py).
 *   store_crash_writer create <url> <count>: two threads create crash/k0000.. (even and
 *     odd numbers), each value made from its number, the even ones one by one
 *     (kt_store_create), the odd ones in batches of 16 (kt_store_put_batch); "ack <key>" is
 *     written to stdout only after its put returned KT_OK. Keys that exist already are
 *     skipped (in a batch: it stops there, and the rest goes into the next one).
 *   store_crash_writer verify <url> <count>: opens the store (so every file is checked),
 *     reads every key and prints "present <key>" (its value compared byte for byte) or
 *     "absent <key>"; anything else, or a key under crash/ it did not write, fails. */
#include <kubetee/store.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kt_store *store;
static unsigned count;

static size_t value_of(unsigned i, uint8_t *v)
{
    size_t n = 1 + (i * 997u) % 12000u; /* up to a few pages: a torn write would show */
    for (size_t j = 0; j < n; j++)
        v[j] = (uint8_t)(i * 31u + j * 7u + (j >> 8));
    return n;
}

static void say(const char *what, const char *key)
{
    char line[KT_STORE_KEY_MAX + 16];
    int n = snprintf(line, sizeof line, "%s %s\n", what, key);
    if (write(1, line, (size_t)n) != n) _exit(3); /* one write: whole lines on the pipe */
}

static void *creator(void *arg)
{
    unsigned first = (unsigned)(uintptr_t)arg;
    static __thread uint8_t v[12001];
    for (unsigned i = first; i < count; i += 2) {
        char key[32];
        snprintf(key, sizeof key, "crash/k%04u", i);
        size_t n = value_of(i, v);
        kt_status st = kt_store_create(store, key, v, n, NULL);
        if (st == KT_OK)
            say("ack", key);
        else if (st != KT_ERR_EXISTS) {
            fprintf(stderr, "create %s: %s\n", key, kt_last_error());
            _exit(2);
        }
    }
    return NULL;
}

#define BATCH 16

static void *batcher(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    static __thread uint8_t v[BATCH][12001];
    static __thread char keys[BATCH][32];
    kt_store_put_item it[BATCH];
    while (i < count) {
        size_t n = 0;
        for (unsigned j = i; j < count && n < BATCH; j += 2, n++) {
            snprintf(keys[n], sizeof keys[n], "crash/k%04u", j);
            it[n] = (kt_store_put_item){.key = keys[n], .value = v[n], .n = value_of(j, v[n])};
        }
        kt_status st = kt_store_put_batch(store, it, n);
        size_t done = 0;
        for (; done < n && it[done].status == KT_OK; done++)
            say("ack", keys[done]);
        if (st) {
            if (done == n || it[done].status != KT_ERR_EXISTS) {
                fprintf(stderr, "put batch: %s\n", kt_last_error());
                _exit(2);
            }
            done++; /* created before this run: skipped */
        }
        i += 2 * (unsigned)done;
    }
    return NULL;
}

static int verify(void)
{
    static uint8_t v[12001];
    kt_store_object o = {0};
    for (unsigned i = 0; i < count; i++) {
        char key[32];
        snprintf(key, sizeof key, "crash/k%04u", i);
        kt_status st = kt_store_get(store, key, &o);
        if (st == KT_ERR_NOT_FOUND) {
            say("absent", key);
            continue;
        }
        size_t n = value_of(i, v);
        if (st) {
            fprintf(stderr, "get %s: %s\n", key, kt_last_error());
            return 1;
        }
        if (o.value.len != n || memcmp(o.value.data, v, n) || o.version != 1) {
            fprintf(stderr, "get %s: %zu bytes, version %llu: not what was written\n", key,
                    o.value.len, (unsigned long long)o.version);
            return 1;
        }
        say("present", key);
    }
    kt_store_object_free(&o);
    /* nothing else under the namespace */
    kt_store_list_result l;
    char after[KT_STORE_KEY_MAX + 1] = "";
    do {
        if (kt_store_list(store, "crash/", after, 1000, &l)) {
            fprintf(stderr, "list: %s\n", kt_last_error());
            return 1;
        }
        for (size_t j = 0; j < l.count; j++) {
            unsigned i;
            char tail;
            if (sscanf(l.entries[j].key, "crash/k%4u%c", &i, &tail) != 1 || i >= count) {
                fprintf(stderr, "list: unexpected key %s\n", l.entries[j].key);
                return 1;
            }
        }
        if (l.count) strcpy(after, l.entries[l.count - 1].key);
        bool more = l.more;
        kt_store_list_result_free(&l);
        if (!more) break;
    } while (1);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "create") && strcmp(argv[1], "verify"))) {
        fprintf(stderr, "usage: %s create|verify <url> <count>\n", argv[0]);
        return 2;
    }
    count = (unsigned)atoi(argv[3]);
    if (kt_store_open(argv[2], &store)) {
        fprintf(stderr, "open: %s\n", kt_last_error());
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[1], "create")) {
        pthread_t t[2];
        for (uintptr_t i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, i ? batcher : creator, (void *)i);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
    } else {
        rc = verify();
    }
    kt_store_free(store);
    return rc;
}
