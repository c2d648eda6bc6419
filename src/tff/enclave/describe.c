/* kt.Describe: the remote function every enclave has, answering with its remote functions
 * and FileDescriptorProtos of their messages, built from the descriptors compiled into the
 * enclave. Called through a session like any remote function, so a client maps its JSON
 * by what the enclave itself says, never by what a host or proxy hands it. */
#include "trts.h"
#include "enclave_service.pb-c.h"
#include <kubetee/pbschema.h>

static kt_status describe(const Kubetee__Enclave__V1__DescribeRequest *req, Kubetee__Enclave__V1__DescribeResponse *res)
{
    (void)req;
    size_t n = kt_remote_count();
    const ProtobufCMessageDescriptor **roots = kt_call_alloc(2 * n * sizeof *roots + 1);
    Kubetee__Enclave__V1__RemoteFunction **fns = kt_call_alloc(n * sizeof *fns + 1);
    Kubetee__Enclave__V1__RemoteFunction *fn = kt_call_alloc(n * sizeof *fn + 1);
    if (!roots || !fns || !fn) return kt_fail(KT_ERR_NO_MEMORY, "kt.Describe: out of memory");
    for (size_t i = 0; i < n; i++) {
        const kt_function *f = kt_remote_at(i);
        kubetee__enclave__v1__remote_function__init(&fn[i]);
        fn[i].name = (char *)f->name;
        fn[i].request_type = (char *)f->request->name;
        fn[i].response_type = (char *)f->response->name;
        fns[i] = &fn[i];
        roots[2 * i] = f->request;
        roots[2 * i + 1] = f->response;
    }
    kt_pbschema_files files;
    kt_status st = kt_pbschema_build(roots, 2 * n, &files);
    if (st) return kt_fail_context(st, "kt.Describe");
    res->files = kt_call_alloc(files.n * sizeof *res->files + 1);
    if (!res->files) st = kt_fail(KT_ERR_NO_MEMORY, "kt.Describe: out of memory");
    for (size_t i = 0; !st && i < files.n; i++) {
        st = kt_call_bytes(&res->files[i], files.files[i].data, files.files[i].len);
        res->n_files = i + 1;
    }
    kt_pbschema_files_free(&files);
    res->functions = fns;
    res->n_functions = n;
    return st;
}

static kt_status describe_adapter(const ProtobufCMessage *req, ProtobufCMessage *res)
{
    return describe((const Kubetee__Enclave__V1__DescribeRequest *)req, (Kubetee__Enclave__V1__DescribeResponse *)res);
}

static const kt_function describe_fn = {
    "kt.Describe", &kubetee__enclave__v1__describe_request__descriptor,
    &kubetee__enclave__v1__describe_response__descriptor, describe_adapter,
    sizeof(Kubetee__Enclave__V1__DescribeRequest), sizeof(Kubetee__Enclave__V1__DescribeResponse)};

kt_status kt_trts_register_describe(void)
{
    return kt_trts_add_remote_builtin(&describe_fn);
}
