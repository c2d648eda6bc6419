/* Fuzz target: what kubelet sends the device plugin. First byte: even Allocate, odd
 * GetPreferredAllocation, for the enclave resource; the rest is the packed request,
 * decoded as the rpc layer decodes it. */
#include "plugin.h"
#include "api.pb-c.h"
#include "../src/tff/common/runtime.h"

#include <string.h>

static kt_plugin plugin;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1) return 0;
    if (!plugin.nres) {
        pthread_mutex_init(&plugin.lock, NULL);
        pthread_cond_init(&plugin.changed, NULL);
        strcpy(plugin.cfg.device_root, "/dev");
        strcpy(plugin.cfg.enclave_resource, "sgx.intel.com/enclave");
        plugin.cfg.enclave_limit = 20;
        plugin.caps.usable = true;
        plugin.caps.epc_bytes = 64u << 20;
        strcpy(plugin.nodes.enclave, "/dev/sgx_enclave");
        strcpy(plugin.nodes.provision, "/dev/sgx_provision");
        kt_plugin_plan(&plugin);
    }
    bool alloc = (data[0] & 1) == 0;
    const ProtobufCMessageDescriptor *rq = alloc
                                               ? &v1beta1__allocate_request__descriptor
                                               : &v1beta1__preferred_allocation_request__descriptor;
    const ProtobufCMessageDescriptor *rs =
        alloc ? &v1beta1__allocate_response__descriptor
              : &v1beta1__preferred_allocation_response__descriptor;
    kt_frame f;
    kt_frame_push(&f);
    ProtobufCAllocator arena = kt_frame_allocator(&f);
    ProtobufCMessage *req = protobuf_c_message_unpack(rq, &arena, n - 1, data + 1);
    ProtobufCMessage *res = kt_frame_alloc(&f, rs->sizeof_message);
    if (req && res) {
        protobuf_c_message_init(rs, res);
        kt_resource *r = &plugin.res[0]; /* the only resource planned: enclave */
        if (alloc ? kt_dp_allocate(r, req, res) == KT_OK : kt_dp_preferred(r, req, res) == KT_OK) {
            uint8_t buf[1 << 16];
            if (protobuf_c_message_get_packed_size(res) <= sizeof buf)
                protobuf_c_message_pack(res, buf);
        }
    }
    kt_frame_pop(&f);
    return 0;
}
