/* loader_dump.c — the first batch of pixl's CamVid loader as the anchor
 * recipe configures it (resize to 176x240, no augmentation), for
 * scripts/check/enet_vs_anchor.sh, which compares it with the anchor's own
 * preprocessing (../shared/anchors/camvid_torch_train.py).
 *
 *   loader_dump CAMVID_ROOT OUT.safetensors */
#include <stdio.h>
#include <stdlib.h>

#include "pixl.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CAMVID_ROOT OUT.safetensors\n", argv[0]);
        return 2;
    }
    pixl_dataset *ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "camvid", .root = argv[1], .split = "train"});
    pixl_augment_opts ao = {0};
    pixl_loader *L = ds ? pixl_loader_new(ds, &(pixl_loader_opts){.batch_size = 8, .augment = &ao,
                                                                   .resize_width = 240, .resize_height = 176})
                        : NULL;
    pixl_batch b;
    if (!L || pixl_loader_next(L, &b)) {
        fprintf(stderr, "%s\n", pixl_last_error());
        return 1;
    }
    pixl_st_writer *w = pixl_st_writer_new();
    int64_t s4[4] = {b.n, 3, b.height, b.width}, s3[3] = {b.n, b.height, b.width}, si[1] = {b.n};
    int32_t idx[8];
    for (int i = 0; i < b.n; i++) idx[i] = b.indices[i];
    pixl_st_writer_add(w, "images", PIXL_F32, 4, s4, b.images);
    pixl_st_writer_add(w, "labels", PIXL_I32, 3, s3, b.labels);
    pixl_st_writer_add(w, "indices", PIXL_I32, 1, si, idx);
    int rc = pixl_st_writer_save(w, argv[2]);
    pixl_st_writer_free(w);
    if (rc) fprintf(stderr, "%s\n", pixl_last_error());
    pixl_loader_free(L);
    pixl_dataset_free(ds);
    return rc ? 1 : 0;
}
