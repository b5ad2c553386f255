/* test_image.c — image and label-map I/O: PNG round trips (grey, grey+alpha,
 * RGB, RGBA, 8/16 bits, palette label maps), JPEG round trips, errors that
 * name the file for missing/empty/truncated/corrupted/unsupported files
 * (never a crash), atomic writes, resizing, CHW conversion, colourising,
 * and a real CamVid frame + annotation when ../shared is present. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* jpeglib.h needs FILE and size_t first */
#include <jpeglib.h>

#include "test.h"
#include "pixl_data.h"

static char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/%s", pixl_test_tmpdir(), name);
    return buf[k];
}

static unsigned long long g_rng = 88172645463325252ULL;
static unsigned rnd(void)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (unsigned)(g_rng >> 16);
}

static pixl_image *random_image(int w, int h, int c, int depth)
{
    pixl_image *img = pixl_image_new(w, h, c, depth);
    size_t n = (size_t)w * h * c;
    for (size_t i = 0; i < n; i++) {
        if (depth == 8) ((uint8_t *)img->data)[i] = (uint8_t)rnd();
        else ((uint16_t *)img->data)[i] = (uint16_t)rnd();
    }
    return img;
}

/* smooth content (JPEG-friendly) */
static pixl_image *smooth_image(int w, int h, int c)
{
    pixl_image *img = pixl_image_new(w, h, c, 8);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                ((uint8_t *)img->data)[((size_t)y * w + x) * c + k] = (uint8_t)(40 + x * 3 + y * 2 + k * 25);
    return img;
}

static int same_image(const pixl_image *a, const pixl_image *b)
{
    return a && b && a->width == b->width && a->height == b->height && a->channels == b->channels &&
           a->depth == b->depth &&
           !memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels * (a->depth / 8));
}

static int write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* the error names the file */
#define CHECK_ERR_NAMES(path)                                                                          \
    CHECK_MSG(strstr(pixl_last_error(), path) != NULL, "error does not name %s: %s", path, pixl_last_error())

PIXL_TEST(image_png_roundtrip_8bit)
{
    for (int c = 1; c <= 4; c++) {
        pixl_image *img = random_image(37, 23, c, 8);
        char name[64];
        snprintf(name, sizeof name, "rt8_%d.png", c);
        CHECK_OK(pixl_image_save_png(img, tpath(name)));
        pixl_image *back = pixl_image_load(tpath(name), 0, 0);
        CHECK_MSG(same_image(img, back), "8-bit %d-channel PNG round trip differs (%s)", c, pixl_last_error());
        pixl_image_free(back);
        /* forced RGB: grey replicated / alpha dropped */
        back = pixl_image_load(tpath(name), 3, 8);
        CHECK(back && back->channels == 3 && back->depth == 8);
        if (back) {
            const uint8_t *s = img->data, *d = back->data;
            int ok = 1;
            for (int p = 0; p < 37 * 23; p++)
                for (int k = 0; k < 3; k++) ok &= d[3 * p + k] == s[p * c + (c >= 3 ? k : 0)];
            CHECK_MSG(ok, "%d-channel PNG loaded as RGB differs", c);
        }
        pixl_image_free(back);
        pixl_image_free(img);
    }
}

PIXL_TEST(image_png_roundtrip_16bit)
{
    for (int c = 1; c <= 4; c += 2) {
        pixl_image *img = random_image(19, 11, c, 16);
        const char *p = tpath(c == 1 ? "rt16_1.png" : "rt16_3.png");
        CHECK_OK(pixl_image_save_png(img, p));
        pixl_image *back = pixl_image_load(p, 0, 0);
        CHECK_MSG(same_image(img, back), "16-bit %d-channel PNG round trip differs (%s)", c, pixl_last_error());
        pixl_image_free(back);
        back = pixl_image_load(p, 0, 8);
        CHECK(back && back->depth == 8 && back->channels == c);
        if (back) {
            int worst = 0;
            for (int i = 0; i < 19 * 11 * c; i++) {
                int want = (int)((((uint16_t *)img->data)[i] * 255u + 32767u) / 65535u);
                int d = abs(((uint8_t *)back->data)[i] - want);
                if (d > worst) worst = d;
            }
            CHECK_MSG(worst <= 1, "16 -> 8 bit scaling off by %d", worst);
        }
        pixl_image_free(back);
        /* 16-bit grey label maps keep their values */
        if (c == 1) {
            int w, h;
            int32_t *lab = pixl_label_load(p, &w, &h);
            CHECK(lab && w == 19 && h == 11);
            if (lab) {
                int ok = 1;
                for (int i = 0; i < 19 * 11; i++) ok &= lab[i] == ((uint16_t *)img->data)[i];
                CHECK_MSG(ok, "16-bit label values changed");
            }
            free(lab);
        }
        pixl_image_free(img);
    }
}

PIXL_TEST(image_label_png_grey_and_palette)
{
    const int w = 29, h = 17;
    int32_t *lab = malloc(sizeof *lab * w * h);
    for (int i = 0; i < w * h; i++) lab[i] = (i * 7) % 13 == 12 ? 255 : (i * 7) % 13;
    uint8_t pal[13 * 3];
    for (int k = 0; k < 13 * 3; k++) pal[k] = (uint8_t)(k * 19 + 3);
    /* grey */
    CHECK_OK(pixl_label_save_png(lab, w, h, NULL, 0, tpath("lab_grey.png")));
    int ww = 0, hh = 0;
    int32_t *back = pixl_label_load(tpath("lab_grey.png"), &ww, &hh);
    CHECK(back && ww == w && hh == h && !memcmp(back, lab, sizeof *lab * w * h));
    free(back);
    /* palette: indices come back raw, the image decodes to the colours */
    CHECK_OK(pixl_label_save_png(lab, w, h, pal, 12, tpath("lab_pal.png")));
    back = pixl_label_load(tpath("lab_pal.png"), &ww, &hh);
    CHECK(back && ww == w && hh == h && !memcmp(back, lab, sizeof *lab * w * h));
    free(back);
    pixl_image *img = pixl_image_load(tpath("lab_pal.png"), 0, 0);
    CHECK(img && img->channels == 3 && img->depth == 8);
    if (img) {
        int ok = 1;
        for (int i = 0; i < w * h; i++)
            for (int k = 0; k < 3; k++) {
                int want = lab[i] < 12 ? pal[3 * lab[i] + k] : 0; /* beyond the table: black */
                ok &= ((uint8_t *)img->data)[3 * i + k] == want;
            }
        CHECK_MSG(ok, "palette PNG colours differ");
    }
    pixl_image_free(img);
    /* values that do not fit 8 bits */
    lab[5] = 300;
    CHECK(pixl_label_save_png(lab, w, h, NULL, 0, tpath("lab_bad.png")) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "300") != NULL);
    CHECK(access(tpath("lab_bad.png"), F_OK) != 0);
    free(lab);
}

PIXL_TEST(image_jpeg_roundtrip)
{
    pixl_image *img = smooth_image(48, 32, 3);
    CHECK_OK(pixl_image_save_jpeg(img, tpath("rt.jpg"), 95));
    pixl_image *back = pixl_image_load(tpath("rt.jpg"), 0, 0);
    CHECK(back && back->width == 48 && back->height == 32 && back->channels == 3 && back->depth == 8);
    if (back) {
        double err = 0;
        for (int i = 0; i < 48 * 32 * 3; i++) err += abs(((uint8_t *)back->data)[i] - ((uint8_t *)img->data)[i]);
        err /= 48 * 32 * 3;
        CHECK_MSG(err < 2.0, "JPEG q95 mean abs error %.2f", err);
    }
    pixl_image_free(back);
    /* grey JPEG: one channel as stored, three when asked */
    pixl_image *g = smooth_image(20, 12, 1);
    CHECK_OK(pixl_image_save_jpeg(g, tpath("grey.jpg"), 0));
    back = pixl_image_load(tpath("grey.jpg"), 0, 0);
    CHECK(back && back->channels == 1);
    pixl_image_free(back);
    back = pixl_image_load(tpath("grey.jpg"), 3, 8);
    CHECK(back && back->channels == 3);
    pixl_image_free(back);
    /* RGB JPEG read as grey */
    back = pixl_image_load(tpath("rt.jpg"), 1, 0);
    CHECK(back && back->channels == 1);
    pixl_image_free(back);
    /* JPEG of 16-bit or RGBA: unsupported, names the file */
    pixl_image *a = random_image(4, 4, 4, 8);
    CHECK(pixl_image_save_jpeg(a, tpath("rgba.jpg"), 90) == PIXL_ERR_UNSUPPORTED);
    CHECK_ERR_NAMES(tpath("rgba.jpg"));
    /* JPEG label maps are refused */
    int w, h;
    CHECK(pixl_label_load(tpath("rt.jpg"), &w, &h) == NULL);
    CHECK_ERR_NAMES(tpath("rt.jpg"));
    pixl_image_free(a);
    pixl_image_free(g);
    pixl_image_free(img);
}

PIXL_TEST(image_errors_name_the_file)
{
    int w, h;
    const char *missing = tpath("does_not_exist.png");
    CHECK(pixl_image_load(missing, 0, 0) == NULL && pixl_last_status() == PIXL_ERR_NOT_FOUND);
    CHECK_ERR_NAMES(missing);
    CHECK(pixl_label_load(missing, &w, &h) == NULL);
    CHECK_ERR_NAMES(missing);
    /* empty and non-image files */
    const char *empty = tpath("empty.png"), *text = tpath("text.png");
    write_bytes(empty, (const unsigned char *)"", 0);
    write_bytes(text, (const unsigned char *)"hello, not an image\n", 20);
    CHECK(pixl_image_load(empty, 0, 0) == NULL);
    CHECK_ERR_NAMES(empty);
    CHECK(pixl_image_load(text, 0, 0) == NULL && pixl_last_status() == PIXL_ERR_UNSUPPORTED);
    CHECK_ERR_NAMES(text);
    /* an RGB PNG is not a label map */
    pixl_image *rgb = random_image(8, 8, 3, 8);
    CHECK_OK(pixl_image_save_png(rgb, tpath("rgb_label.png")));
    CHECK(pixl_label_load(tpath("rgb_label.png"), &w, &h) == NULL && pixl_last_status() == PIXL_ERR_UNSUPPORTED);
    CHECK_ERR_NAMES(tpath("rgb_label.png"));
    pixl_image_free(rgb);
    /* writing into a missing folder fails, names the path */
    pixl_image *g = random_image(4, 4, 1, 8);
    const char *bad = tpath("no/such/dir/x.png");
    CHECK(pixl_image_save_png(g, bad) == PIXL_ERR_IO);
    CHECK_ERR_NAMES(bad);
    pixl_image_free(g);
    /* bad arguments */
    CHECK(pixl_image_new(0, 5, 3, 8) == NULL);
    CHECK(pixl_image_new(5, 5, 3, 12) == NULL);
    CHECK(pixl_image_new(PIXL_IMAGE_MAX_DIM + 1, 1, 1, 8) == NULL);
    CHECK(pixl_image_load(missing, 2, 7) == NULL && pixl_last_status() == PIXL_ERR_ARG);
}

/* Every truncation of a PNG/JPEG and many corruptions: an error naming the
 * file, or (corruption of JPEG entropy data, which has no checksum) a
 * decoded image of the right size. Never a crash. */
PIXL_TEST(image_truncated_and_corrupted_files)
{
    pixl_image *img = smooth_image(40, 30, 3);
    for (int i = 0; i < 40 * 30 * 3; i += 7) ((uint8_t *)img->data)[i] ^= (uint8_t)(rnd() & 31);
    const char *png = tpath("good.png"), *jpg = tpath("good.jpg"), *bad_png = tpath("bad.png"),
               *bad_jpg = tpath("bad.jpg");
    CHECK_OK(pixl_image_save_png(img, png));
    CHECK_OK(pixl_image_save_jpeg(img, jpg, 90));
    for (int kind = 0; kind < 2; kind++) {
        size_t n;
        unsigned char *b = read_bytes(kind ? jpg : png, &n);
        const char *bad = kind ? bad_jpg : bad_png;
        CHECK(b && n > 100);
        if (!b) continue;
        int truncations = 0, failures = 0;
        for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 13)) {
            write_bytes(bad, b, cut);
            pixl_image *r = pixl_image_load(bad, 0, 0);
            truncations++;
            if (!r) {
                failures++;
                if (!strstr(pixl_last_error(), bad)) {
                    CHECK_MSG(0, "truncated at %zu: error does not name the file: %s", cut, pixl_last_error());
                    break;
                }
            }
            pixl_image_free(r);
        }
        CHECK_MSG(failures == truncations, "%s: %d of %d truncations decoded without error", kind ? "JPEG" : "PNG",
                  truncations - failures, truncations);
        /* corruption: flip bytes after the signature */
        for (int t = 0; t < 60; t++) {
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            for (int k = 0; k < 1 + t % 4; k++) c[3 + rnd() % (n - 3)] ^= (unsigned char)(1 + rnd() % 255);
            write_bytes(bad, c, n);
            pixl_image *r = pixl_image_load(bad, 0, 0);
            if (!r) CHECK_ERR_NAMES(bad);
            else CHECK(r->width > 0 && r->height > 0);
            pixl_image_free(r);
            int w, h;
            int32_t *l = pixl_label_load(bad, &w, &h);
            free(l);
            free(c);
        }
        free(b);
    }
    pixl_image_free(img);
}

PIXL_TEST(image_atomic_write_leaves_no_temp)
{
    pixl_image *a = random_image(16, 16, 3, 8), *b = random_image(16, 16, 3, 8);
    const char *p = tpath("atomic.png");
    CHECK_OK(pixl_image_save_png(a, p));
    CHECK_OK(pixl_image_save_png(b, p)); /* replaced */
    pixl_image *r = pixl_image_load(p, 0, 0);
    CHECK(same_image(r, b));
    pixl_image_free(r);
    DIR *d = opendir(pixl_test_tmpdir());
    struct dirent *e;
    int temps = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) temps++;
    if (d) closedir(d);
    CHECK_MSG(temps == 0, "%d temporary files left behind", temps);
    pixl_image_free(a);
    pixl_image_free(b);
}

PIXL_TEST(image_resize_and_chw)
{
    /* 1x2 row [0, 255] -> 4 wide, align_corners=False: 0, 63.75, 191.25, 255 */
    pixl_image *img = pixl_image_new(2, 1, 1, 8);
    ((uint8_t *)img->data)[1] = 255;
    pixl_image *r = pixl_image_resize(img, 4, 1);
    CHECK(r && r->width == 4);
    if (r) {
        const uint8_t *d = r->data;
        CHECK(d[0] == 0 && d[1] == 64 && d[2] == 191 && d[3] == 255);
    }
    pixl_image_free(r);
    pixl_image_free(img);
    /* constant images stay constant, any size */
    img = pixl_image_new(13, 7, 3, 8);
    memset(img->data, 77, 13 * 7 * 3);
    r = pixl_image_resize(img, 31, 5);
    int ok = r != NULL;
    for (int i = 0; r && i < 31 * 5 * 3; i++) ok &= ((uint8_t *)r->data)[i] == 77;
    CHECK(ok);
    pixl_image_free(r);
    /* CHW normalisation */
    ((uint8_t *)img->data)[3 * (2 * 13 + 5) + 1] = 255; /* (y 2, x 5, green) */
    float mean[3] = {0.1f, 0.2f, 0.3f}, std[3] = {0.5f, 0.25f, 2.0f};
    float *chw = malloc(sizeof(float) * 3 * 13 * 7);
    CHECK_OK(pixl_image_to_chw(img, mean, std, chw));
    CHECK_NEAR(chw[0], (77 / 255.0 - 0.1) / 0.5, 1e-5);
    CHECK_NEAR(chw[13 * 7 + 2 * 13 + 5], (1.0 - 0.2) / 0.25, 1e-5);
    CHECK_NEAR(chw[2 * 13 * 7 + 6], (77 / 255.0 - 0.3) / 2.0, 1e-5);
    free(chw);
    pixl_image_free(img);
    /* nearest label resize only reuses source values */
    int32_t lab[6] = {1, 2, 3, 4, 5, 255};
    int32_t *lr = pixl_label_resize(lab, 3, 2, 7, 5);
    ok = lr != NULL;
    for (int i = 0; lr && i < 35; i++) ok &= (lr[i] >= 1 && lr[i] <= 5) || lr[i] == 255;
    CHECK(ok && lr[0] == 1 && lr[34] == 255);
    free(lr);
}

PIXL_TEST(image_colorize_and_overlay)
{
    int32_t lab[4] = {0, 1, 255, 1};
    uint8_t col[6] = {10, 20, 30, 200, 100, 0};
    pixl_image *c = pixl_label_colorize(lab, 2, 2, col, 2, NULL, 1);
    CHECK(c && c->channels == 3);
    if (c) {
        const uint8_t *d = c->data;
        CHECK(d[0] == 10 && d[1] == 20 && d[2] == 30 && d[3] == 200 && d[6] == 0 && d[7] == 0 && d[8] == 0);
    }
    pixl_image *base = pixl_image_new(2, 2, 3, 8);
    memset(base->data, 100, 12);
    pixl_image *o = pixl_label_colorize(lab, 2, 2, col, 2, base, 0.5f);
    CHECK(o != NULL);
    if (o) {
        const uint8_t *d = o->data;
        CHECK(d[0] == 55 && d[3] == 150 && d[5] == 50);
        CHECK(d[6] == 100 && d[7] == 100 && d[8] == 100); /* ignore keeps the image */
    }
    CHECK_OK(pixl_image_save_png(o, tpath("overlay.png")));
    pixl_image *small = pixl_image_new(3, 2, 3, 8);
    CHECK(pixl_label_colorize(lab, 2, 2, col, 2, small, 0.5f) == NULL && pixl_last_status() == PIXL_ERR_SHAPE);
    pixl_image_free(small);
    pixl_image_free(o);
    pixl_image_free(base);
    pixl_image_free(c);
}

PIXL_TEST(image_camvid_real_files)
{
    const char *root = getenv("PIXL_SHARED") ? getenv("PIXL_SHARED") : "../shared";
    char img_p[1024], lab_p[1024];
    snprintf(img_p, sizeof img_p, "%s/datasets/camvid/train/0001TP_006690.jpg", root);
    snprintf(lab_p, sizeof lab_p, "%s/datasets/camvid/trainannot/0001TP_006690.png", root);
    if (access(img_p, R_OK) || access(lab_p, R_OK)) {
        printf("    (skip: %s not found)\n", lab_p);
        return;
    }
    pixl_image *img = pixl_image_load(img_p, 0, 0);
    CHECK(img && img->width == 480 && img->height == 360 && img->channels == 3 && img->depth == 8);
    pixl_image_free(img);
    int w, h;
    int32_t *lab = pixl_label_load(lab_p, &w, &h);
    CHECK(lab && w == 480 && h == 360);
    if (lab) {
        int hist[256] = {0}, bad = 0;
        for (int i = 0; i < w * h; i++) {
            if (lab[i] < 0 || lab[i] > 11) bad++;
            else hist[lab[i]]++;
        }
        CHECK_MSG(bad == 0, "%d CamVid label values outside 0..11", bad);
        int present = 0;
        for (int k = 0; k < 12; k++) present += hist[k] > 0;
        CHECK_MSG(present >= 5, "only %d classes present in a CamVid street frame", present);
        CHECK(hist[3] > 0 && hist[11] > 0); /* road and void present */
        /* write it back as a palette PNG, read the same indices */
        CHECK_OK(pixl_label_save_png(lab, w, h, (const uint8_t[]){128, 128, 128, 128, 0, 0}, 2, tpath("cv.png")));
        int w2, h2;
        int32_t *back = pixl_label_load(tpath("cv.png"), &w2, &h2);
        CHECK(back && !memcmp(back, lab, sizeof *lab * w * h));
        free(back);
    }
    free(lab);
}

static uint32_t crc32_of(const unsigned char *b, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* a PNG header claiming 40000 x 1: refused before any allocation */
PIXL_TEST(image_png_size_limit)
{
    unsigned char b[8 + 25 + 12];
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put32(b + 16, 40000);
    put32(b + 20, 1);
    b[24] = 8, b[25] = 0, b[26] = 0, b[27] = 0, b[28] = 0; /* 8-bit grey */
    put32(b + 29, crc32_of(b + 12, 17));
    put32(b + 33, 0);
    memcpy(b + 37, "IEND", 4);
    put32(b + 41, crc32_of(b + 37, 4));
    const char *p = tpath("huge.png");
    CHECK(write_bytes(p, b, sizeof b) == 0);
    CHECK(pixl_image_load(p, 0, 0) == NULL);
    CHECK_ERR_NAMES(p);
    int w, h;
    CHECK(pixl_label_load(p, &w, &h) == NULL);
    CHECK_ERR_NAMES(p);
}

/* CMYK JPEGs are refused with the file named */
PIXL_TEST(image_jpeg_cmyk_refused)
{
    const char *p = tpath("cmyk.jpg");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 8, c.image_height = 8, c.input_components = 4, c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[8 * 4];
    memset(row, 100, sizeof row);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    CHECK(pixl_image_load(p, 0, 0) == NULL && pixl_last_status() == PIXL_ERR_UNSUPPORTED);
    CHECK_ERR_NAMES(p);
    CHECK(strstr(pixl_last_error(), "CMYK") != NULL);
}

/* ------------------------------------------------ in-memory encode/decode */

static int same_pixels(const pixl_image *a, const pixl_image *b)
{
    return a && b && a->width == b->width && a->height == b->height && a->channels == b->channels &&
           a->depth == b->depth &&
           !memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels * (a->depth / 8));
}

PIXL_TEST(image_memory_png_roundtrip)
{
    static const int kinds[][2] = {{1, 8}, {2, 8}, {3, 8}, {4, 8}, {1, 16}, {3, 16}, {4, 16}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        pixl_image *img = random_image(37, 23, kinds[k][0], kinds[k][1]);
        uint8_t *buf = NULL;
        size_t n = 0;
        CHECK_OK(pixl_image_encode(img, PIXL_IMAGE_PNG, 0, &buf, &n));
        CHECK(buf && n > 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8));
        pixl_image *back = pixl_image_decode(buf, n, 0, 0);
        CHECK_MSG(same_pixels(img, back), "PNG %d channels %d bits: not the same pixels (%s)", kinds[k][0],
                  kinds[k][1], back ? "" : pixl_last_error());
        /* the file writer and the memory encoder give the same bytes */
        CHECK_OK(pixl_image_save_png(img, tpath("mem.png")));
        unsigned char *fb = NULL;
        FILE *f = fopen(tpath("mem.png"), "rb");
        long fn = -1;
        if (f && !fseek(f, 0, SEEK_END) && (fn = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
            fb = malloc((size_t)fn);
            if (fb && fread(fb, 1, (size_t)fn, f) != (size_t)fn) fn = -1;
        }
        if (f) fclose(f);
        CHECK(fb && fn == (long)n && !memcmp(fb, buf, n));
        free(fb);
        pixl_image_free(back);
        pixl_image_free(img);
        free(buf);
    }
}

PIXL_TEST(image_memory_jpeg_roundtrip)
{
    pixl_image *img = smooth_image(48, 32, 3);
    uint8_t *buf = NULL;
    size_t n = 0;
    CHECK_OK(pixl_image_encode(img, PIXL_IMAGE_JPEG, 95, &buf, &n));
    CHECK(buf && n > 3 && buf[0] == 0xFF && buf[1] == 0xD8);
    pixl_image *back = pixl_image_decode(buf, n, 3, 8);
    CHECK(back && back->width == 48 && back->height == 32 && back->channels == 3);
    if (back) {
        double err = 0;
        for (int i = 0; i < 48 * 32 * 3; i++) err += abs(((uint8_t *)back->data)[i] - ((uint8_t *)img->data)[i]);
        err /= 48 * 32 * 3;
        CHECK_MSG(err < 2.0, "JPEG q95 mean abs error %.2f", err);
    }
    pixl_image_free(back);
    /* grey, default quality; grey asked from a colour JPEG */
    pixl_image *g = pixl_image_convert(img, 1, 8);
    uint8_t *gb = NULL;
    size_t gn = 0;
    CHECK_OK(pixl_image_encode(g, PIXL_IMAGE_JPEG, 0, &gb, &gn));
    back = pixl_image_decode(gb, gn, 0, 0);
    CHECK(back && back->channels == 1);
    pixl_image_free(back);
    back = pixl_image_decode(buf, n, 1, 0);
    CHECK(back && back->channels == 1 && back->depth == 8);
    pixl_image_free(back);
    /* what JPEG cannot hold */
    pixl_image *a = pixl_image_convert(img, 4, 8);
    uint8_t *ab = (uint8_t *)1;
    size_t an = 7;
    CHECK(pixl_image_encode(a, PIXL_IMAGE_JPEG, 90, &ab, &an) == PIXL_ERR_UNSUPPORTED);
    CHECK(ab == NULL && an == 0);
    CHECK(pixl_image_encode(img, PIXL_IMAGE_JPEG, 101, &ab, &an) == PIXL_ERR_ARG);
    CHECK(pixl_image_encode(img, (pixl_image_format)7, 0, &ab, &an) == PIXL_ERR_ARG);
    CHECK(pixl_image_encode(NULL, PIXL_IMAGE_PNG, 0, &ab, &an) == PIXL_ERR_ARG);
    CHECK(pixl_image_encode(img, PIXL_IMAGE_PNG, 0, NULL, &an) == PIXL_ERR_ARG);
    pixl_image_free(a);
    pixl_image_free(g);
    free(gb);
    free(buf);
    pixl_image_free(img);
}

/* truncated, damaged and foreign bytes: an error, never a crash */
PIXL_TEST(image_memory_decode_errors)
{
    pixl_image *img = random_image(29, 17, 3, 8);
    uint8_t *png = NULL, *jpg = NULL;
    size_t np = 0, nj = 0;
    CHECK_OK(pixl_image_encode(img, PIXL_IMAGE_PNG, 0, &png, &np));
    CHECK_OK(pixl_image_encode(img, PIXL_IMAGE_JPEG, 80, &jpg, &nj));
    CHECK(pixl_image_decode(NULL, 0, 0, 0) == NULL && strstr(pixl_last_error(), "empty"));
    CHECK(pixl_image_decode(NULL, 5, 0, 0) == NULL);
    CHECK(pixl_image_decode(png, np, 5, 0) == NULL && pixl_last_status() == PIXL_ERR_ARG);
    CHECK(pixl_image_decode((const uint8_t *)"GIF89a....", 10, 0, 0) == NULL &&
          pixl_last_status() == PIXL_ERR_UNSUPPORTED);
    /* every truncation of both */
    int png_ok = 0, jpg_ok = 0;
    for (size_t cut = 1; cut < np; cut += 1 + cut / 16) {
        pixl_image *b = pixl_image_decode(png, cut, 0, 0);
        if (b) png_ok++;
        else CHECK_MSG(pixl_last_error()[0], "truncated PNG (%zu of %zu bytes): no message", cut, np);
        pixl_image_free(b);
    }
    for (size_t cut = 1; cut < nj; cut += 1 + cut / 16) {
        pixl_image *b = pixl_image_decode(jpg, cut, 0, 0);
        if (b) jpg_ok++;
        pixl_image_free(b);
    }
    CHECK_MSG(png_ok == 0 && jpg_ok == 0, "%d truncated PNGs and %d truncated JPEGs decoded", png_ok, jpg_ok);
    /* flipped bytes after the header: an error or some image, never a crash */
    for (int t = 0; t < 64; t++) {
        uint8_t *p = malloc(np), *j = malloc(nj);
        memcpy(p, png, np), memcpy(j, jpg, nj);
        for (int k = 0; k < 4; k++) p[16 + rnd() % (np - 16)] ^= (uint8_t)(1 + rnd() % 255);
        for (int k = 0; k < 4; k++) j[4 + rnd() % (nj - 4)] ^= (uint8_t)(1 + rnd() % 255);
        pixl_image_free(pixl_image_decode(p, np, 0, 0));
        pixl_image_free(pixl_image_decode(j, nj, 0, 0));
        free(p), free(j);
    }
    /* random garbage behind valid signatures */
    uint8_t junk[300];
    for (int t = 0; t < 32; t++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
        memcpy(junk, t & 1 ? "\x89PNG\r\n\x1a\n" : "\xff\xd8\xff", t & 1 ? 8 : 3);
        pixl_image *b = pixl_image_decode(junk, sizeof junk, 0, 0);
        CHECK(b == NULL);
        pixl_image_free(b);
    }
    free(png), free(jpg);
    pixl_image_free(img);
}

PIXL_TEST(image_voc_colours)
{
    uint8_t c[3 * 21];
    pixl_voc_colours(21, c);
    static const uint8_t want[][3] = {{0, 0, 0}, {128, 0, 0}, {0, 128, 0}, {128, 128, 0}, {0, 0, 128}};
    for (int k = 0; k < 5; k++) CHECK(!memcmp(c + 3 * k, want[k], 3));
    CHECK(c[3 * 15] == 192 && c[3 * 15 + 1] == 128 && c[3 * 15 + 2] == 128); /* VOC's person */
    CHECK(c[3 * 20] == 0 && c[3 * 20 + 1] == 64 && c[3 * 20 + 2] == 128);    /* tv/monitor */
}
