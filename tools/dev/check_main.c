/* check_main.c — a stand-alone `check` for partial development builds
 * (make partial); the real entry point is `pixl check` in tools/pixl.c. */
#include <stdio.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: check_partial DIR|FILE [-v]\n");
        return 2;
    }
    int verbose = argc > 2 && !strcmp(argv[2], "-v");
    size_t n = strlen(argv[1]);
    if (n > 12 && !strcmp(argv[1] + n - 12, ".safetensors")) return check_run_file(argv[1], verbose) ? 0 : 1;
    return check_run_dir(argv[1], verbose) ? 1 : 0;
}
