/* fuzz_safetensors.c — pixl_st_open() (src/io/safetensors.c): the header
 * length, the JSON header (dtypes, shapes, data_offsets, __metadata__),
 * then every tensor read back as f32, f64, i64 and i32. */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl.h"

int pixl_fuzz_safetensors(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("in.safetensors");
    if (pixl_fuzz_write(path, data, size)) return 0;
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return 0;
    for (int i = 0; i < pixl_st_count(f); i++) {
        (void)pixl_st_name(f, i);
        (void)pixl_st_dtype(f, i);
        (void)pixl_st_ndim(f, i);
        (void)pixl_st_shape(f, i);
        int64_t n = pixl_st_numel(f, i);
        if (n < 0 || n > ((int64_t)1 << 22)) continue;
        void *buf = malloc(8 * (size_t)(n ? n : 1));
        if (!buf) continue;
        pixl_st_read_f32(f, i, buf);
        pixl_st_read_f64(f, i, buf);
        pixl_st_read_i64(f, i, buf);
        pixl_st_read_i32(f, i, buf);
        free(buf);
    }
    (void)pixl_st_meta(f, "format");
    pixl_st_close(f);
    return 0;
}

PIXL_FUZZ_ENTRY(safetensors)
