/* samples/remote, the server enclave: three remote functions (remote.Put, remote.Get,
 * remote.Sign) served as an enclave service to the clients it compiles in: a key
 * (clients.h, made at build time) and the client enclave, by its quote. kubetee-serve hosts it; every byte between a client
 * and these functions is sealed in the session, which the host only relays. */
#include <kubetee/service.h>
#include <kubetee/trusted.h>
#include "clients.h"
#include "remote.pb-c.h"
#include "remote_pins.h"

#include <pthread.h>
#include <string.h>

#define MAX_ENTRIES 256
#define KEY_MAX 64
#define VALUE_MAX 1024
#define MESSAGE_MAX 4096

static struct {
    char key[KEY_MAX + 1];
    uint8_t value[VALUE_MAX];
    size_t len;
    uint64_t version;
} store[MAX_ENTRIES];
static size_t n_store;
static kt_key *signing_key; /* made at the first Sign, in enclave memory only */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static kt_status check_key(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > KEY_MAX) return kt_fail(KT_ERR_INVALID_ARGUMENT, "key: 1 to %d bytes, not %zu", KEY_MAX, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return kt_fail(KT_ERR_INVALID_ARGUMENT, "key: byte %zu is not printable ASCII", i);
    return KT_OK;
}

static size_t find(const char *key)
{
    size_t i = 0;
    while (i < n_store && strcmp(store[i].key, key)) i++;
    return i;
}

static kt_status put(const Remote__PutRequest *req, Remote__PutReply *res)
{
    kt_status st = check_key(req->key);
    if (st) return st;
    if (req->value.len > VALUE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "value: %zu bytes, over %d", req->value.len, VALUE_MAX);
    pthread_mutex_lock(&lock);
    size_t i = find(req->key);
    if (i == n_store && n_store == MAX_ENTRIES) {
        st = kt_fail(KT_ERR_TOO_LARGE, "the store holds %d keys already", MAX_ENTRIES);
    } else {
        if (i == n_store) {
            strcpy(store[i].key, req->key);
            n_store++;
        }
        memcpy(store[i].value, req->value.data, req->value.len);
        store[i].len = req->value.len;
        res->version = ++store[i].version;
    }
    pthread_mutex_unlock(&lock);
    return st;
}
KT_REMOTE_FUNCTION(put, "remote.Put", Remote__PutRequest, remote__put_request, Remote__PutReply, remote__put_reply)

static kt_status get(const Remote__GetRequest *req, Remote__GetReply *res)
{
    kt_status st = check_key(req->key);
    if (st) return st;
    pthread_mutex_lock(&lock);
    size_t i = find(req->key);
    if (i < n_store) {
        res->found = true;
        res->version = store[i].version;
        st = kt_call_bytes(&res->value, store[i].value, store[i].len);
    }
    pthread_mutex_unlock(&lock);
    return st;
}
KT_REMOTE_FUNCTION(get, "remote.Get", Remote__GetRequest, remote__get_request, Remote__GetReply, remote__get_reply)

static kt_status sign(const Remote__SignRequest *req, Remote__SignReply *res)
{
    if (req->message.len > MESSAGE_MAX)
        return kt_fail(KT_ERR_TOO_LARGE, "message: %zu bytes, over %d", req->message.len, MESSAGE_MAX);
    uint8_t pub[64];
    size_t plen;
    kt_buf sig = {0};
    pthread_mutex_lock(&lock);
    kt_status st = signing_key ? KT_OK : kt_key_generate(KT_KEY_P256, &signing_key);
    if (!st) st = kt_sign(signing_key, req->message.data, req->message.len, &sig);
    if (!st) st = kt_key_public_raw(signing_key, pub, sizeof pub, &plen);
    pthread_mutex_unlock(&lock);
    if (!st) st = kt_call_bytes(&res->signature, sig.data, sig.len);
    if (!st) st = kt_call_bytes(&res->public_key, pub, plen);
    kt_buf_free(&sig);
    return st;
}
KT_REMOTE_FUNCTION(sign, "remote.Sign", Remote__SignRequest, remote__sign_request, Remote__SignReply,
                   remote__sign_reply)

/* who may call: the shell's key (clients.h), and the sample's client enclave (the sample's
 * signer, product 8, no debug build), proving itself by a quote that chains to the
 * sample's simulation root (remote_pins.h, made at build time) */
KT_SERVICE_CLIENT_KEYS(REMOTE_CLIENT_KEYS)
KT_SERVICE_CLIENT_POLICY("{\"allow_simulation\":true,\"simulation_root\":\"" REMOTE_SIM_ROOT "\",\"rules\":[{\"mrsigner\":\"" REMOTE_MRSIGNER "\",\"isvprodid\":8,\"allow_debug\":false}]}")
