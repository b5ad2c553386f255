/* dataset_camvid.c — CamVid (SegNet's 11-class version): list files
 * "image label" under the root, labels 0..10 with 11 = void. */
#include "data/dataset_impl.h"

static const char *const camvid_names[11] = {"Sky",        "Building", "Pole", "Road",       "Pavement", "Tree",
                                             "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist"};
static const uint8_t camvid_colours[33] = {128, 128, 128, 128, 0,   0,   192, 192, 128, 128, 64,
                                           128, 60,  40,  222, 128, 128, 0,   192, 128, 128, 64,
                                           64,  128, 64,  0,   128, 64,  64,  0,   0,   128, 192};

static const float camvid_mean[3] = {0.4119f, 0.4251f, 0.4327f}, camvid_std[3] = {0.2741f, 0.2851f, 0.2828f};

static int open_camvid(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    memcpy(ds->mean, camvid_mean, sizeof ds->mean);
    memcpy(ds->std, camvid_std, sizeof ds->std);
    ds->map = PIXL__MAP_RANGE;
    int rc = pixl__dataset_set_classes(ds, 11, camvid_names, camvid_colours);
    return rc ? rc : pixl__dataset_open_list(ds, o, split);
}

const pixl__dataset_kind pixl__dataset_camvid = {"camvid", open_camvid};
