/* dataset_cityscapes.c — Cityscapes fine annotations: leftImg8bit/SPLIT/CITY
 * images paired with gtFine/SPLIT/CITY/ID_gtFine_labelIds.png, label ids
 * mapped to the 19 train ids. */
#include "data/dataset_impl.h"

static const char *const cityscapes_names[19] = {
    "road",       "sidewalk", "building", "wall",   "fence", "pole",  "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck",      "bus",      "train",    "motorcycle", "bicycle"};
static const uint8_t cityscapes_colours[57] = {
    128, 64,  128, 244, 35,  232, 70,  70,  70,  102, 102, 156, 190, 153, 153, 153, 153, 153, 250,
    170, 30,  220, 220, 0,   107, 142, 35,  152, 251, 152, 70,  130, 180, 220, 20,  60,  255, 0,
    0,   0,   0,   142, 0,   0,   70,  0,   60,  100, 0,   80,  100, 0,   0,   230, 119, 11,  32};
/* labelId (0..33) -> trainId, 255 = ignored */
static const uint8_t cityscapes_train_id[34] = {255, 255, 255, 255, 255, 255, 255, 0,   1,   255, 255, 2,
                                                3,   4,   255, 255, 255, 5,   255, 6,   7,   8,   9,   10,
                                                11,  12,  13,  14,  15,  255, 255, 16,  17,  18};

static int open_cityscapes(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "cityscapes dataset: root folder not set");
    char rel[1024];
    snprintf(rel, sizeof rel, "leftImg8bit/%s", split);
    char *idir = pixl__join(o->root, rel);
    snprintf(rel, sizeof rel, "gtFine/%s", split);
    char *ldir = pixl__join(o->root, rel);
    if (!idir || !ldir) {
        free(idir), free(ldir);
        return PIXL_ERR_NOMEM;
    }
    char **cities = NULL;
    int nc = pixl__list_dir(idir, 1, &cities), rc = nc < 0 ? nc : PIXL_OK;
    for (int c = 0; c < nc && !rc; c++) {
        char *ci = pixl__join(idir, cities[c]), *cl = pixl__join(ldir, cities[c]);
        if (!ci || !cl) rc = PIXL_ERR_NOMEM;
        else if (ds->has_labels && !pixl__is_dir(cl))
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "cityscapes dataset: label folder '%s' not found", cl);
        else rc = pixl__dataset_pair_folder(ds, ci, cl, "_gtFine_labelIds", "_leftImg8bit");
        free(ci), free(cl);
    }
    if (!rc && ds->n == 0)
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "cityscapes dataset: no images under '%s/<city>/'", idir);
    pixl__free_strings(cities, nc > 0 ? nc : 0);
    free(idir), free(ldir);
    return rc;
}

static int open_cityscapes_kind(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    ds->map = PIXL__MAP_LUT;
    for (int v = 0; v < 256; v++) ds->lut[v] = v < 34 ? cityscapes_train_id[v] : 255;
    int rc = pixl__dataset_set_classes(ds, 19, cityscapes_names, cityscapes_colours);
    return rc ? rc : open_cityscapes(ds, o, split);
}

const pixl__dataset_kind pixl__dataset_cityscapes = {"cityscapes", open_cityscapes_kind};
