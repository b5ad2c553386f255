/* fuzz_image.c — pixl_image_decode() (src/data/image_codec.c): PNG (grey,
 * palette, alpha, 16-bit) and JPEG bytes through libpng / libjpeg. The
 * first byte picks the requested channels (0 as stored, 1, 3, 4) and depth
 * (0 as stored, 8, 16); the rest is the file. A decoded image is converted
 * to 8-bit RGB and resized to 7 x 5, as the data loader would. */
#include "fuzz.h"
#include "pixl_data.h"

int pixl_fuzz_image(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const int channels[4] = {0, 1, 3, 4}, depths[3] = {0, 8, 16};
    pixl_image *im = pixl_image_decode(data + 1, size - 1, channels[data[0] & 3], depths[(data[0] >> 2) % 3]);
    if (!im) return 0;
    pixl_image *rgb = pixl_image_convert(im, 3, 8);
    pixl_image *small = rgb ? pixl_image_resize(rgb, 7, 5) : NULL;
    pixl_image_free(small);
    pixl_image_free(rgb);
    pixl_image_free(im);
    return 0;
}

PIXL_FUZZ_ENTRY(image)
