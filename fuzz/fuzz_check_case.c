/* fuzz_check_case.c — check_run_file() (tools/cmd_check.c), what `pixl
 * check` does with a reference case: a safetensors file whose metadata
 * names the op, its params (JSON) and inputs (JSON list), with the input,
 * output and gradient tensors; the op is built, run and compared. */
#include "check.h"
#include "fuzz.h"

int pixl_fuzz_check_case(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("case.safetensors");
    if (pixl_fuzz_write(path, data, size)) return 0;
    check_run_file(path, 0);
    return 0;
}

PIXL_FUZZ_ENTRY(check_case)
