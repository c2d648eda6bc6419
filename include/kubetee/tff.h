/* TFF, host side: load a signed enclave, call its trusted functions by name, serve its
 * OCALLs with untrusted functions.
 *
 *   kt_enclave *e;
 *   kt_enclave_create("hello.signed.so", NULL, &e);
 *   Hello__Request req = HELLO__REQUEST__INIT;  req.name = "world";
 *   Hello__Reply res = HELLO__REPLY__INIT;
 *   kt_enclave_call(e, "SayHello", &req, &res);  ...  kt_message_clear(&res);
 *   kt_enclave_destroy(e);
 */
#ifndef KUBETEE_TFF_H
#define KUBETEE_TFF_H

#include <kubetee/image.h>
#include <kubetee/tff_common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_enclave kt_enclave;

typedef struct {
    /* Platform: "sim" (the default; the only one on machines without SGX). */
    const char *platform;
    /* Sim platform state directory; default $KUBETEE_SIM_DIR, else ~/.kubetee/sim. */
    const char *sim_dir;
    /* Where the enclave's sealed identity key is kept; default
     * <sim_dir>/identity/<mrenclave>.<mrsigner>.<attributes flags>.<xfrm>.<miscselect>.sealed
     * (hex; the full identity the sealing key depends on). */
    const char *identity_path;
    /* When set (32 bytes), refuse an enclave signed by any other key. */
    const uint8_t *expect_mrsigner;
    /* Largest enclave size (ECREATE's) measured and loaded; 0: KT_ENCLAVE_SIZE_MAX_DEFAULT.
     * A larger image is refused before its measurement starts. */
    uint64_t max_enclave_size;
} kt_enclave_options;

/* Verifies the signed image (signature, measurement, imports) before any of its code
 * runs, loads it with its symbols isolated from the host's, and starts its runtime. */
kt_status kt_enclave_create(const char *path, const kt_enclave_options *opts, kt_enclave **out);

/* Calls a trusted function. req is a message of the function's request type; res an
 * initialised message of its response type (..._INIT). On KT_OK res's fields belong to
 * the caller: release them with kt_message_clear(res). Returns KT_OK, a gate failure
 * (kt_status_is_gate: the function did not run or its result was lost), or the status
 * the function returned. */
kt_status kt_enclave_call(kt_enclave *e, const char *name, const void *req, void *res);

/* The same with the request already packed as req_type and the response left packed as
 * res_type: *res (*res_len bytes, malloc'd, the caller's to free) is what the enclave
 * gave, unchecked. For a relay that passes bytes through (the enclave service's host). */
kt_status kt_enclave_call_packed(kt_enclave *e, const char *name, const char *req_type, const char *res_type,
                                 const uint8_t *req, size_t n, uint8_t **res, size_t *res_len);

/* What the loader verified. */
const kt_enclave_identity *kt_enclave_identity_of(const kt_enclave *e);

/* Ends the enclave; no call may be in flight. */
void kt_enclave_destroy(kt_enclave *e);

/* Registers an untrusted function (an OCALL target) for every enclave. Thread-safe. */
kt_status kt_untrusted_register(const kt_function *f);

/* For kubetee's own modules: registers an untrusted function under a reserved "kt." name
 * (the runtime's services to enclaves, such as quoting). */
kt_status kt_untrusted_register_runtime(const kt_function *f);

#define KT_UNTRUSTED_FUNCTION(fn, name, Req, req_prefix, Res, res_prefix)                          \
    KT__FUNCTION(kt_untrusted_register, fn, name, Req, req_prefix, Res, res_prefix)

#ifdef __cplusplus
}
#endif
#endif
