/* The interop tests' C side: converts every <name>.<Type>.bin in a directory to
 * <name>.<Type>.c.json (to-json), or every <name>.<Type>.json to <name>.<Type>.c.bin
 * (from-json), with kubetee's pbjson and the test proto's protobuf-c descriptors, or with
 * descriptors loaded from FileDescriptorProto files (--schema F... --). A file that is
 * refused gets <name>.<Type>.c.err with the reason instead. `describe DIR` writes
 * pbschema's files for the test protos' types as DIR/<n>.pb. */
#include "pbjson_other.pb-c.h"
#include "pbjson_test.pb-c.h"
#include <kubetee/pbjson.h>
#include <kubetee/pbschema.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static kt_pbschema *schema;

static const ProtobufCMessageDescriptor *type_of(const char *file)
{
    static const ProtobufCMessageDescriptor *types[] = {&kt__pbjsontest__all__descriptor,
                                                        &kt__pbjsontest__scalars__descriptor,
                                                        &kt__pbjsontest__item__descriptor};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char mid[80];
        snprintf(mid, sizeof mid, ".%s.", types[i]->short_name);
        if (strstr(file, mid)) {
            if (!schema) return types[i];
            const ProtobufCMessageDescriptor *d = kt_pbschema_message(schema, types[i]->name);
            if (!d) fprintf(stderr, "%s\n", kt_last_error());
            return d;
        }
    }
    return NULL;
}

static int convert(const char *dir, const char *name, bool to_json)
{
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/%s", dir, name);
    size_t stem = strlen(name) - (to_json ? 4 : 5);
    const ProtobufCMessageDescriptor *d = type_of(name);
    if (!d) return fprintf(stderr, "%s: no type in the name\n", name), 1;
    kt_buf data = {0}, res = {0};
    kt_status st = kt_file_read(in, 1 << 24, &data);
    if (st) return fprintf(stderr, "%s: %s\n", in, kt_last_error()), 1;
    if (to_json)
        st = kt_pbjson_print_wire(d, data.data, data.len, NULL, &res);
    else
        st = kt_pbjson_to_wire(d, (const char *)data.data, data.len, NULL, &res);
    const char *ext = st ? "c.err" : to_json ? "c.json" : "c.bin";
    snprintf(out, sizeof out, "%s/%.*s.%s", dir, (int)stem, name, ext);
    const char *why = kt_last_error();
    st = st ? kt_file_write_atomic(out, why, strlen(why), 0644) : kt_file_write_atomic(out, res.data, res.len, 0644);
    kt_buf_free(&data);
    kt_buf_free(&res);
    if (st) return fprintf(stderr, "%s: %s\n", out, kt_last_error()), 1;
    return 0;
}

static int describe(const char *dir)
{
    const ProtobufCMessageDescriptor *roots[] = {&kt__pbjsontest__all__descriptor,
                                                 &kt__pbjsonother__wrapper__descriptor};
    kt_pbschema_files files;
    if (kt_pbschema_build(roots, 2, &files)) return fprintf(stderr, "%s\n", kt_last_error()), 1;
    for (size_t i = 0; i < files.n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%zu.pb", dir, i);
        if (kt_file_write_atomic(path, files.files[i].data, files.files[i].len, 0644))
            return fprintf(stderr, "%s\n", kt_last_error()), 1;
    }
    kt_pbschema_files_free(&files);
    return 0;
}

static int load_schema(char **paths, int n)
{
    kt_buf files[64] = {{0}};
    if (n > 64) return fprintf(stderr, "too many schema files\n"), 1;
    for (int i = 0; i < n; i++)
        if (kt_file_read(paths[i], 1 << 24, &files[i])) return fprintf(stderr, "%s\n", kt_last_error()), 1;
    kt_status st = kt_pbschema_load(files, (size_t)n, &schema);
    for (int i = 0; i < n; i++) kt_buf_free(&files[i]);
    if (st) return fprintf(stderr, "schema: %s\n", kt_last_error()), 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "describe")) return describe(argv[2]);
    int at = 1;
    if (argc > 1 && !strcmp(argv[1], "--schema")) {
        int end = 2;
        while (end < argc && strcmp(argv[end], "--")) end++;
        if (end == argc || load_schema(argv + 2, end - 2)) return 2;
        at = end + 1;
    }
    if (argc - at != 2 || (strcmp(argv[at], "to-json") && strcmp(argv[at], "from-json")))
        return fprintf(stderr, "usage: pbjson_tool [--schema FILE... --] to-json|from-json DIR | describe DIR\n"), 2;
    bool to_json = !strcmp(argv[at], "to-json");
    const char *want = to_json ? ".bin" : ".json";
    DIR *dir = opendir(argv[at + 1]);
    if (!dir) return perror(argv[at + 1]), 1;
    int bad = 0, n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name), wl = strlen(want);
        if (len <= wl || strcmp(e->d_name + len - wl, want) || strstr(e->d_name, ".c.")) continue;
        bad |= convert(argv[at + 1], e->d_name, to_json);
        n++;
    }
    closedir(dir);
    fprintf(stderr, "pbjson_tool: %s %d files%s\n", argv[at], n, schema ? " (loaded schema)" : "");
    kt_pbschema_free(schema);
    return bad;
}
