/* Fuzz target: the rpc layer's string check, which walks a request's wire bytes with its
 * descriptor before they are unpacked (src/rpc/strings.c). First byte picks the request
 * type: kubelet's Allocate (nested messages, repeated strings) or the flat
 * PreStartContainer; the rest is the message. A walk must end, never read past the input,
 * and say the same thing twice. */
#include "api.pb-c.h"
#include "../src/rpc/internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    const ProtobufCMessageDescriptor *d = data[0] & 1
                                              ? &v1beta1__pre_start_container_request__descriptor
                                              : &v1beta1__allocate_request__descriptor;
    kt_status first = kt_rpc_check_strings(d, data + 1, n - 1);
    if (kt_rpc_check_strings(d, data + 1, n - 1) != first) abort();
    return 0;
}
