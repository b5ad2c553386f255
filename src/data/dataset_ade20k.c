/* dataset_ade20k.c — ADE20K scene parsing (SceneParsing release):
 * images/{training,validation} and annotations/..., 150 classes with 0 =
 * "other" (reduce_zero_label). */
#include "data/dataset_impl.h"

static const char *const ade_names[] = {
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
    "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
    "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier",
    "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag"};
_Static_assert(sizeof ade_names / sizeof ade_names[0] == 150, "ADE20K has 150 classes");

static int open_ade(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    ds->map = PIXL__MAP_REDUCE_ZERO;
    int rc = pixl__dataset_set_classes(ds, 150, ade_names, NULL);
    if (rc) return rc;
    const char *sub = !strcmp(split, "train") ? "training" : !strcmp(split, "val") ? "validation" : split;
    char irel[1024], lrel[1024];
    snprintf(irel, sizeof irel, "images/%s", sub);
    snprintf(lrel, sizeof lrel, "annotations/%s", sub);
    return pixl__dataset_open_pair(ds, o->root, irel, lrel, "annotation");
}

const pixl__dataset_kind pixl__dataset_ade20k = {"ade20k", open_ade};
