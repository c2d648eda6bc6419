/* kubetee new NAME: a project that builds against the installed SDK, from the templates
 * embedded in this tool. Layer "base" always; each --with-* option adds its layer, whose
 * files replace base's of the same path. Nothing here goes through a shell: the name is
 * checked against an allow-list, the directory made with mkdir (an existing one is
 * refused) and every file created with O_EXCL|O_NOFOLLOW inside it. */
#include "cli.h"
#include "commands.h"
#include "project_name.h"
#include "templates.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the options that add a layer, what the layer's project needs from kubetee (said when
 * this kubetee has no such layer), and what follows its host's command line in the
 * hint printed at the end */
static const struct {
    const char *option, *layer, *needs, *run;
} layers[] = {
    {"with-remote", "remote", "the enclave service",
     " &   # then: kubetee call (README.md)"},
    {"with-aecs", "aecs", "AECS (the TA fetching its key from the key service)",
     " 127.0.0.1:7443   # AECS's address; README.md says how to start it"},
};
#define NLAYERS (sizeof layers / sizeof layers[0])

static const char *in_layer(const template_file *t, const char *layer)
{
    size_t n = strlen(layer);
    return strncmp(t->path, layer, n) == 0 && t->path[n] == '/' ? t->path + n + 1 : NULL;
}

static bool layer_exists(const char *layer)
{
    for (size_t i = 0; i < template_count; i++)
        if (in_layer(&template_files[i], layer)) return true;
    return false;
}

/* "gitignore" in the templates is ".gitignore" in the project (no hidden template files) */
static const char *project_path(const char *rel)
{
    return strcmp(rel, "gitignore") == 0 ? ".gitignore" : rel;
}

/* the template's bytes with @NAME@ and @ID@ replaced, written to fd */
static bool write_expanded(int fd, const template_file *t, const char *name, const char *id)
{
    static const char *const keys[] = {"@NAME@", "@ID@"};
    const char *vals[] = {name, id};
    const char *p = (const char *)t->data, *end = p + t->len;
    while (p < end) {
        const char *at = memchr(p, '@', (size_t)(end - p));
        const char *stop = at ? at : end;
        if (stop > p && write(fd, p, (size_t)(stop - p)) != stop - p) return false;
        if (!at) break;
        size_t k;
        for (k = 0; k < 2; k++) {
            size_t kn = strlen(keys[k]);
            if ((size_t)(end - at) >= kn && memcmp(at, keys[k], kn) == 0) {
                size_t vn = strlen(vals[k]);
                if (write(fd, vals[k], vn) != (ssize_t)vn) return false;
                p = at + kn;
                break;
            }
        }
        if (k == 2) {
            if (write(fd, "@", 1) != 1) return false;
            p = at + 1;
        }
    }
    return true;
}

/* makes the directories of rel under dirfd (they are all new: the project dir is) */
static bool make_parents(int dirfd, const char *rel)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", rel) >= (int)sizeof buf) return false;
    for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdirat(dirfd, buf, 0755) != 0 && errno != EEXIST) return false;
        *s = '/';
    }
    return true;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: kubetee new NAME [--dir PARENT] [--with-remote] [--with-aecs]\n"
            "  makes PARENT/NAME (default ./NAME): enclave.c, host.c, app.proto, CMakeLists.txt\n"
            "  (find_package(kubetee)), enclave.conf, Containerfile, deploy/ (Kustomize), README.md\n"
            "  NAME: 1-%d bytes of a-z, 0-9 and '-', starting with a letter\n",
            PROJECT_NAME_MAX);
    return 2;
}

int cmd_new(int argc, char **argv)
{
    if (argc < 1 || strncmp(argv[0], "--", 2) == 0) return usage();
    const char *name = argv[0];
    cli_opt opts[] = {
        {"dir", true, "parent directory", NULL},
        {"with-remote", false, "serve remote calls", NULL},
        {"with-aecs", false, "fetch the key from AECS", NULL},
    };
    if (!cli_parse(argc - 1, argv + 1, opts, CLI_NOPTS(opts))) return usage();

    char id[PROJECT_NAME_MAX + 1];
    kt_status st = project_name_check(name, strlen(name), id, sizeof id);
    if (st) return cli_die("new", st);

    const char *chosen[1 + NLAYERS] = {"base"};
    size_t nchosen = 1;
    const char *run = "";
    for (size_t i = 0; i < NLAYERS; i++) {
        if (!cli_get(opts, CLI_NOPTS(opts), layers[i].option)) continue;
        if (!layer_exists(layers[i].layer)) {
            fprintf(stderr,
                    "kubetee new: --%s needs %s, which this kubetee does not have yet; "
                    "nothing was made\n",
                    layers[i].option, layers[i].needs);
            return 2;
        }
        chosen[nchosen++] = layers[i].layer;
        if (layers[i].run) run = layers[i].run;
    }

    const char *parent = cli_get(opts, CLI_NOPTS(opts), "dir");
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s", parent ? parent : ".", name) >= (int)sizeof dir) {
        fprintf(stderr, "kubetee new: --dir is too long\n");
        return 2;
    }
    char safe[PATH_MAX * 4 + 1];
    if (mkdir(dir, 0755) != 0) {
        int e = errno;
        fprintf(stderr, "kubetee new: %s '%s': %s\n",
                e == EEXIST ? "refusing to overwrite" : "cannot make",
                kt_escape(dir, strlen(dir), safe, sizeof safe), strerror(e));
        return 1;
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "kubetee new: cannot open '%s': %s\n",
                kt_escape(dir, strlen(dir), safe, sizeof safe), strerror(errno));
        return 1;
    }

    size_t written = 0;
    for (size_t i = 0; i < template_count; i++) {
        const template_file *t = &template_files[i];
        /* the file's layer, and whether a later chosen layer replaces it */
        size_t li;
        const char *rel = NULL;
        for (li = 0; li < nchosen && !(rel = in_layer(t, chosen[li])); li++)
            ;
        if (!rel) continue;
        bool replaced = false;
        for (size_t lj = li + 1; lj < nchosen && !replaced; lj++)
            for (size_t j = 0; j < template_count && !replaced; j++) {
                const char *r2 = in_layer(&template_files[j], chosen[lj]);
                replaced = r2 && strcmp(r2, rel) == 0;
            }
        if (replaced) continue;
        const char *out = project_path(rel);
        int fd = -1;
        if (make_parents(dirfd, out))
            fd = openat(dirfd, out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && write_expanded(fd, t, name, id);
        if (fd >= 0 && close(fd) != 0) ok = false;
        if (!ok) {
            fprintf(stderr, "kubetee new: writing %s/%s: %s\n",
                    kt_escape(dir, strlen(dir), safe, sizeof safe), out, strerror(errno));
            close(dirfd);
            return 1;
        }
        written++;
    }
    close(dirfd);
    printf("made %s/ (%zu files). Build, sign and run it:\n"
           "  cd %s && cmake -S . -B build && cmake --build build && build/%s-host build/%s.signed.so%s\n"
           "README.md says what to edit.\n",
           kt_escape(dir, strlen(dir), safe, sizeof safe), written, safe, name, name, run);
    return 0;
}
