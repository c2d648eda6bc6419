/* kt_yaml_parse inside an enclave: libyaml is not in the trusted runtime, so YAML is
 * read in its JSON form only (every JSON document is YAML). Block YAML is refused,
 * saying so: policies compiled into an enclave are written as JSON. */
#include "internal.h"

kt_status kt_yaml_parse(const char *text, size_t n, kt_y **out)
{
    if (!text || !out) return kt_fail(KT_ERR_INVALID_ARGUMENT, "YAML: NULL argument");
    size_t i = 0;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (i < n && text[i] != '{' && text[i] != '[')
        return kt_fail(KT_ERR_UNSUPPORTED,
                       "YAML: inside an enclave only the JSON form of YAML is read; this "
                       "document is block YAML (it does not start with '{' or '[')");
    kt_status st = kt_json_parse(text, n, out);
    return st ? kt_fail_context(st, "YAML (read as JSON inside an enclave)") : KT_OK;
}
