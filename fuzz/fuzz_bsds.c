/* fuzz_bsds.c — pixl_bsds_read() (src/data/bsds.c): a BSDS500 ground-truth
 * MAT-file (libmatio), its cell array groundTruth of structs with
 * 'Boundaries' maps. */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl_data.h"

int pixl_fuzz_bsds(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("gt.mat");
    if (pixl_fuzz_write(path, data, size)) return 0;
    uint8_t *maps = NULL;
    int n = 0, w = 0, h = 0;
    if (pixl_bsds_read(path, &maps, &n, &w, &h) == PIXL_OK) free(maps);
    return 0;
}

PIXL_FUZZ_ENTRY(bsds)
