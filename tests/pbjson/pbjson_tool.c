/* The interop test's C side: converts every <name>.<Type>.bin in a directory to
 * <name>.<Type>.c.json (to-json), or every <name>.<Type>.json to <name>.<Type>.c.bin
 * (from-json), with kubetee's pbjson and the test proto's protobuf-c descriptors. A file
 * that is refused gets <name>.<Type>.c.err with the reason instead. */
#include "pbjson_test.pb-c.h"
#include <kubetee/pbjson.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static const ProtobufCMessageDescriptor *type_of(const char *file)
{
    static const ProtobufCMessageDescriptor *types[] = {&kt__pbjsontest__all__descriptor,
                                                        &kt__pbjsontest__scalars__descriptor,
                                                        &kt__pbjsontest__item__descriptor};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char mid[80];
        snprintf(mid, sizeof mid, ".%s.", types[i]->short_name);
        if (strstr(file, mid)) return types[i];
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

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "to-json") && strcmp(argv[1], "from-json")))
        return fprintf(stderr, "usage: pbjson_tool to-json|from-json DIR\n"), 2;
    bool to_json = !strcmp(argv[1], "to-json");
    const char *want = to_json ? ".bin" : ".json";
    DIR *dir = opendir(argv[2]);
    if (!dir) return perror(argv[2]), 1;
    int bad = 0, n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name), wl = strlen(want);
        if (len <= wl || strcmp(e->d_name + len - wl, want) || strstr(e->d_name, ".c.")) continue;
        bad |= convert(argv[2], e->d_name, to_json);
        n++;
    }
    closedir(dir);
    fprintf(stderr, "pbjson_tool: %s %d files\n", argv[1], n);
    return bad;
}
