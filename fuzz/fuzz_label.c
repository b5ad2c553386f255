/* fuzz_label.c — pixl_label_load() (src/data/image_codec.c): a label map
 * PNG (palette indices, grey values, grey+alpha, 16-bit values) from a file;
 * RGB PNGs and JPEGs must be refused. */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl_data.h"

int pixl_fuzz_label(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("label.png");
    if (pixl_fuzz_write(path, data, size)) return 0;
    int w = 0, h = 0;
    int32_t *lab = pixl_label_load(path, &w, &h);
    if (lab) {
        int32_t *r = pixl_label_resize(lab, w, h, 3, 2);
        free(r);
    }
    free(lab);
    return 0;
}

PIXL_FUZZ_ENTRY(label)
