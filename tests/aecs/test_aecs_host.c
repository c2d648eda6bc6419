/* The AECS host's audit tail (services/aecs/server/ocalls.c), what aecs-server hands the
 * enclave at Start: the last lines of the audit file, never more than one call into the
 * enclave carries (a store with thousands of long lines started at all: found with 10,000
 * secrets), the newest kept, a cut last line left out. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "aecs_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_lines(size_t n, size_t len, const char *cut)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%06zu %0*d\n", i, (int)len, 0);
    if (cut) fputs(cut, f);
    fclose(f);
}

static void test_tail_fits_one_call(void **state)
{
    (void)state;
    char **lines;
    size_t n, bytes = 0;
    write_lines(5000, 600, NULL); /* 4096 of these are 2.5 MiB */
    assert_int_equal(aecs_host_audit_tail(path, 4096, &lines, &n), KT_OK);
    for (size_t i = 0; i < n; i++) bytes += strlen(lines[i]) + 16;
    assert_true(n > 1000 && n < 4096);
    assert_true(bytes <= 768u << 10);
    assert_int_equal(strncmp(lines[n - 1], "004999 ", 7), 0); /* the newest kept */
    aecs_host_free_lines(lines, n);
}

static void test_tail_short_file_whole(void **state)
{
    (void)state;
    char **lines;
    size_t n;
    write_lines(10, 50, "cut-without-newline");
    assert_int_equal(aecs_host_audit_tail(path, 4096, &lines, &n), KT_OK);
    assert_int_equal(n, 10);
    assert_int_equal(strncmp(lines[0], "000000 ", 7), 0);
    assert_int_equal(strncmp(lines[9], "000009 ", 7), 0);
    aecs_host_free_lines(lines, n);
    write_lines(10, 50, NULL);
    assert_int_equal(aecs_host_audit_tail(path, 4, &lines, &n), KT_OK); /* the line cap as before */
    assert_int_equal(n, 4);
    assert_int_equal(strncmp(lines[0], "000006 ", 7), 0);
    aecs_host_free_lines(lines, n);
}

int main(void)
{
    strcpy(path, "/tmp/kt-aecs-host-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_fits_one_call),
        cmocka_unit_test(test_tail_short_file_whole),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    return rc;
}
