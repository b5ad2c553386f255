/* fuzz_click_log.c — pixl_click_log_load() (src/data/click_log.c): the
 * annotation tool's per-image CSV "loc,label,elapsed_time,total_time" with
 * "(y, x)" locations (numpy's "(np.int64(y), np.int64(x))" too), class
 * names of CamVid's 11 classes. */
#include <stdlib.h>

#include "fuzz.h"
#include "pixl_data.h"

int pixl_fuzz_click_log(const uint8_t *data, size_t size)
{
    static const char *const names[11] = {"Sky",        "Building", "Pole", "Road",       "Pavement", "Tree",
                                          "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist"};
    const char *path = pixl_fuzz_path("clicks.csv");
    if (pixl_fuzz_write(path, data, size)) return 0;
    pixl_click *rows = NULL;
    int n = 0;
    if (pixl_click_log_load(path, 11, names, &rows, &n) == PIXL_OK) free(rows);
    return 0;
}

PIXL_FUZZ_ENTRY(click_log)
