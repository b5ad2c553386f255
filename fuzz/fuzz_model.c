/* fuzz_model.c — pixl_model_load() (src/models/model.c): a model
 * checkpoint, its metadata (arch, n_classes, in_channels, width, variant,
 * mean/std, input_size, class_names and class_colours as JSON, crf, pag)
 * and every parameter checked by name and shape and read. The harness
 * keeps to small networks so that an input runs in milliseconds: arch
 * "unet" with width <= 0.25, variant depth1..depth3, n_classes <= 64,
 * in_channels <= 4 (other inputs are skipped; the sizes a model may claim
 * are not this harness's subject). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pixl_models.h"

static int small(const char *path)
{
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return 1; /* pixl_model_load says why */
    const char *arch = pixl_st_meta(f, "arch"), *w = pixl_st_meta(f, "width"), *v = pixl_st_meta(f, "variant");
    const char *nc = pixl_st_meta(f, "n_classes"), *ic = pixl_st_meta(f, "in_channels");
    int ok = arch && !strcmp(arch, "unet") && w && strtod(w, NULL) <= 0.25 && v && strlen(v) == 6 &&
             !strncmp(v, "depth", 5) && v[5] >= '1' && v[5] <= '3' && (!nc || atoi(nc) <= 64) &&
             (!ic || atoi(ic) <= 4);
    pixl_st_close(f);
    return ok;
}

int pixl_fuzz_model(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("model.safetensors");
    if (pixl_fuzz_write(path, data, size) || !small(path)) return 0;
    pixl_model *m = pixl_model_load(path);
    pixl_model_free(m);
    return 0;
}

PIXL_FUZZ_ENTRY(model)
