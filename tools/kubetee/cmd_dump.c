/* kubetee dump: what a signed enclave is, after checking it as a loader would. */
#include "cli.h"
#include "commands.h"

#include <stdio.h>

int cmd_dump(int argc, char **argv)
{
    cli_opt o[] = {{"enclave", true, "signed enclave"},
                   {"json", false, "print JSON"},
                   {"max-enclave-gib", true, "largest enclave size measured, GiB (default 8)"}};
    if (!cli_parse(argc, argv, o, CLI_NOPTS(o)) || !o[0].value) {
        fprintf(stderr,
                "usage: kubetee dump --enclave e.signed.so [--json] [--max-enclave-gib N]\n");
        return 2;
    }
    uint64_t max_gib = KT_ENCLAVE_SIZE_MAX_DEFAULT >> 30;
    if (o[2].value && (kt_decimal_parse(o[2].value, 1u << 20, &max_gib) || max_gib == 0)) {
        fprintf(stderr, "kubetee: --max-enclave-gib must be a whole number of GiB, 1 or more\n");
        return 2;
    }
    kt_buf file = {0};
    kt_signed_image img;
    kt_enclave_identity id;
    kt_status st = kt_file_read(o[0].value, KT_IMAGE_MAX, &file);
    if (st) return cli_die("reading enclave", st);
    st = kt_image_verify_within(file.data, file.len, max_gib << 30, &img, &id);
    kt_einit_report einit;
    if (!st) st = kt_einit_check(img.elf, img.elf_len, &img.config, &einit);
    kt_buf_free(&file);
    if (st) return cli_die("verifying enclave", st);
    char mre[65], mrs[65];
    kt_hex_encode(id.mrenclave, 32, mre, sizeof mre);
    kt_hex_encode(id.mrsigner, 32, mrs, sizeof mrs);
    const kt_enclave_config *c = &id.config;
    unsigned y = id.date >> 16, md = id.date & 0xffff;
    if (o[1].value) {
        printf("{\"mrenclave\":\"%s\",\"mrsigner\":\"%s\",\"prodid\":%u,\"svn\":%u,"
               "\"debug\":%s,\"date\":\"%04x-%02x-%02x\",\"attributes\":{\"flags\":\"0x%llx\","
               "\"xfrm\":\"0x%llx\"},\"config\":{\"heap_size\":%llu,\"stack_size\":%llu,"
               "\"tcs_count\":%u,\"max_message_size\":%llu},",
               mre, mrs, c->prodid, c->svn, c->debug ? "true" : "false", y, md >> 8, md & 0xff,
               (unsigned long long)id.attr_flags, (unsigned long long)id.attr_xfrm,
               (unsigned long long)c->heap_size, (unsigned long long)c->stack_size, c->tcs_count,
               (unsigned long long)c->max_message_size);
        cli_print_einit(&einit, true);
        printf("}\n");
    } else {
        printf("mrenclave:        %s\nmrsigner:         %s\nprodid:           %u\nsvn:             "
               " %u\n"
               "debug:            %s\ndate:             %04x-%02x-%02x\n"
               "attributes:       flags=0x%llx xfrm=0x%llx\nheap_size:        %llu\n"
               "stack_size:       %llu\ntcs_count:        %u\nmax_message_size: %llu\n",
               mre, mrs, c->prodid, c->svn, c->debug ? "true" : "false", y, md >> 8, md & 0xff,
               (unsigned long long)id.attr_flags, (unsigned long long)id.attr_xfrm,
               (unsigned long long)c->heap_size, (unsigned long long)c->stack_size, c->tcs_count,
               (unsigned long long)c->max_message_size);
        cli_print_einit(&einit, false);
    }
    return 0;
}
