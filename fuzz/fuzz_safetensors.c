/* fuzz_safetensors.c — pixl_st_open() (src/io/safetensors.c): the header
 * length, the JSON header (dtypes, shapes, data_offsets, __metadata__),
 * then every tensor read back as f32, f64, i64 and i32; and the checkpoint
 * readers on the same file (src/io/checkpoint.c, pretrained.c):
 * pixl_checkpoint_meta, pixl_checkpoint_load and pixl_checkpoint_load_subset
 * into a parameter set of weight (F32 2x3), steps (I64 3), index (I32 4). */
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
    free(pixl_checkpoint_meta(path, "format"));
    static pixl_params *P;
    if (!P) {
        const int64_t s23[2] = {2, 3}, s3[1] = {3}, s4[1] = {4};
        const pixl_init_spec zero = {PIXL_INIT_ZEROS, 0, 0};
        P = pixl_params_new();
        pixl_params_add(P, "weight", PIXL_PARAM, PIXL_F32, 2, s23, zero);
        pixl_params_add(P, "steps", PIXL_BUFFER, PIXL_I64, 1, s3, zero);
        pixl_params_add(P, "index", PIXL_BUFFER, PIXL_I32, 1, s4, zero);
    }
    pixl_checkpoint_load(P, path, 1);
    pixl_checkpoint_load_subset(P, path);
    return 0;
}

PIXL_FUZZ_ENTRY(safetensors)
