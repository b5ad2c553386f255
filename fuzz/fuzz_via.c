/* fuzz_via.c — pixl_label_store_import_via() (src/data/label_store_via.c):
 * a VGG Image Annotator project or export (VIA 2 `_via_img_metadata` or
 * top-level entries, VIA 3 `file`/`view`/`metadata`) with point regions,
 * matched to a small synthetic dataset (6 images synthetic_00000K of
 * 48 x 40; classes background, disc, rectangle, triangle, ring). The first
 * byte picks the class attribute (NULL: the only one, "class", "1"); the
 * rest is the JSON file. */
#include "fuzz.h"
#include "pixl_data.h"

static const pixl_dataset *fixture(void)
{
    static pixl_dataset *ds;
    if (!ds) {
        pixl_dataset_opts o = {.kind = "synthetic", .count = 6, .width = 48, .height = 40, .seed = 3};
        ds = pixl_dataset_open(&o);
    }
    return ds;
}
int pixl_fuzz_via(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const pixl_dataset *ds = fixture();
    if (!ds) return 0;
    const char *path = pixl_fuzz_path("via.json");
    if (pixl_fuzz_write(path, data + 1, size - 1)) return 0;
    static const char *const attrs[4] = {NULL, "class", "1", NULL};
    int skipped = 0;
    pixl_label_store *s = pixl_label_store_import_via(path, ds, attrs[data[0] & 3], 1, &skipped);
    pixl_label_store_free(s);
    return 0;
}

PIXL_FUZZ_ENTRY(via)
