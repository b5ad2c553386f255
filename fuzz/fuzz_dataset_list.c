/* fuzz_dataset_list.c — the list files of pixl_dataset_open()
 * (src/data/dataset_files.c, dataset_voc.c, dataset_camvid.c): "image
 * label" lines, comments, SegNet-style absolute paths with strip_prefix,
 * VOC id lines. The first byte picks the kind (list, camvid, voc),
 * unlabeled, strip_prefix and whether sample 0 is decoded; the rest is the
 * list file, under a folder holding a few real images and label maps
 * (a.png + a_L.png, b.png + b_L.png, JPEGImages/x.jpg +
 * SegmentationClass/x.png, train/c.png + trainannot/c.png). */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl_data.h"

static const char *fixture(void)
{
    static const char *root;
    if (root) return root;
    const char *r = pixl_fuzz_mkdir("ds");
    static char buf[512];
    snprintf(buf, sizeof buf, "%s", r);
    pixl_fuzz_mkdir("ds/JPEGImages");
    pixl_fuzz_mkdir("ds/SegmentationClass");
    pixl_fuzz_mkdir("ds/train");
    pixl_fuzz_mkdir("ds/trainannot");
    pixl_fuzz_png(pixl_fuzz_path("ds/a.png"), 6, 4, 3);
    pixl_fuzz_png(pixl_fuzz_path("ds/a_L.png"), 6, 4, 1);
    pixl_fuzz_png(pixl_fuzz_path("ds/b.png"), 5, 5, 3);
    pixl_fuzz_png(pixl_fuzz_path("ds/b_L.png"), 4, 4, 1);
    pixl_fuzz_png(pixl_fuzz_path("ds/train/c.png"), 3, 2, 3);
    pixl_fuzz_png(pixl_fuzz_path("ds/trainannot/c.png"), 3, 2, 1);
    pixl_fuzz_png(pixl_fuzz_path("ds/SegmentationClass/x.png"), 4, 3, 1);
    pixl_image *im = pixl_image_new(4, 3, 3, 8);
    if (im) pixl_image_save_jpeg(im, pixl_fuzz_path("ds/JPEGImages/x.jpg"), 90);
    pixl_image_free(im);
    root = buf;
    return root;
}

int pixl_fuzz_dataset_list(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const kinds[4] = {"list", "camvid", "voc", "list"};
    const char *root = fixture();
    if (pixl_fuzz_write(pixl_fuzz_path("ds/list.txt"), data + 1, size - 1)) return 0;
    pixl_dataset_opts o = {0};
    o.kind = kinds[data[0] & 3];
    o.root = root;
    o.list = "list.txt";
    o.n_classes = 5;
    o.unlabeled = (data[0] >> 2) & 1;
    o.strip_prefix = (data[0] >> 3) & 1 ? "/SegNet/CamVid/" : NULL;
    pixl_dataset *ds = pixl_dataset_open(&o);
    if (!ds) return 0;
    for (int i = 0; i < pixl_dataset_size(ds); i++) {
        (void)pixl_dataset_image_path(ds, i);
        (void)pixl_dataset_label_path(ds, i);
        (void)pixl_dataset_sample_name(ds, i);
    }
    if ((data[0] >> 4) & 1) {
        pixl_image *im = NULL;
        int32_t *lab = NULL;
        if (pixl_dataset_load(ds, 0, &im, &lab) == PIXL_OK) {
            pixl_image_free(im);
            free(lab);
        }
    }
    pixl_dataset_free(ds);
    return 0;
}

PIXL_FUZZ_ENTRY(dataset_list)
