/* Fuzz target: a signed enclave image as the loader reads it (trailer, SIGSTRUCT, ELF,
 * imports, measurement), and the ELF reader, measurement and EINIT-ready rules on their
 * own. */
#include <kubetee/image.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    kt_signed_image img;
    kt_enclave_identity id;
    kt_image_verify(data, n, &img, &id);

    kt_elf elf;
    if (kt_elf_parse(data, n, &elf) == KT_OK) {
        kt_elf_check_imports(&elf);
        kt_enclave_config c;
        kt_enclave_config_default(&c);
        c.heap_size = 4096;
        c.stack_size = 4096;
        c.tcs_count = 1;
        uint8_t mr[32];
        /* bound the work: the reader accepts spans up to 64 GiB, the fuzzer needn't */
        if (elf.image_size < (64u << 20)) {
            kt_measure(data, n, &c, mr);
            kt_einit_report r;
            kt_einit_check(data, n, &c, &r);
        }
    }
    return 0;
}
