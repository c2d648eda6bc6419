/* aecs.store.PutBatch's host side: the enclave's puts as one kt_store_put_batch, answered
 * with how many of the first ones applied and why the next did not. */
#include "aecs_server.h"
#include "aecs.pb-c.h"

#include <kubetee/tff.h>

#include <stdio.h>
#include <string.h>

kt_status aecs_host_put_batch(kt_store *store, const Kubetee__Aecs__V1__StorePutBatchRequest *rq,
                              Kubetee__Aecs__V1__StorePutBatchResponse *rs, kt_status (*refuse)(const char *key))
{
    size_t n = rq->n_puts;
    if (n < 1 || n > KT_STORE_BATCH_MAX)
        return kt_fail(KT_ERR_INVALID_ARGUMENT, "aecs.store.PutBatch: %zu puts is outside 1..%d", n,
                       KT_STORE_BATCH_MAX);
    kt_store_put_item it[KT_STORE_BATCH_MAX];
    size_t tried = n;
    kt_status st = KT_OK;
    char why[1024] = "";
    for (size_t i = 0; i < n; i++) {
        const Kubetee__Aecs__V1__StorePutRequest *p = rq->puts[i];
        it[i] = (kt_store_put_item){.key = p->key, .value = p->value.data, .n = p->value.len,
                                    .expected_version = p->expected_version};
        if (refuse && tried == n && (st = refuse(p->key))) { /* the batch stops there */
            tried = i;
            snprintf(why, sizeof why, "%s", kt_last_error());
        }
    }
    if (tried) {
        kt_status bst = kt_store_put_batch(store, it, tried);
        if (bst) st = bst, snprintf(why, sizeof why, "%s", kt_last_error());
    }
    size_t applied = 0;
    while (applied < tried && it[applied].status == KT_OK)
        applied++;
    rs->applied = kt_call_alloc((applied + 1) * sizeof *rs->applied);
    Kubetee__Aecs__V1__StorePutResponse *r = kt_call_alloc((applied + 1) * sizeof *r);
    if (!rs->applied || !r) return kt_fail(KT_ERR_NO_MEMORY, "aecs.store.PutBatch: out of memory");
    for (size_t i = 0; i < applied; i++) {
        kubetee__aecs__v1__store_put_response__init(&r[i]);
        r[i].version = it[i].expected_version + 1;
        r[i].revision = it[i].revision;
        rs->applied[i] = &r[i];
    }
    rs->n_applied = applied;
    if (applied < n) {
        rs->failed_status = st ? st : KT_ERR_STATE;
        if (!(rs->failed_reason = kt_call_strdup(st ? why : "the store's batch ended early")))
            return kt_fail(KT_ERR_NO_MEMORY, "aecs.store.PutBatch: out of memory");
    }
    return KT_OK;
}
