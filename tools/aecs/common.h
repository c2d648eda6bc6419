/* What aecsadmin and serviceadmin share: their connection flags, the session to AECS,
 * and printing a response (--json: proto3's JSON mapping; else one "field: value" line
 * per field). */
#ifndef AECS_TOOLS_COMMON_H
#define AECS_TOOLS_COMMON_H

#include <kubetee/aecs.h>
#include "aecs.pb-c.h"

#include <stdbool.h>

typedef struct {
    const char *server, *key, *policy, *sim_dir, *collateral, *config;
    bool json;
    /* the session does not pin the instance (restore: an AECS waiting for its storage key
     * cannot prove it; the shares are checked against the pin instead) */
    bool unpinned;
    /* the verb's own flags, name/value pairs in order (a flag with no value: "") */
    const char *names[64], *values[64];
    size_t n;
    const char *args[8]; /* positional arguments after the verb */
    size_t n_args;
} tool_args;

/* Parses argv after the verb; switches are the verb's flags that take no value. */
int tool_parse(int argc, char **argv, int first, const char *const *switches, tool_args *a);
const char *tool_flag(const tool_args *a, const char *name); /* the last value given, or NULL */
#define TOOL_TIMEOUT_S 30         /* each RPC's deadline, unless --timeout SECONDS */
#define TOOL_TIMEOUT_LONG_S 3600  /* verbs that reseal every object (rotate-key, recovery set) */
#define TOOL_CONNECT_TIMEOUT_S 30 /* connecting and the attested handshake, unless --connect-timeout */
#define TOOL_TIMEOUT_MAX_S 86400u /* the most --timeout and --connect-timeout take */
/* The session to AECS (flags, kubeconfig), made within TOOL_CONNECT_TIMEOUT_S or
 * --connect-timeout; every RPC's deadline after it TOOL_TIMEOUT_S or --timeout. */
kt_status tool_connect(const tool_args *a, kt_aecs_client **c);
/* The same with the deadline default_s unless --timeout gives one. */
kt_status tool_connect_for(const tool_args *a, unsigned default_s, kt_aecs_client **c);
/* The instance pin: --instance, else AECS_INSTANCE, else the kubeconfig's
 * aecsServer.instance (an empty value counts as not given). *pin is NULL when there is
 * none; *from names where it came from. */
kt_status tool_instance_pin(const tool_args *a, const uint8_t **pin, const char **from);
/* Calls op and prints the response; returns the exit status (0, 1 refused, 2 usage). */
int tool_run(const tool_args *a, const char *tool, const char *op, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *res_type);
/* The same on a connected client (several calls in one session). */
int tool_call(kt_aecs_client *c, const tool_args *a, const char *tool, const char *op, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *res_type);
/* Prints a response as tool_call does. */
int tool_call_print(const tool_args *a, const char *tool, const ProtobufCMessage *res);
int tool_fail(const char *tool, const char *what);
/* A PEM public or private key as AECS's PublicKey (x||y); raw is 64 bytes of storage. */
kt_status tool_public_key(const char *path, Kubetee__Aecs__V1__PublicKey *out, uint8_t raw[64]);

/* aecsadmin tasigners (tasigners.c): shows or sets the TA signer allow-list. */
int aecsadmin_tasigners(const tool_args *a);
#endif
