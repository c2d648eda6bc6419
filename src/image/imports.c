/* What an enclave may import: only what the trusted runtime provides. When the runtime
 * starts to use another library function, it goes on this list: until then signing the
 * sample and test enclaves fails, naming it. On hardware these
 * functions are linked into the enclave (the runtime's own libc subset, libcrypto and
 * protobuf-c); on sim they resolve to the host's copies of the libraries below. Anything
 * else, files, sockets, time, environment, processes, goes through an OCALL. This is an
 * allow-list: a name not on it is refused, whatever it is. */
#include "internal.h"

#include <string.h>

/* Libraries the dynamic loader may bring in; the sanitizer runtimes serve test builds. */
static const char *const libraries[] = {
    "libc.so.6", "libcrypto.so.3", "libprotobuf-c.so.1", "libasan.so.8", "libubsan.so.1",
};

/* Whole families with no OS access: protobuf-c has no I/O at all; the sanitizers'
 * instrumentation hooks (test builds). */
static const char *const prefixes[] = {"protobuf_c_", "__asan_", "__ubsan_"};

static const char *const names[] = {
    /* libc: memory and strings */
    "memcpy", "memmove", "memset", "memcmp", "memchr", "memrchr", "memccpy", "bcmp",
    "explicit_bzero", "strlen", "strnlen", "strcmp", "strncmp", "strchr", "strrchr", "strstr",
    "strpbrk", "strspn", "strcspn", "memmem", "strcpy", "strncpy", "strcat", "strncat", "strdup", "strndup",
    "strtok_r", "__memcpy_chk", "__memmove_chk", "__memset_chk", "__strcpy_chk", "__strncpy_chk",
    "__strcat_chk", "__explicit_bzero_chk",
    /* libc: formatting into memory, numbers, characters */
    "snprintf", "vsnprintf", "__snprintf_chk", "__vsnprintf_chk", "sscanf", "__isoc99_sscanf",
    "__isoc23_sscanf", "strtol", "strtoul", "strtoll", "strtoull", "__isoc23_strtol",
    "__isoc23_strtoul", "__isoc23_strtoll", "__isoc23_strtoull", "abs", "labs", "llabs", "qsort",
    "bsearch", "__ctype_b_loc", "__ctype_tolower_loc", "__ctype_toupper_loc", "tolower", "toupper",
    "isalnum", "isalpha", "isdigit", "isxdigit", "isspace", "isprint", "isupper", "islower",
    /* libc: heap, errors, threads, the C runtime's own hooks */
    "malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "__errno_location",
    "__assert_fail", "abort", "__stack_chk_fail", "pthread_mutex_init", "pthread_mutex_destroy",
    "pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_unlock", "pthread_once",
    "__tls_get_addr", "__cxa_finalize", "__cxa_atexit", "__gmon_start__",
    "_ITM_registerTMCloneTable", "_ITM_deregisterTMCloneTable",
    /* libcrypto: what the runtime's crypto, attestation and session code use */
    "BIO_ctrl", "BIO_free", "BIO_new", "BIO_new_mem_buf", "BIO_s_mem", "BIO_s_secmem",
    "BN_CTX_free", "BN_CTX_new", "BN_bin2bn", "BN_bn2binpad", "BN_clear_free", "BN_div", "BN_free",
    "BN_is_word", "BN_is_zero", "BN_mul", "BN_new", "BN_set_word", "BN_sqr", "CRYPTO_free",
    "ECDSA_SIG_free", "ECDSA_SIG_get0_r", "ECDSA_SIG_get0_s", "ECDSA_SIG_new", "ECDSA_SIG_set0",
    "ERR_clear_error", "ERR_error_string_n", "ERR_get_error", "EVP_CIPHER_CTX_ctrl",
    "EVP_CIPHER_CTX_free", "EVP_CIPHER_CTX_new", "EVP_CIPHER_fetch", "EVP_CIPHER_free", "EVP_CipherFinal_ex", "EVP_CipherInit_ex",
    "EVP_CipherUpdate", "EVP_Digest", "EVP_DigestFinal_ex", "EVP_DigestInit_ex", "EVP_DigestSign",
    "EVP_DigestSignInit_ex", "EVP_DigestUpdate", "EVP_DigestVerify", "EVP_DigestVerifyInit_ex",
    "EVP_KDF_CTX_free", "EVP_KDF_CTX_new", "EVP_KDF_derive", "EVP_KDF_fetch", "EVP_KDF_free",
    "EVP_MAC_CTX_free", "EVP_MAC_CTX_new", "EVP_MAC_fetch", "EVP_MAC_final", "EVP_MAC_free",
    "EVP_MAC_init", "EVP_MAC_update", "EVP_MD_CTX_free", "EVP_MD_CTX_get_pkey_ctx",
    "EVP_MD_CTX_new", "EVP_MD_CTX_set_pkey_ctx", "EVP_MD_fetch", "EVP_MD_free", "EVP_PKEY_CTX_free",
    "EVP_PKEY_CTX_new_from_name", "EVP_PKEY_CTX_new_from_pkey", "EVP_PKEY_CTX_set1_id",
    "EVP_PKEY_CTX_set1_rsa_keygen_pubexp", "EVP_PKEY_CTX_set_rsa_keygen_bits",
    "EVP_PKEY_CTX_set_rsa_padding", "EVP_PKEY_Q_keygen", "EVP_PKEY_derive", "EVP_PKEY_derive_init",
    "EVP_PKEY_derive_set_peer", "EVP_PKEY_free", "EVP_PKEY_fromdata", "EVP_PKEY_fromdata_init",
    "EVP_PKEY_generate", "EVP_PKEY_get_bits", "EVP_PKEY_get_bn_param",
    "EVP_PKEY_get_octet_string_param", "EVP_PKEY_get_utf8_string_param", "EVP_PKEY_is_a",
    "EVP_PKEY_keygen_init", "EVP_PKEY_public_check_quick", "EVP_PKEY_up_ref", "EVP_aes_256_gcm",
    "EVP_get_digestbyname", "OBJ_txt2obj", "ASN1_OBJECT_free", "OSSL_PARAM_BLD_free",
    "OSSL_PARAM_BLD_new", "OSSL_PARAM_BLD_push_BN", "OSSL_PARAM_BLD_push_octet_string",
    "OSSL_PARAM_BLD_push_utf8_string", "OSSL_PARAM_BLD_to_param", "OSSL_PARAM_construct_end",
    "OSSL_PARAM_construct_octet_string", "OSSL_PARAM_construct_utf8_string", "OSSL_PARAM_free",
    "PEM_read_bio_PUBKEY", "PEM_read_bio_PrivateKey", "PEM_read_bio_X509", "PEM_write_bio_PUBKEY",
    "PEM_write_bio_PrivateKey", "RAND_bytes", "d2i_ECDSA_SIG", "i2d_ECDSA_SIG", "d2i_X509",
    "i2d_X509", "X509_free", "X509_verify", "X509_check_issued", "X509_get0_pubkey",
    "X509_get_pubkey", "X509_get_subject_name", "X509_get_serialNumber", "X509_getm_notAfter",
    "X509_getm_notBefore", "EVP_PKEY_dup", "EVP_PKEY_set1_encoded_public_key",
    "CRYPTO_THREAD_run_once",
    /* libcrypto: certificate, request and CRL writing (the runtime's X.509 writer; the
     * times it writes are passed in: X509_gmtime_adj, which reads the clock, is not here) */
    "ASN1_INTEGER_set_uint64", "ASN1_OCTET_STRING_free", "ASN1_OCTET_STRING_new",
    "ASN1_OCTET_STRING_set", "ASN1_TIME_adj", "ASN1_TIME_free", "PEM_write_bio_X509",
    "X509V3_EXT_conf_nid", "X509V3_set_ctx", "X509_CRL_free", "X509_CRL_new",
    "X509_CRL_set1_lastUpdate", "X509_CRL_set1_nextUpdate", "X509_CRL_set_issuer_name",
    "X509_CRL_set_version", "X509_CRL_sign", "X509_EXTENSION_create_by_OBJ", "X509_EXTENSION_free",
    "X509_NAME_add_entry_by_txt", "X509_NAME_free", "X509_NAME_new", "X509_NAME_print_ex",
    "X509_REQ_free", "X509_REQ_get0_pubkey", "X509_REQ_get_subject_name", "X509_REQ_new",
    "X509_REQ_set_pubkey", "X509_REQ_set_subject_name", "X509_REQ_sign", "X509_REQ_verify",
    "X509_add_ext", "X509_new", "X509_set_issuer_name", "X509_set_pubkey", "X509_set_subject_name",
    "X509_set_version", "X509_sign", "d2i_X509_REQ", "i2d_X509_CRL", "i2d_X509_REQ",
    /* libcrypto: the trusted verifier's second reading of certificates and CRLs
     * (src/attest/cert_crosscheck.c): decoders and accessors of memory. Times are compared
     * with ASN1_TIME_cmp_time_t; ASN1_TIME_to_tm, which reads the clock when given no
     * time, is not here */
    "ASN1_INTEGER_to_BN", "ASN1_STRING_get0_data", "ASN1_STRING_length", "ASN1_STRING_type",
    "ASN1_TIME_cmp_time_t", "BN_bn2bin", "BN_num_bits", "ECDSA_SIG_get0", "OBJ_obj2nid",
    "OPENSSL_sk_num", "OPENSSL_sk_value", "X509_ALGOR_get0", "X509_CRL_get0_lastUpdate",
    "X509_CRL_get0_nextUpdate", "X509_CRL_get0_signature", "X509_CRL_get_REVOKED",
    "X509_CRL_get_issuer", "X509_CRL_get_version", "X509_EXTENSION_get_data",
    "X509_NAME_get0_der", "X509_PUBKEY_get0_param", "X509_REVOKED_get0_serialNumber",
    "X509_get0_notAfter", "X509_get0_notBefore", "X509_get0_serialNumber",
    "X509_get0_signature", "X509_get0_tbs_sigalg", "X509_get_X509_PUBKEY", "X509_get_ext",
    "X509_get_ext_by_NID", "X509_get_ext_by_OBJ", "X509_get_extension_flags",
    "X509_get_issuer_name", "X509_get_key_usage", "X509_get_pathlen", "X509_get_version",
    "d2i_X509_CRL", "i2d_re_X509_CRL_tbs", "i2d_re_X509_tbs",
    /* libcrypto: AECS's secret material (RSA key pairs in PKCS#1 PEM) */
    "PEM_write_bio_PrivateKey_traditional",
    /* libcrypto: TAs decrypting with the RSA keys AECS gives them (samples/aecs-ta) */
    "EVP_PKEY_decrypt_init_ex", "EVP_PKEY_decrypt",
    /* libcrypto: AECS's never-export RSA keys used in place (PSS or PKCS#1 v1.5 signing,
     * OAEP encryption and decryption; EVP_PKEY_decrypt above) */
    "EVP_PKEY_CTX_set_rsa_mgf1_md", "EVP_PKEY_CTX_set_rsa_oaep_md", "EVP_PKEY_CTX_set_rsa_pss_saltlen",
    "EVP_PKEY_decrypt_init", "EVP_PKEY_encrypt", "EVP_PKEY_encrypt_init", "EVP_PKEY_get_size"};

bool kt_import_allowed(const char *name)
{
    if (!name) return false;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return true;
    return false;
}

bool kt_library_allowed(const char *soname)
{
    if (!soname) return false;
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++)
        if (strcmp(soname, libraries[i]) == 0) return true;
    return false;
}

static kt_status check_one(const char *name, void *arg)
{
    (void)arg;
    if (!kt_import_allowed(name))
        return kt_fail(KT_ERR_DENIED,
                       "enclave imports '%s', which the trusted runtime does not provide "
                       "(trusted code may not call the OS; use an OCALL)",
                       name);
    return KT_OK;
}

kt_status kt_elf_check_imports(const kt_elf *elf)
{
    if (!elf) return kt_fail(KT_ERR_INVALID_ARGUMENT, "imports: NULL argument");
    for (unsigned i = 0; i < elf->nneeded; i++)
        if (!kt_library_allowed(elf->needed[i]))
            return kt_fail(KT_ERR_DENIED,
                           "enclave needs library '%s' (DT_NEEDED), which is not the trusted "
                           "runtime's: its code would run in the enclave unmeasured",
                           elf->needed[i]);
    for (size_t i = 1; i < elf->nsyms; i++) {
        kt_elf_sym sym;
        kt_status st = kt_elf_symbol(elf, i, &sym);
        if (st) return st;
        if (sym.defined && !sym.binds_local && strcmp(sym.name, KT_ENTRY_SYMBOL) != 0)
            return kt_fail(KT_ERR_DENIED,
                           "enclave exports '%s': only '%s' may be exported (a loaded library's "
                           "'%s' would be bound in its place; link with cmake/enclave.lds)",
                           sym.name, KT_ENTRY_SYMBOL, sym.name);
    }
    return kt_elf_imports(elf, check_one, NULL);
}
