/* image_codec.c — PNG (libpng) and JPEG (libjpeg-turbo) codecs: decoding
 * from memory with setjmp/longjmp error handlers (files are read whole
 * first), encoding into memory or into a file, and the atomic file writers
 * (PATH.tmp.XXXXXX, then rename). */
#include <errno.h>
#include <stdio.h>
/* jpeglib.h needs FILE and size_t first */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_impl.h"

#define MAX_FILE_BYTES ((size_t)1 << 31)
#define MEMORY_NAME "(memory)"

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
    volatile int status = PIXL_ERR_FORMAT, keep_error = 0; /* keep_error: pixl_last_error() names the file already */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        pixl_image_free(img);
        if (keep_error) pixl_set_error(status, "%s", pixl_last_error());
        else pixl_set_error(status, "%s '%s': bad PNG: %s", as_label ? "label map" : "image", path, m.msg);
        return NULL;
    }
    png_set_read_fn(png, &m, png_mem_read);
    /* libpng's own size limits off (2^31 - 1): pixl__check_dims below refuses with pixl's message */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int bd = png_get_bit_depth(png, info), ct = png_get_color_type(png, info);
    /* the size from the header, before png_read_update_info allocates a row */
    if (pixl__check_dims(path, (long)w, (long)h, png_get_channels(png, info), 8)) {
        status = pixl_last_status();
        keep_error = 1;
        png_error(png, "image size");
    }
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
        keep_error = 1;
        png_error(png, "image size");
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
    volatile int status = PIXL_ERR_FORMAT, keep_error = 0; /* keep_error: pixl_last_error() names the file already */
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        pixl_image_free(img);
        if (keep_error) pixl_set_error(status, "%s", pixl_last_error());
        else pixl_set_error(status, "image '%s': bad JPEG: %s", path, err.msg);
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
    if (pixl__check_dims(path, (long)cinfo.image_width, (long)cinfo.image_height, want_grey ? 1 : cinfo.num_components > 1 ? 3 : 1, 8)) {
        status = pixl_last_status();
        keep_error = 1;
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

static int check_load_args(const char *fn, const char *name, int channels, int depth)
{
    if (channels < 0 || channels > 4 || (depth != 0 && depth != 8 && depth != 16))
        return pixl_set_error(PIXL_ERR_ARG, "%s('%s'): channels %d / depth %d not supported", fn, name, channels,
                              depth);
    return PIXL_OK;
}

/* PNG or JPEG bytes -> image with the wanted channels/depth (0 = as stored) */
static pixl_image *decode_any(const char *name, const unsigned char *buf, size_t len, int channels, int depth)
{
    pixl_image *img = NULL;
    if (is_png(buf, len)) img = png_decode(name, buf, len, 0, depth);
    else if (is_jpeg(buf, len)) img = jpeg_decode(name, buf, len, channels == 1);
    else if (len == 0) pixl_set_error(PIXL_ERR_FORMAT, "image '%s': empty %s", name, strcmp(name, MEMORY_NAME) ? "file" : "buffer");
    else pixl_set_error(PIXL_ERR_UNSUPPORTED, "image '%s': not a PNG or JPEG %s", name, strcmp(name, MEMORY_NAME) ? "file" : "buffer");
    if (!img) return NULL;
    int want_c = channels ? channels : img->channels, want_d = depth ? depth : img->depth;
    if (want_c != img->channels || want_d != img->depth) {
        pixl_image *c = pixl_image_convert(img, want_c, want_d);
        pixl_image_free(img);
        if (!c) pixl_set_error(pixl_last_status(), "image '%s': %s", name, pixl_last_error());
        img = c;
    }
    return img;
}

pixl_image *pixl_image_load(const char *path, int channels, int depth)
{
    if (!path) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_load: path is NULL");
        return NULL;
    }
    if (check_load_args("pixl_image_load", path, channels, depth)) return NULL;
    unsigned char *buf;
    size_t len;
    if (pixl__read_file(path, "image", MAX_FILE_BYTES, &buf, &len)) return NULL;
    pixl_image *img = decode_any(path, buf, len, channels, depth);
    free(buf);
    return img;
}

pixl_image *pixl_image_decode(const uint8_t *buf, size_t n, int channels, int depth)
{
    if (!buf && n) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_decode: NULL buffer of %zu bytes", n);
        return NULL;
    }
    if (check_load_args("pixl_image_decode", MEMORY_NAME, channels, depth)) return NULL;
    return decode_any(MEMORY_NAME, buf ? buf : (const uint8_t *)"", n, channels, depth);
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
    int32_t *lab = pixl__malloc(np * sizeof *lab);
    if (lab)
        for (size_t p = 0; p < np; p++) lab[p] = (int32_t)pixl__image_sample(img, p * img->channels);
    *width = img->width;
    *height = img->height;
    pixl_image_free(img);
    return lab;
}

/* ----------------------------------------------------------- PNG encoding */

/* growable output buffer of the memory encoders */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} mem_sink;

static int sink_add(mem_sink *m, const void *data, size_t len)
{
    if (len > m->cap - m->n) {
        size_t cap = m->cap ? m->cap : 4096;
        while (len > cap - m->n) {
            if (cap > ((size_t)-1) / 2) return -1;
            cap *= 2;
        }
        uint8_t *p = realloc(m->p, cap);
        if (!p) return -1;
        m->p = p, m->cap = cap;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
    return 0;
}

typedef struct {
    char msg[256];
    mem_sink *sink; /* NULL: writing to a FILE */
} png_wctx;

static void png_w_error(png_structp png, png_const_charp msg)
{
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_sink_write(png_structp png, png_bytep data, png_size_t len)
{
    png_wctx *c = png_get_io_ptr(png);
    if (sink_add(c->sink, data, len)) png_error(png, "out of memory");
}

static void png_sink_flush(png_structp png) { (void)png; }

/* Encode rows of `data` as PNG into f (c->sink NULL) or c->sink; 0, or a
 * negative status with the reason in c->msg. */
static int png_encode(png_wctx *c, FILE *f, int w, int h, int color_type, int depth, const uint8_t *data,
                      size_t rowbytes, const png_color *pal, int npal)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_w_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(c->msg, sizeof c->msg, "out of memory creating the PNG encoder");
        return PIXL_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return PIXL_ERR_IO;
    }
    if (c->sink) png_set_write_fn(png, c, png_sink_write, png_sink_flush);
    else png_init_io(png, f);
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
    return PIXL_OK;
}

static int png_color_type(const pixl_image *img)
{
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    return types[img->channels];
}

static size_t row_bytes(const pixl_image *img) { return (size_t)img->width * img->channels * (img->depth / 8); }

/* ---------------------------------------------------------- JPEG encoding */

typedef struct {
    jpeg_err err;
    unsigned char *mem; /* jpeg_mem_dest's buffer */
    unsigned long mem_n;
} jpeg_wctx;

static int check_jpeg_args(const pixl_image *img, const char *name, int *quality)
{
    if (img->depth != 8 || (img->channels != 1 && img->channels != 3))
        return pixl_set_error(PIXL_ERR_UNSUPPORTED, "'%s': JPEG needs an 8-bit grey or RGB image (got %d channels, %d bits)",
                              name, img->channels, img->depth);
    if (*quality == 0) *quality = 95;
    if (*quality < 1 || *quality > 100) return pixl_set_error(PIXL_ERR_ARG, "'%s': JPEG quality %d (1..100)", name, *quality);
    return PIXL_OK;
}

/* Baseline JPEG, no chroma subsampling, into f (NULL: into c->mem); 0 or
 * PIXL_ERR_IO with the reason in c->err.msg. */
static int jpeg_encode(jpeg_wctx *c, FILE *f, const pixl_image *img, int quality)
{
    struct jpeg_compress_struct cinfo;
    memset(&c->err, 0, sizeof c->err);
    cinfo.err = jpeg_std_error(&c->err.pub);
    c->err.pub.error_exit = jpeg_on_error;
    c->err.pub.emit_message = jpeg_on_message;
    if (setjmp(c->err.jb)) {
        jpeg_destroy_compress(&cinfo);
        return PIXL_ERR_IO;
    }
    jpeg_create_compress(&cinfo);
    if (f) jpeg_stdio_dest(&cinfo, f);
    else jpeg_mem_dest(&cinfo, &c->mem, &c->mem_n);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->channels;
    cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    for (int k = 0; k < cinfo.num_components; k++) cinfo.comp_info[k].h_samp_factor = cinfo.comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)img->data + (size_t)cinfo.next_scanline * img->width * img->channels;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return PIXL_OK;
}

/* ------------------------------------------------------- encoding to memory */

int pixl_image_encode(const pixl_image *img, pixl_image_format fmt, int quality, uint8_t **out, size_t *n)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    if (!out || !n) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_encode: NULL output");
    if (pixl__image_valid(img, "pixl_image_encode")) return PIXL_ERR_ARG;
    if (fmt == PIXL_IMAGE_PNG) {
        mem_sink sink = {0};
        png_wctx c = {"", &sink};
        int rc = png_encode(&c, NULL, img->width, img->height, png_color_type(img), img->depth, img->data,
                            row_bytes(img), NULL, 0);
        if (rc) {
            free(sink.p);
            return pixl_set_error(rc, "pixl_image_encode: PNG: %s", c.msg);
        }
        *out = sink.p, *n = sink.n;
        return PIXL_OK;
    }
    if (fmt != PIXL_IMAGE_JPEG) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_encode: unknown format %d", (int)fmt);
    int rc = check_jpeg_args(img, "pixl_image_encode", &quality);
    if (rc) return rc;
    jpeg_wctx c = {.mem = NULL, .mem_n = 0};
    rc = jpeg_encode(&c, NULL, img, quality);
    if (rc || !c.mem) {
        free(c.mem);
        return pixl_set_error(rc ? rc : PIXL_ERR_NOMEM, "pixl_image_encode: JPEG: %s", rc ? c.err.msg : "no output");
    }
    /* jpeg_mem_dest's buffer comes from malloc(): hand it over as is */
    *out = c.mem, *n = (size_t)c.mem_n;
    return PIXL_OK;
}

/* ---------------------------------------------------------- writing files */

/* End an atomic write (core/atomic_file.c): commit when nothing failed so
 * far (ok), else remove the temporary file and report `why`. */
static int finish_write(pixl_atomic_file *af, const char *path, int ok, const char *why)
{
    if (ok) return pixl_atomic_commit(af);
    pixl_atomic_abort(af);
    return pixl_set_error(PIXL_ERR_IO, "'%s': write failed: %s", path, why && why[0] ? why : "unknown error");
}

static int png_write_file(const char *path, int w, int h, int color_type, int depth, const uint8_t *data,
                          size_t rowbytes, const png_color *pal, int npal)
{
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    png_wctx c = {"", NULL};
    int rc = png_encode(&c, pixl_atomic_stream(af), w, h, color_type, depth, data, rowbytes, pal, npal);
    int crc = finish_write(af, path, !rc, c.msg);
    return rc == PIXL_ERR_NOMEM ? rc : crc;
}

int pixl_image_save_png(const pixl_image *img, const char *path)
{
    if (pixl__image_valid(img, "pixl_image_save_png")) return PIXL_ERR_ARG;
    if (!path) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_save_png: path is NULL");
    return png_write_file(path, img->width, img->height, png_color_type(img), img->depth, img->data, row_bytes(img),
                          NULL, 0);
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
    uint8_t *b = pixl__malloc(np);
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
    if (pixl__image_valid(img, "pixl_image_save_jpeg")) return PIXL_ERR_ARG;
    if (!path) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_save_jpeg: path is NULL");
    int rc = check_jpeg_args(img, path, &quality);
    if (rc) return rc;
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    jpeg_wctx c = {.mem = NULL, .mem_n = 0};
    rc = jpeg_encode(&c, pixl_atomic_stream(af), img, quality);
    return finish_write(af, path, !rc, c.err.msg);
}
