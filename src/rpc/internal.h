/* Shared between the rpc sources only. */
#ifndef KT_RPC_INTERNAL_H
#define KT_RPC_INTERNAL_H

#include <kubetee/rpc.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#define KT_RPC_MAX_MESSAGE (4u << 20)

/* protobuf-c message <-> gRPC byte buffer. */
kt_status kt_rpc_pack(const void *msg, grpc_byte_buffer **out);
/* Unpacks into an initialised message with allocator (NULL: malloc; fields then belong
 * to the caller). */
kt_status kt_rpc_unpack(grpc_byte_buffer *bb, void *msg, ProtobufCAllocator *allocator);
grpc_status_code kt_rpc_code_of(kt_status st);
kt_status kt_rpc_status_of(grpc_status_code code);
/* Reads PEM files into a key/cert pair and root certificates; frees with _free. */
typedef struct {
    char *cert, *key, *ca;
} kt_rpc_pems;
kt_status kt_rpc_pems_load(const kt_rpc_tls *tls, kt_rpc_pems *p);
void kt_rpc_pems_free(kt_rpc_pems *p);
gpr_timespec kt_rpc_deadline(int timeout_ms);

#endif
