/* fuzz_label_store.c — pixl_label_store_load() (src/data/label_store_json.c):
 * PixelPick's sparse labels as JSON (format, version, classes, images
 * with their sizes and [y, x, label, round] points), then the points
 * painted into a label map as training does. */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl_data.h"

int pixl_fuzz_label_store(const uint8_t *data, size_t size)
{
    const char *path = pixl_fuzz_path("labels.json");
    if (pixl_fuzz_write(path, data, size)) return 0;
    pixl_label_store *s = pixl_label_store_load(path);
    if (!s) return 0;
    for (int k = 0; k < pixl_label_store_n_classes(s); k++) (void)pixl_label_store_class_name(s, k);
    for (int i = 0; i < pixl_label_store_n_images(s); i++) {
        int h = 0, w = 0, n = 0;
        const char *id = pixl_label_store_image(s, i, &h, &w, &n);
        const pixl_label_point *p = pixl_label_store_points(s, i);
        if (n > 0 && p) (void)p[n - 1];
        if (id && (int64_t)h * w <= 4096 && h > 0 && w > 0) {
            int32_t *lab = calloc((size_t)h * (size_t)w, sizeof(int32_t));
            if (lab) pixl_label_store_apply(s, id, h, w, lab, NULL);
            free(lab);
        }
    }
    pixl_label_store_free(s);
    return 0;
}

PIXL_FUZZ_ENTRY(label_store)
