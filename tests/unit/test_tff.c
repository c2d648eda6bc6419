/* TFF on the sim platform: load, call, OCALL, nesting, TCS, isolation, sealing,
 * identity and local attestation, told as the host sees them. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/tff.h>
#include "tfftest.pb-c.h"
#include "tff.pb-c.h"
#include "../../src/tff/common/gate.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char sim_dir[64];
static kt_enclave *reenter_target;

/* Same name as a function inside the test enclave. */
const char *kt_test_who(void);
const char *kt_test_who(void)
{
    return "host";
}

static const char *enclave_path(const char *name)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/tests/enclaves/%s.signed.so", KT_TEST_BINARY_DIR, name);
    return p;
}

static kt_enclave *load(const char *name)
{
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *e = NULL;
    if (kt_enclave_create(enclave_path(name), &o, &e) != KT_OK)
        fail_msg("loading %s: %s", name, kt_last_error());
    return e;
}

/* ---- untrusted functions the enclave calls ---- */

static kt_status host_twice(const Tfftest__Number *req, Tfftest__Number *res)
{
    res->value = req->value * 2;
    return KT_OK;
}
KT_UNTRUSTED_FUNCTION(host_twice, "HostTwice", Tfftest__Number, tfftest__number, Tfftest__Number,
                      tfftest__number)

static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static int blocked, released;

static kt_status host_block(const Tfftest__Empty *req, Tfftest__Empty *res)
{
    (void)req, (void)res;
    pthread_mutex_lock(&block_lock);
    blocked++;
    pthread_cond_broadcast(&block_cond);
    while (!released)
        pthread_cond_wait(&block_cond, &block_lock);
    pthread_mutex_unlock(&block_lock);
    return KT_OK;
}
KT_UNTRUSTED_FUNCTION(host_block, "HostBlock", Tfftest__Empty, tfftest__empty, Tfftest__Empty,
                      tfftest__empty)

static kt_status host_reenter(const Tfftest__Text *req, Tfftest__Text *res)
{
    char buf[256];
    snprintf(buf, sizeof buf, "host:%s", req->text);
    Tfftest__Text inner_req = TFFTEST__TEXT__INIT, inner_res = TFFTEST__TEXT__INIT;
    inner_req.text = buf;
    kt_status st = kt_enclave_call(reenter_target, "Echo", &inner_req, &inner_res);
    if (!st) res->text = kt_call_strdup(inner_res.text);
    kt_message_clear(&inner_res);
    return st;
}
KT_UNTRUSTED_FUNCTION(host_reenter, "HostReenter", Tfftest__Text, tfftest__text, Tfftest__Text,
                      tfftest__text)

/* Calls back into the enclave until the gate refuses; answers the depth reached. */
static kt_status host_recurse(const Tfftest__Number *req, Tfftest__Number *res)
{
    kt_status st = kt_enclave_call(reenter_target, "Recurse", req, res);
    if (st == KT_ERR_GATE_DEPTH) {
        res->value = req->value;
        return KT_OK;
    }
    return st;
}
KT_UNTRUSTED_FUNCTION(host_recurse, "HostRecurse", Tfftest__Number, tfftest__number,
                      Tfftest__Number, tfftest__number)

/* ---- helpers ---- */

static kt_status seal(kt_enclave *e, int policy, const char *data, Tfftest__Bytes *blob)
{
    Tfftest__SealRequest req = TFFTEST__SEAL_REQUEST__INIT;
    req.policy = (uint32_t)policy;
    req.data.data = (uint8_t *)data;
    req.data.len = strlen(data);
    req.aad.data = (uint8_t *)"label";
    req.aad.len = 5;
    return kt_enclave_call(e, "Seal", &req, blob);
}

static kt_status unseal(kt_enclave *e, const Tfftest__Bytes *blob, char *out, size_t cap)
{
    Tfftest__SealRequest res = TFFTEST__SEAL_REQUEST__INIT;
    kt_status st = kt_enclave_call(e, "Unseal", blob, &res);
    if (!st) {
        snprintf(out, cap, "%.*s|%.*s", (int)res.data.len, (const char *)res.data.data,
                 (int)res.aad.len, (const char *)res.aad.data);
    }
    kt_message_clear(&res);
    return st;
}

static int count_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size;
    ++*(int *)arg;
    return 0;
}

static int loaded_objects(void)
{
    int n = 0;
    dl_iterate_phdr(count_loaded, &n);
    return n;
}

/* ---- the story ---- */

static void test_load_and_call_by_name(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
    req.text = "world";
    assert_int_equal(kt_enclave_call(e, "Echo", &req, &res), KT_OK);
    assert_string_equal(res.text, "enclave:world");
    kt_message_clear(&res);
    assert_string_equal(res.text, ""); /* cleared back to its initial value */
    const kt_enclave_identity *id = kt_enclave_identity_of(e);
    assert_int_equal(id->config.prodid, 1);
    assert_int_equal(id->config.tcs_count, 2);
    kt_enclave_destroy(e);
}

static void test_tampered_image_is_refused_before_any_code_runs(void **state)
{
    (void)state;
    kt_buf b = {0};
    assert_int_equal(kt_file_read(enclave_path("tfftest"), KT_IMAGE_MAX, &b), KT_OK);
    kt_signed_image img;
    kt_enclave_identity id;
    assert_int_equal(kt_image_verify(b.data, b.len, &img, &id), KT_OK);
    b.data[id.entry + 3] ^= 0x01; /* one byte of the entry point's code */
    char path[128];
    snprintf(path, sizeof path, "%s/tampered.so", sim_dir);
    assert_int_equal(kt_file_write_atomic(path, b.data, b.len, 0644), KT_OK);
    int before = loaded_objects();
    kt_enclave *e = NULL;
    kt_enclave_options o = {.sim_dir = sim_dir};
    assert_fails_with(kt_enclave_create(path, &o, &e), KT_ERR_VERIFY, "measurement mismatch");
    assert_null(e);
    assert_int_equal(loaded_objects(), before); /* never mapped, so never ran */
    kt_buf_free(&b);
}

/* Bytes of the file no segment's file range covers, but that share a page with one: the
 * 8 bytes at a segment's page tail and the 8 before an unaligned segment start. */
typedef struct {
    Elf64_Phdr ph[16];
    unsigned n;
    uint64_t spots[32];
    unsigned nspots;
} file_gaps;

static bool in_segment_file(const file_gaps *g, uint64_t off)
{
    for (unsigned i = 0; i < g->n; i++)
        if (off >= g->ph[i].p_offset && off < g->ph[i].p_offset + g->ph[i].p_filesz) return true;
    return false;
}

static void find_gaps(const uint8_t *elf, file_gaps *g)
{
    Elf64_Ehdr eh;
    memcpy(&eh, elf, sizeof eh);
    memset(g, 0, sizeof *g);
    for (unsigned i = 0; i < eh.e_phnum && g->n < 16; i++) {
        memcpy(&g->ph[g->n], elf + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr));
        if (g->ph[g->n].p_type == PT_LOAD) g->n++;
    }
    for (unsigned i = 0; i < g->n; i++) {
        uint64_t start = g->ph[i].p_offset, end = start + g->ph[i].p_filesz;
        uint64_t tail = ((end + 4095) & ~4095ull) - 8;
        uint64_t cand[2] = {tail, start - 8};
        bool fits[2] = {tail >= end, start % 4096 >= 8};
        for (int c = 0; c < 2; c++) {
            uint64_t off = cand[c];
            bool ok = fits[c];
            for (uint64_t b = off; ok && b < off + 8; b++)
                ok = !in_segment_file(g, b);
            if (ok && g->nspots < 32) g->spots[g->nspots++] = off;
        }
    }
}

typedef struct {
    const file_gaps *g;
    unsigned checked, executable;
    bool nonzero;
} gap_probe;

/* Reads every gap at each address the loaded enclave maps its file page to. */
static int probe_enclave(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    gap_probe *p = arg;
    if (!info->dlpi_name || strncmp(info->dlpi_name, "/proc/self/fd/", 14) != 0) return 0;
    for (unsigned s = 0; s < p->g->nspots; s++)
        for (unsigned i = 0; i < p->g->n; i++) {
            const Elf64_Phdr *ph = &p->g->ph[i];
            uint64_t off = p->g->spots[s], first = ph->p_offset & ~4095ull;
            uint64_t last = (ph->p_offset + ph->p_filesz + 4095) & ~4095ull;
            if (off < first || off + 8 > last) continue;
            /* past p_filesz but within p_memsz is the segment's bss: zeroed by the
             * loader, then the enclave's own variables, not the file's bytes */
            if (off + 8 > ph->p_offset + ph->p_filesz && off < ph->p_offset + ph->p_memsz) continue;
            const uint8_t *at =
                (const uint8_t *)(info->dlpi_addr + ph->p_vaddr - ph->p_offset + off);
            for (int b = 0; b < 8; b++)
                p->nonzero |= at[b] != 0;
            p->checked++;
            if (ph->p_flags & PF_X) p->executable++;
        }
    return 0;
}

static void test_unmeasured_bytes_never_reach_the_enclave(void **state)
{
    (void)state;
    kt_buf b = {0};
    assert_int_equal(kt_file_read(enclave_path("tfftest"), KT_IMAGE_MAX, &b), KT_OK);
    kt_signed_image img;
    kt_enclave_identity before, after;
    assert_int_equal(kt_image_verify(b.data, b.len, &img, &before), KT_OK);
    file_gaps g;
    find_gaps(b.data, &g);
    assert_true(g.nspots > 0);
    for (unsigned s = 0; s < g.nspots; s++)
        memset(b.data + g.spots[s], 0xCC, 8); /* int3s, for a jump into them */
    /* the patch is outside every measured byte: same MRENCLAVE, the image still loads */
    assert_int_equal(kt_image_verify(b.data, b.len, &img, &after), KT_OK);
    assert_memory_equal(before.mrenclave, after.mrenclave, 32);
    char path[128];
    snprintf(path, sizeof path, "%s/patched-gaps.so", sim_dir);
    assert_int_equal(kt_file_write_atomic(path, b.data, b.len, 0644), KT_OK);
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *e = NULL;
    assert_int_equal(kt_enclave_create(path, &o, &e), KT_OK);
    gap_probe p = {.g = &g};
    dl_iterate_phdr(probe_enclave, &p);
    assert_true(p.executable > 0); /* a gap in the code segment's page was looked at */
    assert_false(p.nonzero);       /* and every mapped gap reads back as zero */
    kt_enclave_destroy(e);
    kt_buf_free(&b);
}

static void test_wrong_signer_is_refused(void **state)
{
    (void)state;
    kt_enclave *good = load("tfftest");
    uint8_t want[32];
    memcpy(want, kt_enclave_identity_of(good)->mrsigner, 32);
    kt_enclave_options o = {.sim_dir = sim_dir, .expect_mrsigner = want};
    kt_enclave *e = NULL;
    assert_fails_with(kt_enclave_create(enclave_path("tfftest_other"), &o, &e), KT_ERR_DENIED,
                      "signed by");
    assert_null(e);
    assert_int_equal(kt_enclave_create(enclave_path("tfftest_v2"), &o, &e), KT_OK);
    kt_enclave_destroy(e);
    kt_enclave_destroy(good);
}

static void test_enclave_symbols_are_isolated_from_the_host(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    Tfftest__Empty req = TFFTEST__EMPTY__INIT;
    Tfftest__Text res = TFFTEST__TEXT__INIT;
    assert_int_equal(kt_enclave_call(e, "WhoAmI", &req, &res), KT_OK);
    assert_string_equal(res.text, "enclave");   /* not the host's kt_test_who */
    assert_string_equal(kt_test_who(), "host"); /* nor the other way round */
    kt_message_clear(&res);
    /* the enclave's runtime is not visible to the host's symbol lookups */
    assert_null(dlsym(RTLD_DEFAULT, "kt_ocall"));
    assert_null(dlsym(RTLD_DEFAULT, "kt_trusted_register"));
    kt_enclave_destroy(e);
}

static void test_gate_failures_are_told_apart_from_function_errors(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    Tfftest__Number num = TFFTEST__NUMBER__INIT;
    Tfftest__Empty empty = TFFTEST__EMPTY__INIT;
    Tfftest__Text text = TFFTEST__TEXT__INIT;

    kt_status st = kt_enclave_call(e, "NoSuchFunction", &num, &empty);
    assert_int_equal(st, KT_ERR_GATE_NO_FUNCTION);
    assert_true(kt_status_is_gate(st));
    assert_non_null(strstr(kt_last_error(), "NoSuchFunction"));

    num.value = 1234; /* the function's own code comes back unchanged */
    st = kt_enclave_call(e, "Fail", &num, &empty);
    assert_int_equal(st, 1234);
    assert_false(kt_status_is_gate(st));
    num.value = KT_ERR_GATE_OUT_OF_TCS; /* a function can't impersonate the gate */
    assert_int_equal(kt_enclave_call(e, "Fail", &num, &empty), KT_ERR_FUNCTION);

    assert_fails_with(kt_enclave_call(e, "Echo", &num, &text), KT_ERR_GATE_TYPE_MISMATCH,
                      "Echo takes tfftest.Text");
    text.text = "x";
    assert_fails_with(kt_enclave_call(e, "Echo", &text, &num), KT_ERR_GATE_TYPE_MISMATCH,
                      "Echo returns tfftest.Text");
    Tfftest__Text uninit; /* res must be initialised */
    memset(&uninit, 0, sizeof uninit);
    assert_int_equal(kt_enclave_call(e, "Echo", &text, &uninit), KT_ERR_INVALID_ARGUMENT);
    kt_enclave_destroy(e);
}

static int find_entry(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    if (!info->dlpi_name || strncmp(info->dlpi_name, "/proc/self/fd/", 14) != 0) return 0;
    void *h = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
    if (h) *(kt_gate_entry *)arg = (kt_gate_entry)dlsym(h, "kt_enclave_entry"), dlclose(h);
    return 1;
}

/* An ECALL straight through the gate, as a hostile host would make it. */
static kt_status raw_ecall(kt_gate_entry entry, const char *name, size_t name_len)
{
    static kt_gate_call c;
    memset(&c, 0, sizeof c);
    c.op = KT_GATE_ECALL;
    c.name = name;
    c.name_len = name_len;
    c.req_type = c.res_type = "tfftest.Text";
    c.req_type_len = c.res_type_len = strlen("tfftest.Text");
    kt_status st = entry(&c);
    if (st == KT_OK && c.res != c.res_inline) free(c.res);
    return st;
}

static void test_gate_copies_names_by_the_callers_length(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    kt_gate_entry entry = NULL;
    dl_iterate_phdr(find_entry, &entry);
    assert_non_null(entry);
    /* "Echo" ends at a page the process can't read: no NUL, and nothing past it is read */
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + page, page, PROT_NONE), 0);
    char *name = m + page - 4;
    memcpy(name, "Echo", 4);
    assert_int_equal(raw_ecall(entry, name, 4), KT_OK);
    /* exactly the length given: three bytes name another function */
    assert_int_equal(raw_ecall(entry, name, 3), KT_ERR_GATE_NO_FUNCTION);
    /* a NUL inside the length, no length, or over 255 bytes is a malformed call */
    memcpy(name, "Ec\0o", 4);
    assert_int_equal(raw_ecall(entry, name, 4), KT_ERR_GATE_BAD_MESSAGE);
    assert_int_equal(raw_ecall(entry, name, 0), KT_ERR_GATE_BAD_MESSAGE);
    assert_int_equal(raw_ecall(entry, m, 256), KT_ERR_GATE_BAD_MESSAGE);
    munmap(m, 2 * page);
    /* the host runtime refuses an over-long name before entering */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
    assert_fails_with(kt_enclave_call(e, longname, &req, &res), KT_ERR_INVALID_ARGUMENT,
                      "over 255 bytes");
    kt_enclave_destroy(e);
}

static void test_oversize_messages_are_refused_both_ways(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest_small"); /* max_message_size = 64K */
    Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    req.text = big;
    assert_fails_with(kt_enclave_call(e, "Echo", &req, &res), KT_ERR_GATE_TOO_LARGE, "limit");
    free(big);
    Tfftest__Number n = TFFTEST__NUMBER__INIT;
    Tfftest__Bytes bytes = TFFTEST__BYTES__INIT;
    n.value = 70000;
    assert_fails_with(kt_enclave_call(e, "Big", &n, &bytes), KT_ERR_GATE_TOO_LARGE,
                      "response of Big");
    n.value = 60000;
    assert_int_equal(kt_enclave_call(e, "Big", &n, &bytes), KT_OK);
    assert_int_equal(bytes.data.len, 60000);
    kt_message_clear(&bytes);
    kt_enclave_destroy(e);
}

static void test_ocall_by_name_and_unknown_ocall(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    Tfftest__Number req = TFFTEST__NUMBER__INIT, res = TFFTEST__NUMBER__INIT;
    req.value = 20;
    assert_int_equal(kt_enclave_call(e, "AddViaHost", &req, &res), KT_OK);
    assert_int_equal(res.value, 41);
    Tfftest__Empty empty = TFFTEST__EMPTY__INIT, out = TFFTEST__EMPTY__INIT;
    /* the enclave got KT_ERR_GATE_NO_FUNCTION and returned it: it reaches the host as a
     * function error, because the ECALL's own gate worked */
    assert_int_equal(kt_enclave_call(e, "UnknownOcall", &empty, &out), KT_ERR_FUNCTION);
    kt_enclave_destroy(e);
}

static void test_nested_ecall_from_an_ocall_and_depth_limit(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    reenter_target = e;
    Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
    req.text = "x";
    assert_int_equal(kt_enclave_call(e, "Nested", &req, &res), KT_OK);
    assert_string_equal(res.text, "enclave:host:x");
    kt_message_clear(&res);
    Tfftest__Number n = TFFTEST__NUMBER__INIT, depth = TFFTEST__NUMBER__INIT;
    assert_int_equal(kt_enclave_call(e, "Recurse", &n, &depth), KT_OK);
    assert_int_equal(depth.value, 8); /* 8 ECALLs deep, the ninth refused at the gate */
    reenter_target = NULL;
    kt_enclave_destroy(e);
}

static void *block_thread(void *arg)
{
    Tfftest__Empty req = TFFTEST__EMPTY__INIT, res = TFFTEST__EMPTY__INIT;
    return (void *)(intptr_t)kt_enclave_call(arg, "Block", &req, &res);
}

static void test_concurrent_calls_are_limited_to_the_tcs_count(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest"); /* tcs_count = 2 */
    pthread_t t[2];
    released = 0, blocked = 0;
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, block_thread, e);
    pthread_mutex_lock(&block_lock);
    while (blocked < 2)
        pthread_cond_wait(&block_cond, &block_lock);
    pthread_mutex_unlock(&block_lock);
    /* both TCS are held by threads waiting in an OCALL: a third call is refused */
    Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
    req.text = "third";
    assert_fails_with(kt_enclave_call(e, "Echo", &req, &res), KT_ERR_GATE_OUT_OF_TCS, "busy");
    pthread_mutex_lock(&block_lock);
    released = 1;
    pthread_cond_broadcast(&block_cond);
    pthread_mutex_unlock(&block_lock);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, KT_OK);
    }
    assert_int_equal(kt_enclave_call(e, "Echo", &req, &res), KT_OK);
    kt_message_clear(&res);
    kt_enclave_destroy(e);
}

static void *echo_thread(void *arg)
{
    intptr_t failures = 0;
    for (int i = 0; i < 300; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", i);
        Tfftest__Text req = TFFTEST__TEXT__INIT, res = TFFTEST__TEXT__INIT;
        req.text = buf;
        kt_status st = kt_enclave_call(arg, "Echo", &req, &res);
        char want[48];
        snprintf(want, sizeof want, "enclave:%s", buf);
        failures += st != KT_OK || strcmp(res.text, want) != 0;
        kt_message_clear(&res);
    }
    return (void *)failures;
}

static void test_calls_from_two_threads(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, echo_thread, e);
    for (int i = 0; i < 2; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        assert_int_equal((intptr_t)failures, 0);
    }
    kt_enclave_destroy(e);
}

static void test_two_instances_do_not_share_state(void **state)
{
    (void)state;
    kt_enclave *a = load("tfftest"), *b = load("tfftest");
    Tfftest__Empty req = TFFTEST__EMPTY__INIT;
    Tfftest__Number res = TFFTEST__NUMBER__INIT;
    for (int i = 0; i < 3; i++)
        assert_int_equal(kt_enclave_call(a, "Counter", &req, &res), KT_OK);
    assert_int_equal(res.value, 3);
    assert_int_equal(kt_enclave_call(b, "Counter", &req, &res), KT_OK);
    assert_int_equal(res.value, 1);
    kt_enclave_destroy(a);
    kt_enclave_destroy(b);
}

static void test_sealing_policies(void **state)
{
    (void)state;
    kt_enclave *v1 = load("tfftest"), *v2 = load("tfftest_v2"), *other = load("tfftest_other"),
               *prod2 = load("tfftest_prod2"), *debug = load("tfftest_debug");
    Tfftest__Bytes by_enclave = TFFTEST__BYTES__INIT, by_signer = TFFTEST__BYTES__INIT,
                   v2_signer = TFFTEST__BYTES__INIT;
    char out[128];
    assert_int_equal(seal(v1, 1, "enclave-secret", &by_enclave), KT_OK);
    assert_int_equal(seal(v1, 2, "signer-secret", &by_signer), KT_OK);

    /* MRENCLAVE: this enclave only */
    assert_int_equal(unseal(v1, &by_enclave, out, sizeof out), KT_OK);
    assert_string_equal(out, "enclave-secret|label");
    assert_fails_with(unseal(v2, &by_enclave, out, sizeof out), KT_ERR_VERIFY, "another enclave");
    /* MRSIGNER: a newer enclave of the same signer and product unseals */
    assert_int_equal(unseal(v2, &by_signer, out, sizeof out), KT_OK);
    assert_string_equal(out, "signer-secret|label");
    /* another signer never; another product never; a debug build never */
    assert_int_equal(unseal(other, &by_signer, out, sizeof out), KT_ERR_VERIFY);
    assert_int_equal(unseal(other, &by_enclave, out, sizeof out), KT_ERR_VERIFY);
    assert_int_equal(unseal(prod2, &by_signer, out, sizeof out), KT_ERR_VERIFY);
    assert_int_equal(unseal(debug, &by_signer, out, sizeof out), KT_ERR_VERIFY);
    /* what a newer SVN sealed, an older SVN can't unseal */
    assert_int_equal(seal(v2, 2, "v2-secret", &v2_signer), KT_OK);
    assert_fails_with(unseal(v1, &v2_signer, out, sizeof out), KT_ERR_DENIED, "SVN 2");
    /* one flipped bit anywhere is refused; garbage is named as such */
    for (size_t i = 0; i < by_enclave.data.len; i += 7) {
        by_enclave.data.data[i] ^= 0x10;
        assert_int_not_equal(unseal(v1, &by_enclave, out, sizeof out), KT_OK);
        by_enclave.data.data[i] ^= 0x10;
    }
    by_enclave.data.len -= 1;
    assert_fails_with(unseal(v1, &by_enclave, out, sizeof out), KT_ERR_MALFORMED, "lengths");
    kt_message_clear(&by_enclave), kt_message_clear(&by_signer), kt_message_clear(&v2_signer);
    kt_enclave_destroy(v1), kt_enclave_destroy(v2), kt_enclave_destroy(other);
    kt_enclave_destroy(prod2), kt_enclave_destroy(debug);
}

static void test_egetkey_refusal_is_told_by_the_enclave(void **state)
{
    (void)state;
    kt_enclave *e = load("tfftest");
    Tfftest__Bytes blob = TFFTEST__BYTES__INIT;
    char out[128];
    assert_int_equal(seal(e, 1, "secret", &blob), KT_OK);
    blob.data.data[44] = 0xff; /* CPUSVN byte 0: above this platform's */
    /* the reason comes from the enclave, once, however often it fails */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(unseal(e, &blob, out, sizeof out), KT_ERR_VERIFY);
        if (!strstr(kt_last_error(), "unseal: no key for this blob: EGETKEY: CPUSVN above the "
                                     "platform's"))
            fail_msg("round %d: %s", i, kt_last_error());
        assert_null(strstr(strstr(kt_last_error(), "no key") + 1, "no key"));
    }
    kt_message_clear(&blob);
    kt_enclave_destroy(e);
}

static void identity_of(kt_enclave *e, uint8_t pub[64])
{
    Kubetee__Tff__Empty req = KUBETEE__TFF__EMPTY__INIT;
    Kubetee__Tff__Identity res = KUBETEE__TFF__IDENTITY__INIT;
    assert_int_equal(kt_enclave_call(e, "kt.Identity", &req, &res), KT_OK);
    assert_int_equal(res.public_key.len, 64);
    memcpy(pub, res.public_key.data, 64);
    assert_memory_equal(res.mrenclave.data, kt_enclave_identity_of(e)->mrenclave, 32);
    kt_message_clear(&res);
}

static void test_identity_key_survives_restarts_and_is_never_replaced(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/identity-test.sealed", sim_dir);
    kt_enclave_options o = {.sim_dir = sim_dir, .identity_path = path};
    kt_enclave *e;
    uint8_t first[64], second[64], other[64];
    assert_int_equal(kt_enclave_create(enclave_path("tfftest"), &o, &e), KT_OK);
    identity_of(e, first);
    kt_enclave_destroy(e);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(kt_enclave_create(enclave_path("tfftest"), &o, &e), KT_OK);
    identity_of(e, second);
    kt_enclave_destroy(e);
    assert_memory_equal(first, second, 64);

    /* another enclave can't take this identity: the blob is sealed to MRENCLAVE, and the
     * start fails instead of replacing it */
    kt_buf before = {0}, after = {0};
    assert_int_equal(kt_file_read(path, 1 << 20, &before), KT_OK);
    e = NULL;
    assert_fails_with(kt_enclave_create(enclave_path("tfftest_v2"), &o, &e), KT_ERR_VERIFY,
                      "does not unseal");
    assert_null(e);
    assert_int_equal(kt_file_read(path, 1 << 20, &after), KT_OK);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);
    kt_buf_free(&before), kt_buf_free(&after);

    /* the default location is per MRENCLAVE */
    kt_enclave *v2 = load("tfftest_v2");
    identity_of(v2, other);
    assert_memory_not_equal(first, other, 64);
    kt_enclave_destroy(v2);
}

/* Two signings of one image that differ only in XFRM (AVX on or off) have the same
 * MRENCLAVE and MRSIGNER but other sealing keys: each keeps its own identity file. */
static void test_identity_files_are_keyed_by_the_full_identity(void **state)
{
    (void)state;
    kt_enclave *plain = load("tfftest"), *avx = load("tfftest_avx");
    const kt_enclave_identity *a = kt_enclave_identity_of(plain), *x = kt_enclave_identity_of(avx);
    assert_memory_equal(a->mrenclave, x->mrenclave, 32);
    assert_memory_equal(a->mrsigner, x->mrsigner, 32);
    assert_int_equal(a->attr_xfrm, 0x3);
    assert_int_equal(x->attr_xfrm, 0x7);
    uint8_t pa[64], px[64], again[64];
    identity_of(plain, pa);
    identity_of(avx, px);
    assert_memory_not_equal(pa, px, 64);
    kt_enclave_destroy(plain), kt_enclave_destroy(avx);
    /* both survive a restart, in either order */
    avx = load("tfftest_avx");
    identity_of(avx, again);
    assert_memory_equal(px, again, 64);
    kt_enclave_destroy(avx);
    plain = load("tfftest");
    identity_of(plain, again);
    assert_memory_equal(pa, again, 64);
    kt_enclave_destroy(plain);
}

static void call_report(kt_enclave *e, const Tfftest__Bytes *ti, uint8_t rd_byte,
                        Tfftest__Bytes *out)
{
    Tfftest__ReportRequest req = TFFTEST__REPORT_REQUEST__INIT;
    uint8_t rd[64];
    memset(rd, rd_byte, sizeof rd);
    if (ti) req.target_info = ti->data;
    req.report_data.data = rd;
    req.report_data.len = 64;
    assert_int_equal(kt_enclave_call(e, "Report", &req, out), KT_OK);
    assert_int_equal(out->data.len, 432);
}

static void test_local_attestation_between_two_enclaves(void **state)
{
    (void)state;
    kt_enclave *verifier = load("tfftest"), *prover = load("tfftest_v2");
    Tfftest__Empty empty = TFFTEST__EMPTY__INIT;
    Tfftest__Bytes ti = TFFTEST__BYTES__INIT, report = TFFTEST__BYTES__INIT,
                   self = TFFTEST__BYTES__INIT;
    Tfftest__ReportInfo info = TFFTEST__REPORT_INFO__INIT;
    assert_int_equal(kt_enclave_call(verifier, "TargetInfo", &empty, &ti), KT_OK);
    call_report(prover, &ti, 0x5a, &report);
    assert_int_equal(kt_enclave_call(verifier, "VerifyReport", &report, &info), KT_OK);
    assert_memory_equal(info.mrenclave.data, kt_enclave_identity_of(prover)->mrenclave, 32);
    assert_memory_equal(info.mrsigner.data, kt_enclave_identity_of(prover)->mrsigner, 32);
    assert_int_equal(info.svn, 2);
    assert_int_equal(info.report_data.data[63], 0x5a);
    assert_false(info.debug);
    kt_message_clear(&info);

    /* a changed report_data (a replayed report with the host's own data) fails the MAC */
    report.data.data[320] ^= 1;
    assert_fails_with(kt_enclave_call(verifier, "VerifyReport", &report, &info), KT_ERR_VERIFY,
                      "MAC");
    report.data.data[320] ^= 1;
    /* a report the prover made for itself does not verify in another enclave */
    call_report(prover, NULL, 0x11, &self);
    assert_int_equal(kt_enclave_call(verifier, "VerifyReport", &self, &info), KT_ERR_VERIFY);
    assert_int_equal(kt_enclave_call(prover, "VerifyReport", &self, &info), KT_OK);
    kt_message_clear(&info);
    kt_message_clear(&ti), kt_message_clear(&report), kt_message_clear(&self);
    kt_enclave_destroy(verifier);
    kt_enclave_destroy(prover);
}

static void test_sim_state_is_private_and_stable(void **state)
{
    (void)state;
    char path[128];
    struct stat sb;
    snprintf(path, sizeof path, "%s/seal_secret", sim_dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(sim_dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* a secret others can read is refused, not used */
    assert_int_equal(chmod(path, 0644), 0);
    kt_enclave_options o = {.sim_dir = sim_dir};
    kt_enclave *e = NULL;
    assert_fails_with(kt_enclave_create(enclave_path("tfftest"), &o, &e), KT_ERR_DENIED,
                      "chmod 600");
    assert_int_equal(chmod(path, 0600), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(sim_dir, sizeof sim_dir, "/tmp/kt-tff-XXXXXX");
    return mkdtemp(sim_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rm_tree(sim_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_call_by_name),
        cmocka_unit_test(test_tampered_image_is_refused_before_any_code_runs),
        cmocka_unit_test(test_unmeasured_bytes_never_reach_the_enclave),
        cmocka_unit_test(test_wrong_signer_is_refused),
        cmocka_unit_test(test_enclave_symbols_are_isolated_from_the_host),
        cmocka_unit_test(test_gate_failures_are_told_apart_from_function_errors),
        cmocka_unit_test(test_gate_copies_names_by_the_callers_length),
        cmocka_unit_test(test_oversize_messages_are_refused_both_ways),
        cmocka_unit_test(test_ocall_by_name_and_unknown_ocall),
        cmocka_unit_test(test_nested_ecall_from_an_ocall_and_depth_limit),
        cmocka_unit_test(test_concurrent_calls_are_limited_to_the_tcs_count),
        cmocka_unit_test(test_calls_from_two_threads),
        cmocka_unit_test(test_two_instances_do_not_share_state),
        cmocka_unit_test(test_sealing_policies),
        cmocka_unit_test(test_egetkey_refusal_is_told_by_the_enclave),
        cmocka_unit_test(test_identity_key_survives_restarts_and_is_never_replaced),
        cmocka_unit_test(test_identity_files_are_keyed_by_the_full_identity),
        cmocka_unit_test(test_local_attestation_between_two_enclaves),
        cmocka_unit_test(test_sim_state_is_private_and_stable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
