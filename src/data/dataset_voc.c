/* dataset_voc.c — Pascal VOC 2012 segmentation (and the SBD-augmented
 * lists): ImageSets/Segmentation/SPLIT.txt ids, JPEGImages and
 * SegmentationClass(Aug), the VOC colour map; 255 stays ignored. */
#include "data/dataset_impl.h"

static const char *const voc_names[21] = {"background", "aeroplane", "bicycle", "bird",  "boat",
                                          "bottle",     "bus",       "car",     "cat",   "chair",
                                          "cow",        "diningtable", "dog",   "horse", "motorbike",
                                          "person",     "pottedplant", "sheep", "sofa",  "train",
                                          "tvmonitor"};

static int open_voc(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "voc dataset: root folder not set");
    const char *image_dir = o->image_dir ? o->image_dir : "JPEGImages";
    /* accept the VOC2012 folder itself or a folder holding VOCdevkit/VOC2012 */
    static const char *const subs[] = {"", "VOC2012", "VOCdevkit/VOC2012"};
    char *root = NULL;
    for (size_t k = 0; k < 3 && !root; k++) {
        char *r = k ? pixl__join(o->root, subs[k]) : pixl__strdup(o->root);
        char *j = r ? pixl__join(r, image_dir) : NULL;
        if (j && pixl__is_dir(j)) root = r;
        else free(r);
        free(j);
    }
    if (!root)
        return pixl_set_error(PIXL_ERR_NOT_FOUND, "voc dataset: no '%s' folder under '%s' (or VOCdevkit/VOC2012)",
                              image_dir, o->root);
    const char *label_dir = o->label_dir;
    if (!label_dir) {
        int aug = strstr(split, "aug") != NULL;
        char *a = pixl__join(root, "SegmentationClass"), *b = pixl__join(root, "SegmentationClassAug");
        if (aug) label_dir = pixl__is_dir(b) || !pixl__is_dir(a) ? "SegmentationClassAug" : "SegmentationClass";
        else label_dir = pixl__is_dir(a) || !pixl__is_dir(b) ? "SegmentationClass" : "SegmentationClassAug";
        free(a), free(b);
    }
    char *lp = NULL;
    if (o->list) {
        lp = pixl__join(root, o->list);
    } else {
        const char *dirs[] = {"ImageSets/Segmentation", "ImageSets/SegmentationAug", ""};
        for (size_t k = 0; k < 3 && !lp; k++) {
            char name[1024];
            snprintf(name, sizeof name, "%s%s%s.txt", dirs[k], dirs[k][0] ? "/" : "", split);
            char *c = pixl__join(root, name);
            if (c && pixl__is_file(c)) lp = c;
            else free(c);
        }
        if (!lp) {
            int rc = pixl_set_error(PIXL_ERR_NOT_FOUND,
                                    "voc dataset: no list for split '%s' (ImageSets/Segmentation/%s.txt) under '%s'",
                                    split, split, root);
            free(root);
            return rc;
        }
    }
    int rc = !lp ? PIXL_ERR_NOMEM
                 : pixl__is_file(lp) ? pixl__dataset_parse_list(ds, root, lp, o->strip_prefix, 1, image_dir, label_dir)
                                     : pixl_set_error(PIXL_ERR_NOT_FOUND, "voc dataset: list file '%s' not found", lp);
    free(lp), free(root);
    return rc;
}

static int open_voc_kind(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    uint8_t col[21 * 3];
    pixl_voc_colours(21, col);
    ds->map = PIXL__MAP_RANGE;
    int rc = pixl__dataset_set_classes(ds, 21, voc_names, col);
    return rc ? rc : open_voc(ds, o, split);
}

const pixl__dataset_kind pixl__dataset_voc = {"voc", open_voc_kind};
