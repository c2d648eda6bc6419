#define _GNU_SOURCE
/* image: the ELF reader, the enclave config, MRENCLAVE, SIGSTRUCT and signing.
 * The story: an image measures the same every time; any change to a loadable byte or
 * to the config changes MRENCLAVE; a signed image verifies, and one changed byte
 * anywhere that matters is refused with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include <kubetee/image.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kt_key *signer, *other_signer;

static kt_buf load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/enclaves/%s", KT_TEST_BINARY_DIR, name);
    kt_buf b = {0};
    if (kt_file_read(path, KT_IMAGE_MAX, &b) != KT_OK) fail_msg("%s", kt_last_error());
    return b;
}

static int setup(void **state)
{
    (void)state;
    return kt_key_generate(KT_KEY_RSA3072_E3, &signer) ||
           kt_key_generate(KT_KEY_RSA3072_E3, &other_signer);
}

static int teardown(void **state)
{
    (void)state;
    kt_key_free(signer);
    kt_key_free(other_signer);
    return 0;
}

static kt_buf sign(const kt_buf *elf, const kt_enclave_config *c, const kt_key *key)
{
    kt_buf out = {0};
    if (kt_image_sign(elf->data, elf->len, c, key, 0x20261126, &out) != KT_OK)
        fail_msg("%s", kt_last_error());
    return out;
}

/* bare.so (into elf), signed by signer with the default config (into c). */
static kt_buf sign_bare(kt_buf *elf, kt_enclave_config *c)
{
    *elf = load("bare.so");
    kt_enclave_config_default(c);
    return sign(elf, c, signer);
}

static void test_elf_reader_finds_segments_and_entry(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_elf elf;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);
    assert_true(elf.nseg >= 2);
    assert_true(elf.entry > 0 && elf.entry < elf.image_size);
    assert_int_equal(elf.image_size % KT_PAGE_SIZE, 0);
    assert_int_equal(kt_elf_check_imports(&elf), KT_OK);
    kt_buf_free(&b);
}

static void test_elf_reader_refuses_malformed_files(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_elf elf;
    assert_fails_with(kt_elf_parse(b.data, 10, &elf), KT_ERR_MALFORMED,
                      "shorter than an ELF header");
    assert_fails_with(kt_elf_parse(b.data, 4096, &elf), KT_ERR_MALFORMED, "outside the file");
    uint8_t *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    copy[1] = 'X';
    assert_fails_with(kt_elf_parse(copy, b.len, &elf), KT_ERR_MALFORMED, "bad magic");
    memcpy(copy, b.data, b.len);
    copy[offsetof(Elf64_Ehdr, e_machine)] = 0xB7; /* AArch64 */
    assert_fails_with(kt_elf_parse(copy, b.len, &elf), KT_ERR_MALFORMED, "not x86-64");
    memcpy(copy, b.data, b.len);
    copy[offsetof(Elf64_Ehdr, e_type)] = ET_EXEC;
    assert_fails_with(kt_elf_parse(copy, b.len, &elf), KT_ERR_MALFORMED, "not a shared object");
    /* a program header pointing past the end of the file */
    memcpy(copy, b.data, b.len);
    Elf64_Ehdr eh;
    memcpy(&eh, copy, sizeof eh);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, copy + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD) {
            ph.p_offset = b.len;
            ph.p_vaddr = b.len; /* keep page congruence, break the bounds */
            memcpy(copy + eh.e_phoff + i * sizeof ph, &ph, sizeof ph);
            break;
        }
    }
    assert_int_equal(kt_elf_parse(copy, b.len, &elf), KT_ERR_MALFORMED);
    /* program headers the loader would read from unmeasured bytes (a copy past the end) */
    size_t phsize = eh.e_phnum * sizeof(Elf64_Phdr);
    uint8_t *moved = malloc(b.len + phsize);
    memcpy(moved, b.data, b.len);
    memcpy(moved + b.len, b.data + eh.e_phoff, phsize);
    Elf64_Ehdr meh = eh;
    meh.e_phoff = b.len;
    memcpy(moved, &meh, sizeof meh);
    assert_fails_with(kt_elf_parse(moved, b.len + phsize, &elf), KT_ERR_MALFORMED,
                      "program headers lie outside the first loadable segment");
    free(moved);
    free(copy);
    kt_buf_free(&b);
}

static void test_signing_refuses_forbidden_import_and_names_it(void **state)
{
    (void)state;
    kt_buf b = load("forbidden.so"), out = {0};
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    assert_fails_with(kt_image_sign(b.data, b.len, &c, signer, 0x20261126, &out), KT_ERR_DENIED,
                      "'fopen', which the trusted runtime does not provide");
    assert_int_equal(out.len, 0);
    kt_buf_free(&b);
}

/* The names the review signed and ran: an allow-list refuses them all. */
static void test_only_what_the_trusted_runtime_provides_is_imported(void **state)
{
    (void)state;
    const char *refused[] = {"dlvsym",
                             "BIO_new_file",
                             "BIO_new_connect",
                             "__printf_chk",
                             "__open_2",
                             "remove",
                             "_IO_fopen",
                             "__open64",
                             "__connect",
                             "execveat",
                             "sendfile",
                             "shm_open",
                             "fopen",
                             "getenv",
                             "syscall",
                             "dl_iterate_phdr",
                             "opener",
                             "memcpy@GLIBC_2.2.5",
                             "",
                             "time"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (kt_import_allowed(refused[i])) fail_msg("'%s' is allowed", refused[i]);
    const char *allowed[] = {"memcpy",
                             "snprintf",
                             "EVP_DigestUpdate",
                             "RAND_bytes",
                             "protobuf_c_message_pack",
                             "pthread_mutex_lock",
                             "__asan_init"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (!kt_import_allowed(allowed[i])) fail_msg("'%s' is refused", allowed[i]);
    assert_true(kt_library_allowed("libcrypto.so.3"));
    assert_false(kt_library_allowed("libcrypto.so.1.1"));
    assert_false(kt_library_allowed("./libevil.so"));
}

/* A section header's .dynsym that omits fopen: the dynamic loader reads DT_SYMTAB, and so
 * does the check. */
static void test_a_decoy_dynsym_section_hides_nothing(void **state)
{
    (void)state;
    kt_buf b = load("forbidden.so"), out = {0};
    Elf64_Ehdr eh;
    memcpy(&eh, b.data, sizeof eh);
    size_t shdr = 0;
    Elf64_Shdr sh;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        memcpy(&sh, b.data + eh.e_shoff + i * sizeof sh, sizeof sh);
        if (sh.sh_type == SHT_DYNSYM) {
            shdr = eh.e_shoff + i * sizeof sh;
            break;
        }
    }
    assert_true(shdr != 0);
    /* the decoy: a copy of .dynsym past the end, fopen's name pointed at "" */
    kt_buf d = {0};
    assert_int_equal(kt_buf_append(&d, b.data, b.len), KT_OK);
    assert_int_equal(kt_buf_append(&d, b.data + sh.sh_offset, sh.sh_size), KT_OK);
    Elf64_Shdr str;
    memcpy(&str, b.data + eh.e_shoff + sh.sh_link * sizeof str, sizeof str);
    bool hid = false;
    for (size_t i = 1; i < sh.sh_size / sizeof(Elf64_Sym); i++) {
        Elf64_Sym sym;
        uint8_t *p = d.data + b.len + i * sizeof sym;
        memcpy(&sym, p, sizeof sym);
        if (strcmp((const char *)b.data + str.sh_offset + sym.st_name, "fopen") == 0) {
            sym.st_name = 0;
            memcpy(p, &sym, sizeof sym);
            hid = true;
        }
    }
    assert_true(hid);
    sh.sh_offset = b.len;
    memcpy(d.data + shdr, &sh, sizeof sh);
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    assert_fails_with(kt_image_sign(d.data, d.len, &c, signer, 0x20261126, &out), KT_ERR_DENIED,
                      "'fopen'");
    /* with no section headers at all the image still reads: they are never needed */
    eh.e_shoff = 0, eh.e_shnum = 0, eh.e_shstrndx = 0;
    memcpy(d.data, &eh, sizeof eh);
    kt_elf elf;
    assert_int_equal(kt_elf_parse(d.data, d.len, &elf), KT_OK);
    assert_int_equal(kt_elf_check_imports(&elf), KT_ERR_DENIED);
    kt_buf_free(&b), kt_buf_free(&d);
}

/* Index of the dynamic symbol named name in a parsed image, or 0. */
static size_t symbol_index(const kt_elf *elf, const char *name)
{
    for (size_t i = 1; i < elf->nsyms; i++) {
        kt_elf_sym sym;
        if (kt_elf_symbol(elf, i, &sym) == KT_OK && strcmp(sym.name, name) == 0) return i;
    }
    return 0;
}

static void test_needed_libraries_and_exports_are_the_runtimes_only(void **state)
{
    (void)state;
    kt_buf b = load("bare.so"), out = {0};
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    /* DT_NEEDED "libc.so.6" becomes a library of the developer's choosing */
    uint8_t *lib = memmem(b.data, b.len, "libc.so.6", 10);
    assert_non_null(lib);
    lib[3] = 'z';
    assert_fails_with(kt_image_sign(b.data, b.len, &c, signer, 0x20261126, &out), KT_ERR_DENIED,
                      "library 'libz.so.6'");
    lib[3] = 'c';
    assert_int_equal(kt_image_sign(b.data, b.len, &c, signer, 0x20261126, &out), KT_OK);
    kt_buf_free(&out);

    /* fopen "defined" in the enclave: the dynamic loader would bind the host's fopen */
    kt_buf f = load("forbidden.so");
    kt_elf elf;
    assert_int_equal(kt_elf_parse(f.data, f.len, &elf), KT_OK);
    size_t i = symbol_index(&elf, "fopen");
    assert_true(i > 0);
    uint8_t *sym = (uint8_t *)elf.symtab + i * sizeof(Elf64_Sym);
    kt_put_le16(sym + offsetof(Elf64_Sym, st_shndx), 1);
    assert_fails_with(kt_image_sign(f.data, f.len, &c, signer, 0x20261126, &out), KT_ERR_DENIED,
                      "exports 'fopen'");
    kt_buf_free(&f);

    /* a relocation naming a symbol past the counted table (one the check never read) */
    Elf64_Ehdr eh;
    memcpy(&eh, b.data, sizeof eh);
    bool patched = false;
    for (unsigned k = 0; k < eh.e_shnum && !patched; k++) {
        Elf64_Shdr sh;
        memcpy(&sh, b.data + eh.e_shoff + k * sizeof sh, sizeof sh);
        if (sh.sh_type != SHT_RELA || sh.sh_size < sizeof(Elf64_Rela)) continue;
        uint8_t *info = b.data + sh.sh_offset + offsetof(Elf64_Rela, r_info);
        kt_put_le64(info, (kt_le64(info) & 0xffffffffu) | (0x7777ull << 32));
        patched = true;
    }
    assert_true(patched);
    assert_fails_with(kt_elf_parse(b.data, b.len, &elf), KT_ERR_MALFORMED, "names symbol 30583");
    kt_buf_free(&b);
}

static void test_config_text_and_errors(void **state)
{
    (void)state;
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    const char *good = "# hello\nheap_size = 4M\nstack_size=128K\ntcs_count = 2 # two\n"
                       "prodid = 7\nsvn = 3\ndebug = true\nmax_message_size = 65536\n";
    assert_int_equal(kt_enclave_config_parse(good, strlen(good), &c), KT_OK);
    assert_int_equal(c.heap_size, 4u << 20);
    assert_int_equal(c.stack_size, 128u << 10);
    assert_int_equal(c.tcs_count, 2);
    assert_int_equal(c.prodid, 7);
    assert_int_equal(c.svn, 3);
    assert_true(c.debug);
    kt_enclave_config before = c;
    assert_fails_with(kt_enclave_config_parse("heap = 1M", 9, &c), KT_ERR_MALFORMED,
                      "unknown key 'heap'");
    assert_fails_with(kt_enclave_config_parse("svn = 70000", 11, &c), KT_ERR_MALFORMED, "svn");
    assert_fails_with(kt_enclave_config_parse("tcs_count = x", 13, &c), KT_ERR_MALFORMED,
                      "tcs_count");
    assert_fails_with(kt_enclave_config_parse("heap_size = 4Q", 14, &c), KT_ERR_MALFORMED,
                      "heap_size");
    assert_fails_with(kt_enclave_config_parse("heap_size = 100", 15, &c), KT_ERR_INVALID_ARGUMENT,
                      "multiple of 4096");
    assert_fails_with(kt_enclave_config_parse("tcs_count = 0", 13, &c), KT_ERR_INVALID_ARGUMENT,
                      "1..256");
    assert_fails_with(kt_enclave_config_parse("debug = maybe", 13, &c), KT_ERR_MALFORMED, "debug");
    /* true or false only, as documented */
    const char *not_bool[] = {"debug = yes", "debug = 1", "debug = no", "debug = 0",
                              "debug = TRUE"};
    for (size_t i = 0; i < sizeof not_bool / sizeof not_bool[0]; i++)
        assert_fails_with(kt_enclave_config_parse(not_bool[i], strlen(not_bool[i]), &c),
                          KT_ERR_MALFORMED, "is not true or false");
    /* numbers are decimal, sizes decimal with K/M/G, xfrm hex with 0x: never base 0 */
    const char *ambiguous[] = {"svn = 010",        "prodid = 0x10",      "tcs_count = 02",
                               "heap_size = 010K", "heap_size = 0x1000", "svn = +1",
                               "svn = 1 2",        "xfrm = 3",           "xfrm = 0x",
                               "xfrm = 0X3",       "xfrm = 0x3g",        "heap_size = K"};
    for (size_t i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++)
        assert_fails_with(kt_enclave_config_parse(ambiguous[i], strlen(ambiguous[i]), &c),
                          KT_ERR_MALFORMED, "is not a");
    kt_enclave_config hex;
    kt_enclave_config_default(&hex);
    assert_int_equal(kt_enclave_config_parse("xfrm = 0x7\nsvn = 0\n", 19, &hex), KT_OK);
    assert_int_equal(hex.xfrm, 0x7);
    assert_int_equal(hex.svn, 0);
    /* a key given twice is ambiguous, whatever the values */
    const char *twice = "svn = 1\nheap_size = 4M\nsvn = 2\n";
    assert_fails_with(kt_enclave_config_parse(twice, strlen(twice), &c), KT_ERR_MALFORMED,
                      "line 3: 'svn' is already set on line 1");
    const char *same = "debug = false\n# again\ndebug = false\n";
    assert_fails_with(kt_enclave_config_parse(same, strlen(same), &c), KT_ERR_MALFORMED,
                      "already set on line 1");
    assert_fails_with(kt_enclave_config_parse("svn = 1\0x", 9, &c), KT_ERR_MALFORMED, "NUL");
    assert_fails_with(kt_enclave_config_parse("novalue", 7, &c), KT_ERR_MALFORMED, "line 1");
    /* a failed parse changes nothing */
    assert_memory_equal(&before, &c, sizeof c);
}

static void test_measurement_is_stable_and_covers_bytes_and_config(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    uint8_t m1[32], m2[32];
    assert_int_equal(kt_measure(b.data, b.len, &c, m1), KT_OK);
    assert_int_equal(kt_measure(b.data, b.len, &c, m2), KT_OK);
    assert_memory_equal(m1, m2, 32);

    /* every config field is measured */
    kt_enclave_config v[6];
    for (int i = 0; i < 6; i++)
        v[i] = c;
    v[0].heap_size += 4096;
    v[1].stack_size += 4096;
    v[2].tcs_count += 1;
    v[3].debug = !c.debug;
    v[4].prodid += 1;
    v[5].svn += 1;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(kt_measure(b.data, b.len, &v[i], m2), KT_OK);
        assert_memory_not_equal(m1, m2, 32);
    }

    /* one changed byte in loaded data changes the measurement; the data array's initial
     * bytes sit in a loadable segment */
    kt_elf elf;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);
    const kt_elf_segment *last = &elf.seg[elf.nseg - 1];
    b.data[last->offset + last->filesz - 1] ^= 0x80;
    assert_int_equal(kt_measure(b.data, b.len, &c, m2), KT_OK);
    assert_memory_not_equal(m1, m2, 32);
    kt_buf_free(&b);
}

static void test_sign_and_verify_identity(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    c.prodid = 5;
    c.svn = 9;
    kt_buf s = sign(&b, &c, signer);
    kt_signed_image img;
    kt_enclave_identity id;
    assert_int_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);
    uint8_t mr[32];
    assert_int_equal(kt_measure(b.data, b.len, &c, mr), KT_OK);
    assert_memory_equal(id.mrenclave, mr, 32);
    assert_int_equal(id.config.prodid, 5);
    assert_int_equal(id.config.svn, 9);
    assert_int_equal(id.date, 0x20261126);
    assert_int_equal(img.elf_len, b.len);
    assert_memory_equal(img.elf, b.data, b.len); /* signing never touches the ELF bytes */

    /* MRSIGNER is SHA-256 of the little-endian modulus, as SGX computes it */
    uint8_t mod[384], le[384], want[32];
    size_t len;
    assert_int_equal(kt_key_public_raw(signer, mod, sizeof mod, &len), KT_OK);
    for (int i = 0; i < 384; i++)
        le[i] = mod[383 - i];
    assert_int_equal(kt_sha256(le, 384, want), KT_OK);
    assert_memory_equal(id.mrsigner, want, 32);

    /* SIGSTRUCT fields sit at SGX's offsets */
    const uint8_t *ss = img.sigstruct;
    assert_int_equal(kt_le32(ss), 6);
    assert_int_equal(kt_le32(ss + 4), 0xE1);
    assert_int_equal(kt_le32(ss + 20), 0x20261126);
    assert_memory_equal(ss + 128, le, 384);
    assert_int_equal(kt_le32(ss + 512), 3);
    assert_memory_equal(ss + 960, mr, 32);
    assert_int_equal(kt_le16(ss + 1024), 5);
    assert_int_equal(kt_le16(ss + 1026), 9);
    assert_int_equal(kt_le64(ss + 928), KT_ATTR_MODE64BIT);

    /* a debug enclave says so in its attributes */
    c.debug = true;
    kt_buf d = sign(&b, &c, signer);
    assert_int_equal(kt_image_verify(d.data, d.len, &img, &id), KT_OK);
    assert_true(id.attr_flags & KT_ATTR_DEBUG);
    kt_buf_free(&b), kt_buf_free(&s), kt_buf_free(&d);
}

static void test_tampered_images_are_refused_with_reason(void **state)
{
    (void)state;
    kt_buf b;
    kt_enclave_config c;
    kt_buf s = sign_bare(&b, &c);
    kt_signed_image img;
    kt_enclave_identity id;
    kt_elf elf;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);

    /* one byte of code */
    size_t code = elf.entry; /* the entry's bytes are file-backed at the same offset here */
    s.data[code] ^= 1;
    assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_VERIFY,
                      "measurement mismatch");
    s.data[code] ^= 1;

    /* the config in the trailer: more TCS than were signed for */
    size_t cfg = b.len + 16;
    s.data[cfg + 4] += 1;
    assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_VERIFY,
                      "measurement mismatch");
    s.data[cfg + 4] -= 1;

    /* the signature, the signed body, the modulus, q1 */
    size_t ss = b.len + 16 + 64;
    size_t offs[] = {516 + 100, 900 + 60, 128 + 10, 1040 + 5};
    for (size_t i = 0; i < 4; i++) {
        s.data[ss + offs[i]] ^= 1;
        assert_int_not_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);
        s.data[ss + offs[i]] ^= 1;
    }
    assert_fails_with((s.data[ss + 516] ^= 1, kt_image_verify(s.data, s.len, &img, &id)),
                      KT_ERR_VERIFY, "signature does not verify");
    s.data[ss + 516] ^= 1;

    /* the trailer itself */
    assert_fails_with(kt_image_verify(s.data, s.len - 1, &img, &id), KT_ERR_MALFORMED,
                      "not a signed enclave");
    assert_fails_with(kt_image_verify(b.data, b.len, &img, &id), KT_ERR_MALFORMED, "kubetee sign");
    assert_int_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);

    /* an already signed image is not signed again */
    kt_buf again = {0};
    assert_fails_with(kt_image_sign(s.data, s.len, &c, signer, 0x20261126, &again),
                      KT_ERR_INVALID_ARGUMENT, "already signed");
    kt_buf_free(&b), kt_buf_free(&s);
}

/* A signed image's last segment grown to near 64 GiB of bss, SIGSTRUCT and config kept:
 * the signature verifies and the fields match, so only the size can refuse it, and it
 * must before the measurement (which would hash 64 GiB of pages) starts. */
static void test_a_huge_enclave_is_refused_before_it_is_measured(void **state)
{
    (void)state;
    kt_buf b;
    kt_enclave_config c;
    kt_buf s = sign_bare(&b, &c);
    kt_signed_image img;
    kt_enclave_identity id;
    assert_int_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);
    kt_elf elf;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);
    /* the limit is on ECREATE's size: the image's own size passes, one byte less refuses */
    kt_layout l;
    assert_int_equal(kt_layout_plan(&elf, &img.config, &l), KT_OK);
    uint64_t size = l.size;
    assert_int_equal(kt_image_verify_within(s.data, s.len, size, &img, &id), KT_OK);
    assert_fails_with(kt_image_verify_within(s.data, s.len, size - 1, &img, &id), KT_ERR_TOO_LARGE,
                      "over the maximum enclave size");

    Elf64_Ehdr eh;
    memcpy(&eh, s.data, sizeof eh);
    for (int i = eh.e_phnum - 1; i >= 0; i--) {
        Elf64_Phdr ph;
        memcpy(&ph, s.data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD) continue;
        ph.p_memsz = (63ull << 30) - ph.p_vaddr;
        memcpy(s.data + eh.e_phoff + i * sizeof ph, &ph, sizeof ph);
        break;
    }
    assert_int_equal(kt_elf_parse(s.data, b.len, &elf), KT_OK);
    assert_int_equal(elf.image_size, 63ull << 30);
    /* the default maximum, 8 GiB, refuses it by its size: "not measured" */
    assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_TOO_LARGE,
                      "enclave size 65536 MiB (an image span of 64512 MiB");
    assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_TOO_LARGE,
                      "maximum enclave size of 8192 MiB; not measured");
    kt_buf_free(&b), kt_buf_free(&s);
}

static void test_another_signer_gives_another_mrsigner_same_mrenclave(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    kt_buf s1 = sign(&b, &c, signer), s2 = sign(&b, &c, other_signer);
    kt_signed_image img;
    kt_enclave_identity a, z;
    assert_int_equal(kt_image_verify(s1.data, s1.len, &img, &a), KT_OK);
    assert_int_equal(kt_image_verify(s2.data, s2.len, &img, &z), KT_OK);
    assert_memory_equal(a.mrenclave, z.mrenclave, 32);
    assert_memory_not_equal(a.mrsigner, z.mrsigner, 32);
    /* grafting another signer's SIGSTRUCT signature onto this modulus fails */
    size_t ss = b.len + 16 + 64;
    memcpy(s1.data + ss + 516, s2.data + ss + 516, 384);
    assert_int_equal(kt_image_verify(s1.data, s1.len, &img, &a), KT_ERR_VERIFY);
    kt_buf_free(&b), kt_buf_free(&s1), kt_buf_free(&s2);
}

static void test_two_step_signing_matches_one_step(void **state)
{
    (void)state;
    kt_buf b = load("bare.so");
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    uint8_t sd[KT_SIGDATA_LEN];
    assert_int_equal(kt_image_gendata(b.data, b.len, &c, 0x20261126, sd), KT_OK);
    kt_buf sig = {0}, two = {0};
    assert_int_equal(kt_sign(signer, sd, sizeof sd, &sig), KT_OK); /* the "external" signer */
    assert_int_equal(kt_image_catsig(b.data, b.len, &c, sd, signer, sig.data, sig.len, &two),
                     KT_OK);
    kt_buf one = sign(&b, &c, signer);
    assert_int_equal(one.len, two.len);
    assert_memory_equal(one.data, two.data, one.len); /* PKCS#1 v1.5 is deterministic */

    /* a signature by another key, or signing data made for another config, is refused */
    kt_buf bad = {0};
    assert_fails_with(kt_image_catsig(b.data, b.len, &c, sd, other_signer, sig.data, sig.len, &bad),
                      KT_ERR_VERIFY, "signature does not match");
    kt_enclave_config c2 = c;
    c2.svn = 1;
    assert_fails_with(kt_image_catsig(b.data, b.len, &c2, sd, signer, sig.data, sig.len, &bad),
                      KT_ERR_VERIFY, "not made from this enclave");
    assert_int_equal(bad.len, 0);
    kt_buf_free(&b), kt_buf_free(&sig), kt_buf_free(&two), kt_buf_free(&one);
}

/* Signs SIGSTRUCT again after edit changed the signed bytes (header at 0..127, body at
 * 900..1027, addressed by SIGSTRUCT offset), as a signer with the key could: every check
 * that follows is one the signature does not make. */
static void resign(kt_buf *s, size_t elf_len, size_t off, const void *bytes, size_t n)
{
    uint8_t *ss = s->data + elf_len + 16 + 64, sd[KT_SIGDATA_LEN];
    memcpy(sd, ss, 128);
    memcpy(sd + 128, ss + 900, 128);
    assert_true((off + n <= 128) || (off >= 900 && off + n <= 1028));
    memcpy(off < 128 ? sd + off : sd + 128 + (off - 900), bytes, n);
    kt_buf sig = {0};
    assert_int_equal(kt_sign(signer, sd, sizeof sd, &sig), KT_OK);
    assert_int_equal(kt_sigstruct_assemble(sd, signer, sig.data, sig.len, ss), KT_OK);
    kt_buf_free(&sig);
}

static void test_sigstruct_fields_einit_refuses_are_refused(void **state)
{
    (void)state;
    kt_buf b;
    kt_enclave_config c;
    kt_buf s = sign_bare(&b, &c);
    kt_signed_image img;
    kt_enclave_identity id;
    const uint8_t one = 1;
    uint8_t orig[KT_SIGSTRUCT_LEN];
    memcpy(orig, s.data + b.len + 16 + 64, sizeof orig);
    struct {
        size_t off;
        const char *why;
    } fields[] = {{908, "reserved"},   {912, "ISVFAMILYID"},   {927, "ISVFAMILYID"},
                  {992, "reserved"},   {1008, "ISVEXTPRODID"}, {1023, "ISVEXTPRODID"},
                  {40 + 4, "reserved"}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        resign(&s, b.len, fields[i].off, &one, 1);
        assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_MALFORMED,
                          fields[i].why);
        memcpy(s.data + b.len + 16 + 64, orig, sizeof orig);
    }
    assert_int_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);

    /* XFRM values ECREATE refuses, signed by the key holder: refused at load */
    const uint64_t bad_xfrm[] = {0,
                                 0x1,
                                 0x2,
                                 0x5 /* AVX without SSE */,
                                 0x0B /* BNDREGS only */,
                                 0x27 /* part of AVX-512 */,
                                 0xE3 /* AVX-512 without AVX */,
                                 0x103 /* PT: supervisor state */,
                                 0x20003 /* TILECFG only */,
                                 1ull << 63};
    for (size_t i = 0; i < sizeof bad_xfrm / sizeof bad_xfrm[0]; i++) {
        uint8_t x[8];
        kt_put_le64(x, bad_xfrm[i]);
        resign(&s, b.len, 900 + 36, x, 8);
        assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_INVALID_ARGUMENT,
                          "XFRM");
        memcpy(s.data + b.len + 16 + 64, orig, sizeof orig);
        /* ... and at signing */
        kt_enclave_config bad = c;
        bad.xfrm = bad_xfrm[i];
        kt_buf out = {0};
        assert_fails_with(kt_image_sign(b.data, b.len, &bad, signer, 0x20261126, &out),
                          KT_ERR_INVALID_ARGUMENT, "XFRM");
        assert_int_equal(out.len, 0);
    }
    /* AVX is a value hardware runs: same SSA frame, so same MRENCLAVE, other XFRM */
    uint8_t avx[8];
    kt_put_le64(avx, 0x7);
    resign(&s, b.len, 900 + 36, avx, 8);
    assert_int_equal(kt_image_verify(s.data, s.len, &img, &id), KT_OK);
    assert_int_equal(id.attr_xfrm, 0x7);
    memcpy(s.data + b.len + 16 + 64, orig, sizeof orig);

    /* the date is a BCD calendar date, at load and at signing */
    const uint32_t bad_dates[] = {0x20261399, 0x20261300, 0x20260000, 0x20260132,
                                  0x20260229, 0x2026013A, 0x19000229};
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        uint8_t d[4];
        kt_put_le32(d, bad_dates[i]);
        resign(&s, b.len, 20, d, 4);
        assert_fails_with(kt_image_verify(s.data, s.len, &img, &id), KT_ERR_MALFORMED,
                          "not a date");
        memcpy(s.data + b.len + 16 + 64, orig, sizeof orig);
        kt_buf out = {0};
        assert_fails_with(kt_image_sign(b.data, b.len, &c, signer, bad_dates[i], &out),
                          KT_ERR_MALFORMED, "not a date");
    }
    assert_int_equal(kt_sigstruct_date_check(0x20280229), KT_OK);
    assert_int_equal(kt_sigstruct_date_check(0x20000229), KT_OK);
    assert_int_equal(kt_sigstruct_date_check(0x20261231), KT_OK);
    kt_buf_free(&b), kt_buf_free(&s);
}

static void test_xfrm_in_config_and_ssa_frame(void **state)
{
    (void)state;
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    assert_int_equal(c.xfrm, 0x3);
    assert_int_equal(kt_enclave_config_parse("xfrm = 0xE7", 11, &c), KT_OK);
    assert_int_equal(c.xfrm, 0xE7);
    assert_fails_with(kt_enclave_config_parse("xfrm = 0x5", 10, &c), KT_ERR_INVALID_ARGUMENT,
                      "x87 and SSE");
    assert_fails_with(kt_enclave_config_parse("xfrm = 0x67", 11, &c), KT_ERR_INVALID_ARGUMENT,
                      "AVX-512");
    assert_fails_with(kt_enclave_config_parse("xfrm = 0x20003", 14, &c), KT_ERR_INVALID_ARGUMENT,
                      "AMX");
    assert_fails_with(kt_enclave_config_parse("xfrm = 0x13", 11, &c), KT_ERR_INVALID_ARGUMENT,
                      "MPX");
    assert_fails_with(kt_enclave_config_parse("xfrm = 0x403", 12, &c), KT_ERR_INVALID_ARGUMENT,
                      "bit 10");
    assert_int_equal(kt_enclave_config_parse("xfrm = 7\nxfrm = 3", 17, &c), KT_ERR_MALFORMED);
    /* SSA frame: XSAVE area + MISC.EXINFO (16) + GPRSGX (184) */
    assert_int_equal(kt_xfrm_ssa_bytes(0x3), 576 + 16 + 184);
    assert_int_equal(kt_xfrm_ssa_bytes(0x7), 832 + 16 + 184);
    assert_int_equal(kt_xfrm_ssa_bytes(0x2E7), 2696 + 16 + 184);
    assert_int_equal(kt_xfrm_ssa_pages(0x2E7), 1);
    assert_int_equal(kt_xfrm_ssa_bytes(0x602E7), 11008 + 16 + 184);
    assert_int_equal(kt_xfrm_ssa_pages(0x602E7), 3);
}

static void expect_ready(const kt_buf *b, const kt_enclave_config *c)
{
    kt_einit_report r;
    assert_int_equal(kt_einit_check(b->data, b->len, c, &r), KT_OK);
    assert_int_equal(r.n, KT_EINIT_RULES);
    for (unsigned i = 0; i < r.n; i++)
        if (!r.rule[i].ok) fail_msg("rule %s fails: %s", r.rule[i].name, r.rule[i].detail);
    assert_true(r.ready);
}

/* The TCS pages are what EENTER needs: SSA frames, entry, FS/GS on the thread's control
 * block with the PT_TLS block right below it, DBGOPTIN for a debug enclave. */
static void test_layout_tcs_pages_are_ones_hardware_runs(void **state)
{
    (void)state;
    kt_buf b = load("tfftest.so");
    kt_elf elf;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);
    assert_true(elf.tls_memsz > 0); /* the runtime has thread-locals */
    for (int debug = 0; debug < 2; debug++) {
        kt_enclave_config c;
        kt_enclave_config_default(&c);
        c.tcs_count = 3;
        c.debug = debug;
        kt_layout l;
        assert_int_equal(kt_layout_plan(&elf, &c, &l), KT_OK);
        assert_int_equal(l.size & (l.size - 1), 0);
        assert_true(l.end <= l.size);
        assert_int_equal(l.ssa_frame_pages, 1);
        uint64_t fs_seen[3];
        for (uint32_t t = 0; t < 3; t++) {
            uint8_t p[KT_PAGE_SIZE];
            kt_layout_tcs_page(&l, t, p);
            kt_layout_thread th = kt_layout_thread_at(&l, t);
            assert_int_equal(kt_le64(p + KT_TCS_FLAGS), debug ? 1 : 0); /* DBGOPTIN */
            assert_int_equal(kt_le64(p + KT_TCS_OSSA), th.ssa);
            assert_int_equal(th.ssa, th.tcs + KT_PAGE_SIZE);
            assert_int_equal(kt_le32(p + KT_TCS_NSSA), 1);
            assert_int_equal(kt_le64(p + KT_TCS_OENTRY), elf.entry);
            uint64_t fs = kt_le64(p + KT_TCS_OFSBASGX);
            assert_int_equal(fs, th.tcb);
            assert_int_equal(kt_le64(p + KT_TCS_OGSBASGX), fs);
            assert_int_equal(fs % KT_PAGE_SIZE, 0);
            assert_true(fs - th.tls >= elf.tls_memsz); /* the TLS block fits below FS */
            assert_int_equal(kt_le32(p + KT_TCS_FSLIMIT), 0xFFFFFFFFu);
            assert_int_equal(kt_le32(p + KT_TCS_GSLIMIT), 0xFFFFFFFFu);
            fs_seen[t] = fs;
        }
        assert_true(fs_seen[0] != fs_seen[1] && fs_seen[1] != fs_seen[2]);
        expect_ready(&b, &c);
    }
    kt_buf_free(&b);
}

/* SSAFRAMESIZE follows XFRM: AMX needs 3 pages and so measures differently; AVX fits the
 * same page and keeps MRENCLAVE. */
static void test_ssa_frame_follows_xfrm(void **state)
{
    (void)state;
    kt_buf b = load("tfftest.so");
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    uint8_t legacy[32], avx[32], amx[32];
    assert_int_equal(kt_measure(b.data, b.len, &c, legacy), KT_OK);
    c.xfrm = 0x7;
    assert_int_equal(kt_measure(b.data, b.len, &c, avx), KT_OK);
    assert_memory_equal(legacy, avx, 32);
    c.xfrm = 0x602E7;
    assert_int_equal(kt_measure(b.data, b.len, &c, amx), KT_OK);
    assert_memory_not_equal(legacy, amx, 32);
    kt_elf elf;
    kt_layout l;
    assert_int_equal(kt_elf_parse(b.data, b.len, &elf), KT_OK);
    assert_int_equal(kt_layout_plan(&elf, &c, &l), KT_OK);
    assert_int_equal(l.ssa_frame_pages, 3);
    expect_ready(&b, &c);
    kt_buf_free(&b);
}

/* Sets p_flags of the first PT_LOAD segment whose flags are `from`. */
static void set_segment_flags(kt_buf *b, uint32_t from, uint32_t to)
{
    Elf64_Ehdr eh;
    memcpy(&eh, b->data, sizeof eh);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b->data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && ph.p_flags == from) {
            ph.p_flags = to;
            memcpy(b->data + eh.e_phoff + i * sizeof ph, &ph, sizeof ph);
            return;
        }
    }
    fail_msg("no segment with flags %u", from);
}

static void expect_rule_fails(const kt_buf *b, const kt_enclave_config *c, const char *name)
{
    kt_einit_report r;
    assert_int_equal(kt_einit_check(b->data, b->len, c, &r), KT_OK);
    assert_false(r.ready);
    bool found = false;
    for (unsigned i = 0; i < r.n; i++)
        if (!strcmp(r.rule[i].name, name)) found = !r.rule[i].ok;
    assert_true(found);
    kt_buf out = {0};
    assert_fails_with(kt_image_sign(b->data, b->len, c, signer, 0x20261126, &out), KT_ERR_DENIED,
                      name);
    assert_int_equal(out.len, 0);
}

/* Images hardware would refuse are reported rule by rule, and never signed. */
static void test_layouts_hardware_refuses_are_not_signed(void **state)
{
    (void)state;
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    kt_buf b = load("bare.so");
    set_segment_flags(&b, PF_R | PF_W, PF_W); /* writable, not readable: EADD #GP */
    expect_rule_fails(&b, &c, "secinfo");
    kt_buf_free(&b);
    b = load("bare.so");
    set_segment_flags(&b, PF_R | PF_X, PF_R); /* the entry point is not executable */
    expect_rule_fails(&b, &c, "tcs_entry");
    kt_buf_free(&b);
}

/* A signed image whose layout hardware would refuse at EINIT is not loaded either, even
 * when its SIGSTRUCT is valid: signed by hand here (measure, signing data, RSA, assemble),
 * as a tool other than kubetee's signer could. */
static void test_a_validly_signed_image_hardware_would_refuse_is_not_loaded(void **state)
{
    (void)state;
    kt_enclave_config c;
    kt_enclave_config_default(&c);
    kt_buf elf = load("bare.so"), good = {0};
    assert_int_equal(kt_image_sign(elf.data, elf.len, &c, signer, 0x20261202, &good), KT_OK);
    set_segment_flags(&elf, PF_R | PF_X, PF_R); /* the entry point is not executable */
    uint8_t mr[32], sd[KT_SIGDATA_LEN], sigstruct[KT_SIGSTRUCT_LEN];
    assert_int_equal(kt_measure(elf.data, elf.len, &c, mr), KT_OK);
    assert_int_equal(kt_sigstruct_sigdata(mr, &c, 0x20261202, sd), KT_OK);
    kt_buf sig = {0};
    assert_int_equal(kt_sign(signer, sd, sizeof sd, &sig), KT_OK);
    assert_int_equal(kt_sigstruct_assemble(sd, signer, sig.data, sig.len, sigstruct), KT_OK);
    /* the same trailer (same config), this ELF and its SIGSTRUCT */
    memcpy(good.data, elf.data, elf.len);
    memcpy(good.data + elf.len + 16 + 64, sigstruct, KT_SIGSTRUCT_LEN);
    kt_signed_image img;
    kt_enclave_identity id;
    assert_fails_with(kt_image_verify(good.data, good.len, &img, &id), KT_ERR_DENIED,
                      "not EINIT-ready: tcs_entry");
    kt_buf_free(&sig);
    kt_buf_free(&good);
    kt_buf_free(&elf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_reader_finds_segments_and_entry),
        cmocka_unit_test(test_elf_reader_refuses_malformed_files),
        cmocka_unit_test(test_signing_refuses_forbidden_import_and_names_it),
        cmocka_unit_test(test_only_what_the_trusted_runtime_provides_is_imported),
        cmocka_unit_test(test_a_decoy_dynsym_section_hides_nothing),
        cmocka_unit_test(test_needed_libraries_and_exports_are_the_runtimes_only),
        cmocka_unit_test(test_config_text_and_errors),
        cmocka_unit_test(test_measurement_is_stable_and_covers_bytes_and_config),
        cmocka_unit_test(test_sign_and_verify_identity),
        cmocka_unit_test(test_tampered_images_are_refused_with_reason),
        cmocka_unit_test(test_a_huge_enclave_is_refused_before_it_is_measured),
        cmocka_unit_test(test_another_signer_gives_another_mrsigner_same_mrenclave),
        cmocka_unit_test(test_two_step_signing_matches_one_step),
        cmocka_unit_test(test_sigstruct_fields_einit_refuses_are_refused),
        cmocka_unit_test(test_xfrm_in_config_and_ssa_frame),
        cmocka_unit_test(test_layout_tcs_pages_are_ones_hardware_runs),
        cmocka_unit_test(test_ssa_frame_follows_xfrm),
        cmocka_unit_test(test_layouts_hardware_refuses_are_not_signed),
        cmocka_unit_test(test_a_validly_signed_image_hardware_would_refuse_is_not_loaded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
