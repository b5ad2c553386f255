/* image.c — image and label-map I/O: PNG (libpng) and JPEG (libjpeg-turbo)
 * decoding from memory with setjmp/longjmp error handlers, atomic PNG/JPEG
 * writers (temp file + rename), channel/depth conversion, bilinear resize,
 * float CHW conversion, nearest label resize and label colourisation. Also
 * the small file/path helpers of data_impl.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
/* jpeglib.h needs FILE and size_t first */
#include <jpeglib.h>
#include <jerror.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_impl.h"

#define MAX_FILE_BYTES ((size_t)1 << 31)

/* ------------------------------------------------------------ file helpers */

int pixl__read_file(const char *path, const char *what, size_t max_bytes, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "%s '%s': cannot open: %s", what,
                              path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': not a regular file", what, path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_FORMAT, "%s '%s': file too large (%lld bytes)", what, path,
                              (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = pixl_malloc(n + 1);
    if (!b) {
        fclose(f);
        return PIXL_ERR_NOMEM;
    }
    size_t got = n ? fread(b, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(b);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': read failed", what, path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return PIXL_OK;
}

int pixl__is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pixl__is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *pixl__join(const char *a, const char *b)
{
    if (!a || !a[0] || b[0] == '/') return pixl__strdup(b);
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *d = pixl_malloc(la + lb + 2);
    if (!d) return NULL;
    memcpy(d, a, la);
    d[la] = '/';
    memcpy(d + la + 1, b, lb + 1);
    return d;
}

void pixl__free_strings(char **s, int n)
{
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int pixl__list_dir(const char *dir, int want_dirs, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "folder '%s': cannot open: %s", dir,
                              strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0, rc = PIXL_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = pixl__join(dir, e->d_name);
        if (!full) {
            rc = PIXL_ERR_NOMEM;
            break;
        }
        int ok = want_dirs ? pixl__is_dir(full) : pixl__is_file(full);
        free(full);
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                rc = pixl_set_error(PIXL_ERR_NOMEM, "out of memory listing '%s'", dir);
                break;
            }
            v = nv;
        }
        if (!(v[n] = pixl__strdup(e->d_name))) {
            rc = PIXL_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        pixl__free_strings(v, n);
        return rc;
    }
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

int pixl__check_dims(const char *path, long width, long height, int channels, int depth)
{
    if (width < 1 || height < 1 || width > PIXL_IMAGE_MAX_DIM || height > PIXL_IMAGE_MAX_DIM)
        return pixl_set_error(PIXL_ERR_FORMAT, "image '%s': size %ldx%ld outside 1..%d per side", path ? path : "",
                              width, height, PIXL_IMAGE_MAX_DIM);
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16))
        return pixl_set_error(PIXL_ERR_UNSUPPORTED, "image '%s': %d channels of %d bits not supported",
                              path ? path : "", channels, depth);
    size_t a, b;
    if (pixl_mul_overflows((size_t)width, (size_t)height, &a) || pixl_mul_overflows(a, (size_t)channels * 2, &b))
        return pixl_set_error(PIXL_ERR_NOMEM, "image '%s': size %ldx%ld overflows", path ? path : "", width, height);
    return PIXL_OK;
}

/* ------------------------------------------------------------ pixl_image */

static size_t img_bytes(const pixl_image *img)
{
    return (size_t)img->width * (size_t)img->height * (size_t)img->channels * (size_t)(img->depth / 8);
}

pixl_image *pixl_image_new(int width, int height, int channels, int depth)
{
    if (pixl__check_dims("(new)", width, height, channels, depth)) return NULL;
    pixl_image *img = pixl_calloc(1, sizeof *img);
    if (!img) return NULL;
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->depth = depth;
    img->data = pixl_calloc(img_bytes(img), 1);
    if (!img->data) {
        free(img);
        return NULL;
    }
    return img;
}

void pixl_image_free(pixl_image *img)
{
    if (!img) return;
    free(img->data);
    free(img);
}

static int valid_image(const pixl_image *img, const char *fn)
{
    if (!img || !img->data || img->width < 1 || img->height < 1 || img->channels < 1 || img->channels > 4 ||
        (img->depth != 8 && img->depth != 16))
        return pixl_set_error(PIXL_ERR_ARG, "%s: invalid image", fn);
    return PIXL_OK;
}

static inline unsigned get_sample(const pixl_image *img, size_t i)
{
    return img->depth == 8 ? ((const uint8_t *)img->data)[i] : ((const uint16_t *)img->data)[i];
}

pixl_image *pixl_image_convert(const pixl_image *img, int channels, int depth)
{
    if (valid_image(img, "pixl_image_convert")) return NULL;
    if (!channels) channels = img->channels;
    if (!depth) depth = img->depth;
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_convert: %d channels of %d bits not supported", channels, depth);
        return NULL;
    }
    pixl_image *out = pixl_image_new(img->width, img->height, channels, depth);
    if (!out) return NULL;
    const int ci = img->channels, co = channels;
    const unsigned maxin = img->depth == 8 ? 255 : 65535;
    const size_t np = (size_t)img->width * img->height;
    for (size_t p = 0; p < np; p++) {
        unsigned in[4], o[4];
        for (int c = 0; c < ci; c++) in[c] = get_sample(img, p * ci + c);
        unsigned grey, alpha = (ci == 2 || ci == 4) ? in[ci - 1] : maxin;
        if (ci >= 3) grey = (unsigned)((299u * in[0] + 587u * in[1] + 114u * in[2] + 500u) / 1000u);
        else grey = in[0];
        switch (co) {
        case 1: o[0] = grey; break;
        case 2: o[0] = grey, o[1] = alpha; break;
        case 3:
        case 4:
            for (int c = 0; c < 3; c++) o[c] = ci >= 3 ? in[c] : grey;
            if (co == 4) o[3] = alpha;
            break;
        }
        for (int c = 0; c < co; c++) {
            unsigned v = o[c];
            if (img->depth == 16 && depth == 8) v = (v * 255u + 32767u) / 65535u;
            else if (img->depth == 8 && depth == 16) v = v * 257u;
            if (depth == 8) ((uint8_t *)out->data)[p * co + c] = (uint8_t)v;
            else ((uint16_t *)out->data)[p * co + c] = (uint16_t)v;
        }
    }
    return out;
}

/* ------------------------------------------------------------ PNG decoding */

typedef struct {
    const unsigned char *p;
    size_t n, pos;
    char msg[256];
} png_mem;

static void png_mem_read(png_structp png, png_bytep out, png_size_t len)
{
    png_mem *m = png_get_io_ptr(png);
    if (len > m->n - m->pos) png_error(png, "file is truncated");
    memcpy(out, m->p + m->pos, len);
    m->pos += len;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_mem *m = png_get_error_ptr(png);
    if (m) snprintf(m->msg, sizeof m->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* as_label: keep palette indices / grey values (first channel only). */
static pixl_image *png_decode(const char *path, const unsigned char *buf, size_t len, int as_label, int want_depth)
{
    png_mem m = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &m, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        pixl_set_error(PIXL_ERR_NOMEM, "image '%s': out of memory creating the PNG decoder", path);
        return NULL;
    }
    pixl_image *volatile img = NULL;
    png_bytep *volatile rows = NULL;
    volatile int status = PIXL_ERR_FORMAT;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        pixl_image_free(img);
        pixl_set_error(status, "%s '%s': bad PNG: %s", as_label ? "label map" : "image", path, m.msg);
        return NULL;
    }
    png_set_read_fn(png, &m, png_mem_read);
    png_set_user_limits(png, PIXL_IMAGE_MAX_DIM, PIXL_IMAGE_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int bd = png_get_bit_depth(png, info), ct = png_get_color_type(png, info);
    if (as_label) {
        if (ct == PNG_COLOR_TYPE_RGB || ct == PNG_COLOR_TYPE_RGB_ALPHA) {
            status = PIXL_ERR_UNSUPPORTED;
            png_error(png, "colour (RGB) label map: label maps must be grey or palette PNGs of class indices");
        }
        if (bd < 8) png_set_packing(png);
        if (bd == 16) png_set_swap(png);
    } else {
        if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
        if (bd == 16) {
            if (want_depth == 8) png_set_scale_16(png);
            else png_set_swap(png);
        }
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info), depth = png_get_bit_depth(png, info);
    if (pixl__check_dims(path, (long)w, (long)h, ch, depth)) {
        status = pixl_last_status();
        png_error(png, pixl_last_error());
    }
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)w * ch * (depth / 8)) png_error(png, "unexpected row size");
    img = pixl_image_new((int)w, (int)h, ch, depth);
    rows = malloc(sizeof(png_bytep) * h);
    if (!img || !rows) {
        status = PIXL_ERR_NOMEM;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = (png_bytep)img->data + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    return img;
}

/* ----------------------------------------------------------- JPEG decoding */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    char warn[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level >= 0) return; /* trace messages */
    cinfo->err->num_warnings++;
    /* extraneous bytes before a marker are common and harmless; anything
     * else (truncation, bad Huffman code, ...) means corrupt pixels */
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA || e->warn[0]) return;
    (*cinfo->err->format_message)(cinfo, e->warn);
}

static pixl_image *jpeg_decode(const char *path, const unsigned char *buf, size_t len, int want_grey)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    pixl_image *volatile img = NULL;
    volatile int status = PIXL_ERR_FORMAT;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        pixl_image_free(img);
        pixl_set_error(status, "image '%s': bad JPEG: %s", path, err.msg);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        status = PIXL_ERR_UNSUPPORTED;
        snprintf(err.msg, sizeof err.msg, "CMYK JPEGs are not supported (convert the file to RGB)");
        longjmp(err.jb, 1);
    }
    if (pixl__check_dims(path, (long)cinfo.image_width, (long)cinfo.image_height, 3, 8)) {
        status = pixl_last_status();
        snprintf(err.msg, sizeof err.msg, "%s", pixl_last_error());
        longjmp(err.jb, 1);
    }
    cinfo.out_color_space = (want_grey || cinfo.num_components == 1) ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int ch = cinfo.output_components;
    img = pixl_image_new((int)cinfo.output_width, (int)cinfo.output_height, ch, 8);
    if (!img) {
        status = PIXL_ERR_NOMEM;
        snprintf(err.msg, sizeof err.msg, "out of memory");
        longjmp(err.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)img->data + (size_t)cinfo.output_scanline * img->width * ch;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (err.warn[0]) {
        pixl_image_free(img);
        pixl_set_error(PIXL_ERR_FORMAT, "image '%s': corrupt JPEG: %s", path, err.warn);
        return NULL;
    }
    return img;
}

/* ------------------------------------------------------------- loading */

static int is_png(const unsigned char *b, size_t n) { return n >= 8 && !png_sig_cmp(b, 0, 8); }
static int is_jpeg(const unsigned char *b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

pixl_image *pixl_image_load(const char *path, int channels, int depth)
{
    if (!path) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_load: path is NULL");
        return NULL;
    }
    if (channels < 0 || channels > 4 || (depth != 0 && depth != 8 && depth != 16)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_load('%s'): channels %d / depth %d not supported", path, channels,
                       depth);
        return NULL;
    }
    unsigned char *buf;
    size_t len;
    if (pixl__read_file(path, "image", MAX_FILE_BYTES, &buf, &len)) return NULL;
    pixl_image *img = NULL;
    if (is_png(buf, len)) img = png_decode(path, buf, len, 0, depth);
    else if (is_jpeg(buf, len)) img = jpeg_decode(path, buf, len, channels == 1);
    else if (len == 0) pixl_set_error(PIXL_ERR_FORMAT, "image '%s': empty file", path);
    else pixl_set_error(PIXL_ERR_UNSUPPORTED, "image '%s': not a PNG or JPEG file", path);
    free(buf);
    if (!img) return NULL;
    int want_c = channels ? channels : img->channels, want_d = depth ? depth : img->depth;
    if (want_c != img->channels || want_d != img->depth) {
        pixl_image *c = pixl_image_convert(img, want_c, want_d);
        pixl_image_free(img);
        if (!c) pixl_set_error(pixl_last_status(), "image '%s': %s", path, pixl_last_error());
        img = c;
    }
    return img;
}

int32_t *pixl_label_load(const char *path, int *width, int *height)
{
    if (!path || !width || !height) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_load: NULL argument");
        return NULL;
    }
    unsigned char *buf;
    size_t len;
    if (pixl__read_file(path, "label map", MAX_FILE_BYTES, &buf, &len)) return NULL;
    pixl_image *img = NULL;
    if (is_png(buf, len)) img = png_decode(path, buf, len, 1, 0);
    else if (is_jpeg(buf, len))
        pixl_set_error(PIXL_ERR_UNSUPPORTED, "label map '%s': JPEG label maps are not supported (lossy); use PNG",
                       path);
    else if (len == 0) pixl_set_error(PIXL_ERR_FORMAT, "label map '%s': empty file", path);
    else pixl_set_error(PIXL_ERR_UNSUPPORTED, "label map '%s': not a PNG file", path);
    free(buf);
    if (!img) return NULL;
    size_t np = (size_t)img->width * img->height;
    int32_t *lab = pixl_malloc(np * sizeof *lab);
    if (lab)
        for (size_t p = 0; p < np; p++) lab[p] = (int32_t)get_sample(img, p * img->channels);
    *width = img->width;
    *height = img->height;
    pixl_image_free(img);
    return lab;
}

/* ------------------------------------------------------------- writing */

/* End an atomic write (core/atomic_file.c): commit when nothing failed so
 * far (ok), else remove the temporary file and report `why`. */
static int finish_write(pixl_atomic_file *af, const char *path, int ok, const char *why)
{
    if (ok) return pixl_atomic_commit(af);
    pixl_atomic_abort(af);
    return pixl_set_error(PIXL_ERR_IO, "'%s': write failed: %s", path, why && why[0] ? why : "unknown error");
}

typedef struct {
    char msg[256];
} png_wctx;

static void png_w_error(png_structp png, png_const_charp msg)
{
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static int png_write_file(const char *path, int w, int h, int color_type, int depth, const uint8_t *data,
                          size_t rowbytes, const png_color *pal, int npal)
{
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    FILE *f = pixl_atomic_stream(af);
    png_wctx c = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_w_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        finish_write(af, path, 0, "out of memory creating the PNG encoder");
        return PIXL_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return finish_write(af, path, 0, c.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    png_write_info(png, info);
    if (depth == 16) {
        const uint16_t one = 1;
        if (*(const uint8_t *)&one == 1) png_set_swap(png); /* little-endian host */
    }
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(data + (size_t)y * rowbytes));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return finish_write(af, path, 1, NULL);
}

int pixl_image_save_png(const pixl_image *img, const char *path)
{
    if (valid_image(img, "pixl_image_save_png")) return PIXL_ERR_ARG;
    if (!path) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_save_png: path is NULL");
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    return png_write_file(path, img->width, img->height, types[img->channels], img->depth, img->data,
                          (size_t)img->width * img->channels * (img->depth / 8), NULL, 0);
}

int pixl_label_save_png(const int32_t *labels, int width, int height, const uint8_t *palette, int n_colours,
                        const char *path)
{
    if (!labels || !path || pixl__check_dims(path, width, height, 1, 8))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_label_save_png('%s'): bad arguments", path ? path : "(null)");
    if (palette && (n_colours < 1 || n_colours > 256))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_label_save_png('%s'): %d palette colours (1..256)", path,
                              n_colours);
    size_t np = (size_t)width * height;
    uint8_t *b = pixl_malloc(np);
    if (!b) return PIXL_ERR_NOMEM;
    int maxv = 0;
    for (size_t p = 0; p < np; p++) {
        int32_t v = labels[p];
        if (v < 0 || v > 255) {
            free(b);
            return pixl_set_error(PIXL_ERR_ARG, "label map '%s': value %d at (x %zu, y %zu) does not fit 8 bits",
                                  path, (int)v, p % (size_t)width, p / (size_t)width);
        }
        b[p] = (uint8_t)v;
        if (v > maxv) maxv = v;
    }
    int rc;
    if (palette) {
        png_color pal[256];
        int npal = n_colours > maxv + 1 ? n_colours : maxv + 1;
        memset(pal, 0, sizeof pal);
        for (int k = 0; k < n_colours; k++) pal[k] = (png_color){palette[3 * k], palette[3 * k + 1], palette[3 * k + 2]};
        rc = png_write_file(path, width, height, PNG_COLOR_TYPE_PALETTE, 8, b, (size_t)width, pal, npal);
    } else {
        rc = png_write_file(path, width, height, PNG_COLOR_TYPE_GRAY, 8, b, (size_t)width, NULL, 0);
    }
    free(b);
    return rc;
}

int pixl_image_save_jpeg(const pixl_image *img, const char *path, int quality)
{
    if (valid_image(img, "pixl_image_save_jpeg")) return PIXL_ERR_ARG;
    if (!path) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_save_jpeg: path is NULL");
    if (img->depth != 8 || (img->channels != 1 && img->channels != 3))
        return pixl_set_error(PIXL_ERR_UNSUPPORTED, "'%s': JPEG needs an 8-bit grey or RGB image (got %d channels, %d bits)",
                              path, img->channels, img->depth);
    if (quality == 0) quality = 95;
    if (quality < 1 || quality > 100) return pixl_set_error(PIXL_ERR_ARG, "'%s': JPEG quality %d (1..100)", path, quality);
    const volatile int q = quality;
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    FILE *f = pixl_atomic_stream(af);
    struct jpeg_compress_struct cinfo;
    jpeg_err err;
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    if (setjmp(err.jb)) {
        jpeg_destroy_compress(&cinfo);
        return finish_write(af, path, 0, err.msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->channels;
    cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, q, TRUE);
    for (int c = 0; c < cinfo.num_components; c++) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)img->data + (size_t)cinfo.next_scanline * img->width * img->channels;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return finish_write(af, path, 1, NULL);
}

/* ------------------------------------------------------------ resampling */

typedef struct {
    int i0, i1;
    float w1;
} lerp_tap;

/* PyTorch bilinear, align_corners=False: src = (d+0.5)*in/out - 0.5, >= 0 */
static void lerp_taps(int in, int out, lerp_tap *t)
{
    double scale = (double)in / out;
    for (int d = 0; d < out; d++) {
        double s = (d + 0.5) * scale - 0.5;
        if (s < 0) s = 0;
        int i0 = (int)s;
        if (i0 > in - 1) i0 = in - 1;
        t[d].i0 = i0;
        t[d].i1 = i0 + 1 < in ? i0 + 1 : in - 1;
        t[d].w1 = (float)(s - i0);
    }
}

#define DEFINE_RESIZE(NAME, T, MAXV)                                                                  \
    static void NAME(const T *src, int sw, int sh, int c, T *dst, int dw, int dh, lerp_tap *tx, lerp_tap *ty, \
                     float *row0, float *row1)                                                         \
    {                                                                                                 \
        lerp_taps(sw, dw, tx);                                                                        \
        lerp_taps(sh, dh, ty);                                                                        \
        for (int y = 0; y < dh; y++) {                                                                \
            const T *r0 = src + (size_t)ty[y].i0 * sw * c, *r1 = src + (size_t)ty[y].i1 * sw * c;     \
            for (int x = 0; x < dw; x++) {                                                            \
                const T *a0 = r0 + (size_t)tx[x].i0 * c, *b0 = r0 + (size_t)tx[x].i1 * c;             \
                const T *a1 = r1 + (size_t)tx[x].i0 * c, *b1 = r1 + (size_t)tx[x].i1 * c;             \
                float wx = tx[x].w1;                                                                  \
                for (int k = 0; k < c; k++) {                                                         \
                    row0[(size_t)x * c + k] = a0[k] + wx * (b0[k] - (float)a0[k]);                    \
                    row1[(size_t)x * c + k] = a1[k] + wx * (b1[k] - (float)a1[k]);                    \
                }                                                                                     \
            }                                                                                         \
            float wy = ty[y].w1;                                                                      \
            T *o = dst + (size_t)y * dw * c;                                                          \
            for (size_t i = 0; i < (size_t)dw * c; i++) {                                             \
                float v = row0[i] + wy * (row1[i] - row0[i]) + 0.5f;                                  \
                o[i] = (T)(v < 0 ? 0 : v > MAXV ? MAXV : v);                                          \
            }                                                                                         \
        }                                                                                             \
    }
DEFINE_RESIZE(resize_u8, uint8_t, 255.0f)
DEFINE_RESIZE(resize_u16, uint16_t, 65535.0f)

static int resize_any(const void *src, int sw, int sh, int c, int depth, void *dst, int dw, int dh)
{
    lerp_tap *tx = malloc(sizeof *tx * (size_t)dw), *ty = malloc(sizeof *ty * (size_t)dh);
    float *r0 = malloc(sizeof(float) * (size_t)dw * c * 2);
    if (!tx || !ty || !r0) {
        free(tx), free(ty), free(r0);
        return pixl_set_error(PIXL_ERR_NOMEM, "out of memory resizing an image to %dx%d", dw, dh);
    }
    if (depth == 8) resize_u8(src, sw, sh, c, dst, dw, dh, tx, ty, r0, r0 + (size_t)dw * c);
    else resize_u16(src, sw, sh, c, dst, dw, dh, tx, ty, r0, r0 + (size_t)dw * c);
    free(tx), free(ty), free(r0);
    return PIXL_OK;
}

void pixl__resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh)
{
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * c);
        return;
    }
    resize_any(src, sw, sh, c, 8, dst, dw, dh);
}

pixl_image *pixl_image_resize(const pixl_image *img, int width, int height)
{
    if (valid_image(img, "pixl_image_resize")) return NULL;
    pixl_image *out = pixl_image_new(width, height, img->channels, img->depth);
    if (!out) return NULL;
    if (width == img->width && height == img->height) {
        memcpy(out->data, img->data, img_bytes(img));
        return out;
    }
    if (resize_any(img->data, img->width, img->height, img->channels, img->depth, out->data, width, height)) {
        pixl_image_free(out);
        return NULL;
    }
    return out;
}

void pixl__resize_nearest_i32(const int32_t *src, int sw, int sh, int32_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        int sy = (int)((int64_t)y * sh / dh);
        const int32_t *r = src + (size_t)sy * sw;
        int32_t *o = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) o[x] = r[(int64_t)x * sw / dw];
    }
}

int32_t *pixl_label_resize(const int32_t *labels, int width, int height, int out_width, int out_height)
{
    if (!labels || pixl__check_dims("(labels)", width, height, 1, 8) ||
        pixl__check_dims("(labels)", out_width, out_height, 1, 8)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_resize: bad arguments (%dx%d -> %dx%d)", width, height, out_width,
                       out_height);
        return NULL;
    }
    int32_t *out = pixl_malloc(sizeof *out * (size_t)out_width * out_height);
    if (out) pixl__resize_nearest_i32(labels, width, height, out, out_width, out_height);
    return out;
}

int pixl_image_to_chw(const pixl_image *img, const float *mean, const float *std, float *out)
{
    if (valid_image(img, "pixl_image_to_chw")) return PIXL_ERR_ARG;
    if (!out) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_to_chw: out is NULL");
    const int c = img->channels;
    const size_t np = (size_t)img->width * img->height;
    const float inv = img->depth == 8 ? 1.0f / 255.0f : 1.0f / 65535.0f;
    for (int k = 0; k < c; k++) {
        float m = mean ? mean[k] : 0.0f, s = std ? std[k] : 1.0f;
        if (!(s > 0)) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_to_chw: std[%d] = %g", k, (double)s);
        float a = inv / s, b = -m / s;
        float *o = out + (size_t)k * np;
        if (img->depth == 8) {
            float lut[256];
            for (int v = 0; v < 256; v++) lut[v] = v * a + b;
            const uint8_t *d = (const uint8_t *)img->data + k;
            for (size_t p = 0; p < np; p++) o[p] = lut[d[p * c]];
        } else {
            const uint16_t *d = (const uint16_t *)img->data + k;
            for (size_t p = 0; p < np; p++) o[p] = d[p * c] * a + b;
        }
    }
    return PIXL_OK;
}

pixl_image *pixl_label_colorize(const int32_t *labels, int width, int height, const uint8_t *colours,
                                int n_colours, const pixl_image *base, float alpha)
{
    if (!labels || !colours || n_colours < 1) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_colorize: NULL labels/colours or n_colours %d", n_colours);
        return NULL;
    }
    if (base) {
        if (valid_image(base, "pixl_label_colorize")) return NULL;
        if (base->width != width || base->height != height || base->depth != 8) {
            pixl_set_error(PIXL_ERR_SHAPE, "pixl_label_colorize: base image %dx%d (%d bits) for a %dx%d label map",
                           base->width, base->height, base->depth, width, height);
            return NULL;
        }
    }
    pixl_image *out = base ? pixl_image_convert(base, 3, 8) : pixl_image_new(width, height, 3, 8);
    if (!out) return NULL;
    if (alpha < 0) alpha = 0;
    if (alpha > 1) alpha = 1;
    uint8_t *o = out->data;
    const size_t np = (size_t)width * height;
    for (size_t p = 0; p < np; p++) {
        int32_t v = labels[p];
        if (v < 0 || v >= n_colours) continue;
        const uint8_t *col = colours + 3 * (size_t)v;
        for (int k = 0; k < 3; k++) {
            if (!base) o[3 * p + k] = col[k];
            else o[3 * p + k] = (uint8_t)((1.0f - alpha) * o[3 * p + k] + alpha * col[k] + 0.5f);
        }
    }
    return out;
}
