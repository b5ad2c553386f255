/* test_limits.c — resource limits and bad values (docs/reliability.md):
 * image headers claiming huge sizes (PNG and JPEG, refused from the header,
 * before any pixel buffer), PIXL_MAX_IMAGE_PIXELS and its override, a
 * safetensors tensor of 2^40 elements, overflowing shapes and offsets, a
 * config asking for a batch larger than PIXL_MAX_BATCH_BYTES, YAML nested
 * too deep, model options and checkpoint metadata that make no sense, CRF
 * and edge-benchmark radii, reference-case tolerances and op parameters,
 * data sets without a labelled pixel, and pixl_set_error given its own
 * message. Where a refusal must happen before a giant allocation, the call
 * runs in a child process whose address space is capped (RLIMIT_AS; not
 * under AddressSanitizer, whose shadow memory needs the address space). */
#include <cjson/cJSON.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pixl_data.h"
#include "pixl_metrics.h"
#include "pixl_models.h"
#include "pixl_train.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static const char *tp(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/%s", pixl_test_tmpdir(), name);
    return buf[k];
}

static int has(const char *s) { return strstr(pixl_last_error(), s) != NULL; }
#define CHECK_ERR(cond) CHECK_MSG((cond), "CHECK(%s), error: %s", #cond, pixl_last_error())

static int write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Run fn in a child whose address space may grow by at most 512 MiB: a
 * giant allocation there fails (or the child dies) instead of passing
 * unnoticed. Returns fn's result, or -1 when the child did not exit
 * normally. Under ASan fn runs in this process. */
static int run_capped(int (*fn)(void *), void *arg)
{
    if (UNDER_ASAN) return fn(arg);
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return fn(arg);
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f && fscanf(f, "%ld", &pages) != 1) pages = 0;
        if (f) fclose(f);
        rlim_t now = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
        struct rlimit rl = {now + ((rlim_t)512 << 20), now + ((rlim_t)512 << 20)};
        setrlimit(RLIMIT_AS, &rl);
        int r = fn(arg);
        fflush(stdout), fflush(stderr);
        _exit(r & 0xff);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

/* ------------------------------------------------------- pixl_set_error */

PIXL_TEST(limits_set_error_given_its_own_message)
{
    pixl_set_error(PIXL_ERR_IO, "cannot open: %s", "No such file or directory");
    pixl_set_error(PIXL_ERR_FORMAT, "%s: %s", "labels/a.png", pixl_last_error());
    CHECK_MSG(!strcmp(pixl_last_error(), "labels/a.png: cannot open: No such file or directory"), "got '%s'",
              pixl_last_error());
    CHECK(pixl_last_status() == PIXL_ERR_FORMAT);
    /* twice more, the message read while the new one is written over it */
    pixl_set_error(PIXL_ERR_FORMAT, "%s (%s)", pixl_last_error(), pixl_last_error());
    CHECK_MSG(!strcmp(pixl_last_error(), "labels/a.png: cannot open: No such file or directory (labels/a.png: "
                                         "cannot open: No such file or directory)"),
              "got '%s'", pixl_last_error());
    /* a message at the buffer's size: truncated, never garbled */
    char longmsg[3000], want[3100];
    for (int i = 0; i < 2999; i++) longmsg[i] = (char)('a' + i % 26);
    longmsg[2999] = 0;
    pixl_set_error(PIXL_ERR_ARG, "%s", longmsg);
    snprintf(want, sizeof want, "prefix: %s", longmsg);
    pixl_set_error(PIXL_ERR_ARG, "prefix: %s", pixl_last_error());
    size_t n = strlen(pixl_last_error());
    CHECK(n > 1000 && n < sizeof want);
    CHECK(!strncmp(pixl_last_error(), want, n));
}

/* --------------------------------------------------------------- images */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }

/* a valid small PNG (or JPEG) whose header is rewritten to claim w x h */
static uint8_t *png_claiming(int w, int h, int channels, size_t *n)
{
    pixl_image *img = pixl_image_new(16, 16, channels, 8);
    uint8_t *b = NULL;
    if (!img || pixl_image_encode(img, PIXL_IMAGE_PNG, 0, &b, n)) return NULL;
    pixl_image_free(img);
    /* signature (8), IHDR length (4) + type (4), then width and height; CRC over type + data */
    put_be32(b + 16, (uint32_t)w);
    put_be32(b + 20, (uint32_t)h);
    put_be32(b + 29, crc32_of(b + 12, 17));
    return b;
}

static uint8_t *jpeg_claiming(int w, int h, size_t *n)
{
    pixl_image *img = pixl_image_new(16, 16, 3, 8);
    uint8_t *b = NULL;
    if (!img || pixl_image_encode(img, PIXL_IMAGE_JPEG, 90, &b, n)) return NULL;
    pixl_image_free(img);
    for (size_t i = 2; i + 9 < *n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) { /* SOF0: length (2), precision (1), height (2), width (2) */
            b[i + 5] = (uint8_t)(h >> 8), b[i + 6] = (uint8_t)h;
            b[i + 7] = (uint8_t)(w >> 8), b[i + 8] = (uint8_t)w;
            return b;
        }
    free(b);
    return NULL;
}

static int load_refused(void *arg)
{
    const char *path = arg;
    pixl_image *img = pixl_image_load(path, 3, 8);
    int ok = img == NULL && has(path) && (has("limit of") || has("per side"));
    if (!ok) fprintf(stderr, "load_refused(%s): %s\n", path, img ? "loaded" : pixl_last_error());
    pixl_image_free(img);
    return ok ? 0 : 1;
}

static int label_refused(void *arg)
{
    const char *path = arg;
    int w, h;
    int32_t *lab = pixl_label_load(path, &w, &h);
    int ok = lab == NULL && has(path) && (has("limit of") || has("per side"));
    if (!ok) fprintf(stderr, "label_refused(%s): %s\n", path, lab ? "loaded" : pixl_last_error());
    free(lab);
    return ok ? 0 : 1;
}

PIXL_TEST(limits_image_headers_claiming_huge_sizes)
{
    unsetenv("PIXL_MAX_IMAGE_PIXELS");
    static const int sizes[][2] = {{100000, 100000}, {30000, 30000}, {32768, 8192}, {2147483647, 1}};
    for (int s = 0; s < 4; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        char name[64];
        size_t n;
        uint8_t *png = png_claiming(w, h, 3, &n);
        CHECK(png != NULL);
        snprintf(name, sizeof name, "huge_%dx%d.png", w, h);
        const char *pp = tp(name);
        CHECK(png && write_bytes(pp, png, n) == 0);
        CHECK_MSG(run_capped(load_refused, (void *)pp) == 0, "PNG %dx%d", w, h);
        /* from memory: the same check */
        pixl_image *img = png ? pixl_image_decode(png, n, 0, 0) : NULL;
        CHECK_ERR(img == NULL && has("(memory)") && (has("limit of") || has("per side")));
        pixl_image_free(img);
        free(png);
        /* a grey PNG as a label map */
        uint8_t *lp = png_claiming(w, h, 1, &n);
        snprintf(name, sizeof name, "huge_%dx%d_labels.png", w, h);
        const char *lpp = tp(name);
        CHECK(lp && write_bytes(lpp, lp, n) == 0);
        CHECK_MSG(run_capped(label_refused, (void *)lpp) == 0, "label PNG %dx%d", w, h);
        free(lp);
        if (w > 65535 || h > 65535) continue; /* JPEG sizes are 16-bit */
        uint8_t *jpg = jpeg_claiming(w, h, &n);
        CHECK(jpg != NULL);
        snprintf(name, sizeof name, "huge_%dx%d.jpg", w, h);
        const char *jp = tp(name);
        CHECK(jpg && write_bytes(jp, jpg, n) == 0);
        CHECK_MSG(run_capped(load_refused, (void *)jp) == 0, "JPEG %dx%d", w, h);
        free(jpg);
    }
    /* the pixel limit names its variable and the sizes */
    CHECK(pixl_image_load(tp("huge_30000x30000.png"), 3, 8) == NULL);
    CHECK_ERR(has("30000x30000") && has("900000000 pixels") && has("PIXL_MAX_IMAGE_PIXELS"));
    CHECK(pixl_image_load(tp("huge_100000x100000.png"), 3, 8) == NULL);
    CHECK_ERR(has("huge_100000x100000.png"));
}

PIXL_TEST(limits_image_pixels_override)
{
    /* a small valid file decoding to more pixels than allowed: the same check
     * (here with the limit lowered instead of a file of 2^27 pixels) */
    pixl_image *img = pixl_image_new(64, 48, 3, 8);
    const char *png = tp("small.png"), *jpg = tp("small.jpg");
    CHECK_OK(pixl_image_save_png(img, png));
    CHECK_OK(pixl_image_save_jpeg(img, jpg, 90));
    int32_t lab[64 * 48] = {0};
    const char *lp = tp("small_labels.png");
    CHECK_OK(pixl_label_save_png(lab, 64, 48, NULL, 0, lp));
    pixl_image_free(img);
    setenv("PIXL_MAX_IMAGE_PIXELS", "3000", 1);
    CHECK(pixl_image_load(png, 0, 0) == NULL);
    CHECK_ERR(has("small.png") && has("64x48 is 3072 pixels") && has("limit of 3000 pixels"));
    CHECK(pixl_image_load(jpg, 0, 0) == NULL);
    CHECK_ERR(has("small.jpg") && has("limit of 3000"));
    int w, h;
    CHECK(pixl_label_load(lp, &w, &h) == NULL);
    CHECK_ERR(has("small_labels.png") && has("limit of 3000"));
    setenv("PIXL_MAX_IMAGE_PIXELS", "3072", 1);
    img = pixl_image_load(png, 0, 0);
    CHECK_ERR(img != NULL);
    pixl_image_free(img);
    setenv("PIXL_MAX_IMAGE_PIXELS", "4K", 1); /* 4096 */
    img = pixl_image_load(jpg, 0, 0);
    CHECK_ERR(img != NULL);
    pixl_image_free(img);
    setenv("PIXL_MAX_IMAGE_PIXELS", "lots", 1);
    CHECK(pixl_image_load(png, 0, 0) == NULL);
    CHECK_ERR(has("PIXL_MAX_IMAGE_PIXELS") && has("lots"));
    unsetenv("PIXL_MAX_IMAGE_PIXELS");
    img = pixl_image_load(png, 0, 0);
    CHECK_ERR(img != NULL);
    pixl_image_free(img);
}

/* ---------------------------------------------------------- safetensors */

/* a safetensors file with header JSON `hdr` and `data` bytes of zeros */
static const char *st_file(const char *name, const char *hdr, size_t data)
{
    const char *path = tp(name);
    size_t hl = strlen(hdr), n = 8 + hl + data;
    uint8_t *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    if (write_bytes(path, b, n)) path = NULL;
    free(b);
    return path;
}

static int st_refused(void *arg)
{
    const char *const *a = arg; /* path, then what the message must hold */
    pixl_st_file *f = pixl_st_open(a[0]);
    int ok = f == NULL && has(a[0]);
    for (int i = 1; a[i]; i++) ok = ok && has(a[i]);
    if (!ok) fprintf(stderr, "st_refused(%s): %s\n", a[0], f ? "opened" : pixl_last_error());
    pixl_st_close(f);
    return ok ? 0 : 1;
}

PIXL_TEST(limits_safetensors_huge_and_overflowing_shapes)
{
    /* 2^40 elements claimed by a file of 4 data bytes */
    const char *p = st_file("t40.safetensors",
                            "{\"weight\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,4]}}", 4);
    const char *a1[] = {p, "'weight'", "1099511627776 elements", "[1048576, 1048576]", NULL};
    CHECK(p && run_capped(st_refused, (void *)a1) == 0);
    /* the product overflows */
    p = st_file("tovf.safetensors",
                "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
    const char *a2[] = {p, "'w'", "overflows", NULL};
    CHECK(p && run_capped(st_refused, (void *)a2) == 0);
    /* an empty tensor may not carry huge sizes either */
    p = st_file("tempty.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,1000000000000000,1000000000000000],\"data_offsets\":[0,0]}}", 0);
    const char *a3[] = {p, "'w'", "overflows", NULL};
    CHECK(p && run_capped(st_refused, (void *)a3) == 0);
    /* offsets past the end, fractional, or beyond 2^64 */
    p = st_file("toff.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 4);
    const char *a4[] = {p, "'w'", "data_offsets", NULL};
    CHECK(p && run_capped(st_refused, (void *)a4) == 0);
    p = st_file("tfrac.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0.5,2.5]}}", 4);
    const char *a5[] = {p, "'w'", "data_offsets", NULL};
    CHECK(p && run_capped(st_refused, (void *)a5) == 0);
    p = st_file("tbig.safetensors",
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[1e300,1e300]}}", 4);
    const char *a6[] = {p, "'w'", "data_offsets", NULL};
    CHECK(p && run_capped(st_refused, (void *)a6) == 0);
    /* a header length beyond the file */
    uint8_t b[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    CHECK(write_bytes(tp("thl.safetensors"), b, sizeof b) == 0);
    const char *a7[] = {tp("thl.safetensors"), "header length", NULL};
    CHECK(run_capped(st_refused, (void *)a7) == 0);
    /* a well-formed file still opens */
    p = st_file("tok.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
    pixl_st_file *f = p ? pixl_st_open(p) : NULL;
    CHECK_ERR(f && pixl_st_numel(f, 0) == 4);
    pixl_st_close(f);
}

/* ---------------------------------------------------------------- config */

PIXL_TEST(limits_config_batch_bytes)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    unsetenv("PIXL_MAX_BATCH_BYTES");
    const char *big = "model:\n  arch: unet\ndata:\n  dataset: synthetic\n  crop: [4096, 4096]\n"
                      "training:\n  batch_size: 1024\n";
    CHECK(pixl_config_load_string(big, "big.yaml", cfg) != 0);
    CHECK_ERR(has("big.yaml:7:") && has("training.batch_size") && has("data.crop") && has("PIXL_MAX_BATCH_BYTES") &&
              has("192 GiB"));
    /* batch 1e9: not an integer; 1000000000: out of range; both name the key */
    CHECK(pixl_config_load_string("training:\n  batch_size: 1e9\n", "b.yaml", cfg) != 0);
    CHECK_ERR(has("b.yaml:2:") && has("training.batch_size"));
    CHECK(pixl_config_load_string("training:\n  batch_size: 1000000000\n", "b.yaml", cfg) != 0);
    CHECK_ERR(has("b.yaml:2:") && has("training.batch_size"));
    /* validation batches at the resize size */
    CHECK(pixl_config_load_string("data:\n  img_rows: 4096\n  img_cols: 4096\nvalidation:\n  batch_size: 4096\n", "v.yaml",
                                  cfg) != 0);
    CHECK_ERR(has("v.yaml:5:") && has("validation.batch_size") && has("data.img_rows"));
    /* the override raises the limit; a --set override is checked too */
    setenv("PIXL_MAX_BATCH_BYTES", "1T", 1);
    CHECK_OK(pixl_config_load_string(big, "big.yaml", cfg));
    unsetenv("PIXL_MAX_BATCH_BYTES");
    CHECK_OK(pixl_config_load_string("data:\n  crop: [512, 512]\n", "ok.yaml", cfg));
    const char *set[] = {"training.batch_size=65536"};
    CHECK(pixl_config_load_ex(tp("nonexistent.yaml"), cfg, 1, set) != 0); /* missing file first */
    FILE *f = fopen(tp("crop.yaml"), "w");
    fputs("data:\n  crop: [512, 512]\n", f);
    fclose(f);
    CHECK(pixl_config_load_ex(tp("crop.yaml"), cfg, 1, set) != 0);
    CHECK_ERR(has("training.batch_size") && has("PIXL_MAX_BATCH_BYTES"));
    free(cfg);
}

PIXL_TEST(limits_config_yaml_depth)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    /* a flow list nested 100000 deep on one line */
    size_t depth = 100000;
    char *y = malloc(2 * depth + 16);
    size_t o = (size_t)sprintf(y, "model: ");
    for (size_t i = 0; i < depth; i++) y[o++] = '[';
    for (size_t i = 0; i < depth; i++) y[o++] = ']';
    y[o++] = '\n', y[o] = 0;
    CHECK(pixl_config_load_string(y, "deep.yaml", cfg) != 0);
    CHECK_ERR(has("deep.yaml:1:") && has("nested deeper than 64"));
    free(y);
    /* block mappings: the line of the level too deep */
    char blk[16384];
    o = 0;
    for (int i = 0; i < 80; i++) o += (size_t)snprintf(blk + o, sizeof blk - o, "%*sk%d:\n", 2 * i, "", i);
    CHECK(pixl_config_load_string(blk, "blocks.yaml", cfg) != 0);
    CHECK_ERR(has("blocks.yaml:65:") && has("nested deeper"));
    free(cfg);
}

/* ---------------------------------------------------------- model options */

PIXL_TEST(limits_model_options_bad_values)
{
    pixl_model_opts o = {.width = NAN};
    CHECK(pixl_model_create("segnet_basic", &o, 0) == NULL);
    CHECK_ERR(has("width") && has("nan"));
    o.width = -0.5f;
    CHECK(pixl_model_create("segnet_basic", &o, 0) == NULL);
    CHECK_ERR(has("width -0.5"));
    o = (pixl_model_opts){.n_classes = -3};
    CHECK(pixl_model_create("segnet_basic", &o, 0) == NULL);
    CHECK_ERR(has("n_classes -3"));
    o = (pixl_model_opts){.in_channels = -1};
    CHECK(pixl_model_create("segnet_basic", &o, 0) == NULL);
    CHECK_ERR(has("in_channels -1"));
    o = (pixl_model_opts){.output_stride = -8};
    CHECK(pixl_model_create("segnet_basic", &o, 0) == NULL);
    CHECK_ERR(has("output_stride -8"));
    /* pixl_model_build: the same check through the ctx */
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 3, 32, 32};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    o = (pixl_model_opts){.width = INFINITY};
    CHECK(pixl_model_build(ctx, "segnet_basic", x, &o) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "width inf"));
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    /* checkpoint metadata: every value parsed strictly, errors name the file and the key */
    static const char *const bad[][2] = {{"n_classes", "eleven"}, {"n_classes", "-2"}, {"in_channels", "3x"},
                                         {"width", "nan"}, {"width", "-1"}, {"output_stride", "99999999999"}};
    for (int i = 0; i < 6; i++) {
        pixl_st_writer *w = pixl_st_writer_new();
        pixl_st_writer_meta(w, "arch", "segnet_basic");
        pixl_st_writer_meta(w, "n_classes", "11");
        pixl_st_writer_meta(w, bad[i][0], bad[i][1]);
        const char *path = tp("badmeta.safetensors");
        CHECK_OK(pixl_st_writer_save(w, path));
        pixl_st_writer_free(w);
        pixl_model *m = pixl_model_load(path);
        CHECK_MSG(m == NULL && has("badmeta.safetensors") && has(bad[i][0]) && has(bad[i][1]),
                  "metadata %s = %s: %s", bad[i][0], bad[i][1], m ? "loaded" : pixl_last_error());
        pixl_model_free(m);
    }
}

/* ------------------------------------------------------------ CRF, edges */

PIXL_TEST(limits_crf_and_edge_radii)
{
    pixl_crf_opts c = pixl_crf_defaults();
    CHECK(pixl_crf_set(&c, "terms", "[4d:5:99999999999:1]") != 0);
    CHECK_ERR(has("crf.terms") && has("too large"));
    CHECK(pixl_crf_set(&c, "terms", "[4d:101:1:1]") != 0);
    CHECK_ERR(has("crf.terms") && has("kernel 101"));
    CHECK(pixl_crf_set(&c, "terms", "[4d:5:2000:1]") != 0);
    CHECK_ERR(has("dilation 2000"));
    CHECK(pixl_crf_parse("crfi5p4d5999999999991", &c) != 0);
    CHECK_OK(pixl_crf_set(&c, "terms", "[4d:5:16:1, 4d:5:4:1]"));
    /* the edge benchmark's tolerance: NaN, negative, too large -> errors naming it */
    enum { W = 20, H = 16 };
    float pred[W * H] = {0};
    uint8_t gt[W * H] = {0};
    for (int y = 0; y < H; y++) pred[y * W + 10] = 1, gt[y * W + 10] = 1;
    pixl_edge_sample s = {W, H, pred, 1, gt};
    pixl_edge_counts counts[99];
    const double bad[] = {NAN, -0.01, 0.5, INFINITY};
    for (int i = 0; i < 4; i++) {
        pixl_edge_bench_opts o = {.max_dist = bad[i]};
        CHECK(pixl_edge_eval_image(&s, &o, counts) != 0);
        CHECK_ERR(has("max_dist"));
    }
    pixl_edge_bench_opts oc = {.outlier_cost = NAN};
    CHECK(pixl_edge_eval_image(&s, &oc, counts) != 0);
    CHECK_ERR(has("outlier_cost"));
    pixl_edge_bench_opts ok = {.max_dist = 0.01};
    CHECK_OK(pixl_edge_eval_image(&s, &ok, counts));
}

/* ------------------------------------------------------ reference cases */

static char *run_case_capture(const char *path, int *passed)
{
    const char *out = tp("case_out.txt");
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(out, "w");
    dup2(fileno(f), 1);
    *passed = check_run_file(path, 0);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    static char buf[2048];
    f = fopen(out, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return buf;
}

/* a ReLU case (one input, output = input) with metadata rtol_f32/atol_f32 and params */
static const char *relu_case(const char *name, const char *rtol, const char *atol, const char *op, const char *params)
{
    pixl_st_writer *w = pixl_st_writer_new();
    float x[4] = {1, 2, 3, 4};
    int64_t sh[1] = {4};
    pixl_st_writer_add(w, "input", PIXL_F32, 1, sh, x);
    pixl_st_writer_add(w, "output", PIXL_F32, 1, sh, x);
    pixl_st_writer_meta(w, "op", op);
    pixl_st_writer_meta(w, "inputs", "[\"input\"]");
    pixl_st_writer_meta(w, "params", params);
    if (rtol) pixl_st_writer_meta(w, "rtol_f32", rtol);
    if (atol) pixl_st_writer_meta(w, "atol_f32", atol);
    const char *path = tp(name);
    int rc = pixl_st_writer_save(w, path);
    pixl_st_writer_free(w);
    return rc ? NULL : path;
}

PIXL_TEST(limits_check_case_tolerances_and_params)
{
    int passed;
    const char *p = relu_case("relu_ok.safetensors", "1e-5", "1e-6", "ReLU", "{}");
    char *out = run_case_capture(p, &passed);
    CHECK_MSG(passed, "%s", out);
    static const char *const bad[][2] = {{"nan", "1e-6"}, {"1e-5", "-1"}, {"1e-5", "tiny"}, {"inf", "0"}};
    for (int i = 0; i < 4; i++) {
        p = relu_case("relu_tol.safetensors", bad[i][0], bad[i][1], "ReLU", "{}");
        out = run_case_capture(p, &passed);
        CHECK_MSG(!passed && strstr(out, i == 1 || i == 2 ? "atol_f32" : "rtol_f32"), "tolerances %s/%s: %s",
                  bad[i][0], bad[i][1], out);
    }
    /* op parameters that make no sense fail the case naming the key */
    static const char *const params[][2] = {{"{\"stride\": 0}", "stride"},
                                            {"{\"dilation\": [1, 0]}", "dilation"},
                                            {"{\"groups\": 0}", "groups"},
                                            {"{\"kernel_size\": 3.5}", "kernel_size"},
                                            {"{\"padding\": -1}", "padding"},
                                            {"{\"stride\": 1e12}", "stride"}};
    for (int i = 0; i < 6; i++) {
        p = relu_case("conv_bad.safetensors", NULL, NULL, "Conv2d", params[i][0]);
        out = run_case_capture(p, &passed);
        CHECK_MSG(!passed && strstr(out, "params '") && strstr(out, params[i][1]), "%s: %s", params[i][0], out);
        cJSON *j = cJSON_Parse(params[i][0]);
        char err[256] = "";
        CHECK(check_params_ranges(j, err, sizeof err) != 0 && strstr(err, params[i][1]));
        cJSON_Delete(j);
    }
    /* an empty input with huge sizes besides its 0 */
    pixl_st_writer *w = pixl_st_writer_new();
    int64_t sh[3] = {0, 1000000, 1000000};
    float dummy = 0;
    pixl_st_writer_add(w, "input", PIXL_F32, 3, sh, &dummy);
    pixl_st_writer_add(w, "output", PIXL_F32, 3, sh, &dummy);
    pixl_st_writer_meta(w, "op", "ReLU");
    pixl_st_writer_meta(w, "inputs", "[\"input\"]");
    pixl_st_writer_meta(w, "params", "{}");
    CHECK_OK(pixl_st_writer_save(w, tp("relu_empty.safetensors")));
    pixl_st_writer_free(w);
    out = run_case_capture(tp("relu_empty.safetensors"), &passed);
    CHECK_MSG(!passed && strstr(out, "input 'input'") && strstr(out, "empty"), "%s", out);
    cJSON *j = cJSON_Parse("{\"stride\": [2, 2], \"padding\": 0, \"dim\": -1, \"kernel_size\": null}");
    char err[256] = "";
    CHECK_MSG(check_params_ranges(j, err, sizeof err) == 0, "%s", err);
    cJSON_Delete(j);
}

/* ---------------------------------------------- data without any label */

static void mkdirs(const char *path)
{
    char b[800];
    snprintf(b, sizeof b, "%s", path);
    for (char *q = b + 1; *q; q++)
        if (*q == '/') *q = 0, mkdir(b, 0755), *q = '/';
    mkdir(b, 0755);
}

/* ROOT/images/imN.png and ROOT/labels/imN.png, every label `value` */
static const char *void_folder(const char *name, int n, int value)
{
    static char root[512];
    char path[700];
    snprintf(root, sizeof root, "%s/%s", pixl_test_tmpdir(), name);
    snprintf(path, sizeof path, "%s/images", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/labels", root);
    mkdirs(path);
    pixl_image *img = pixl_image_new(32, 32, 3, 8);
    int32_t *lab = malloc(sizeof(int32_t) * 32 * 32);
    for (int p = 0; p < 32 * 32; p++) lab[p] = value, ((uint8_t *)img->data)[3 * p] = (uint8_t)p;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/images/im%d.png", root, i);
        pixl_image_save_png(img, path);
        snprintf(path, sizeof path, "%s/labels/im%d.png", root, i);
        pixl_label_save_png(lab, 32, 32, NULL, 0, path);
    }
    pixl_image_free(img);
    free(lab);
    return root;
}

PIXL_TEST(limits_no_labelled_pixel_evaluation)
{
    const char *root = void_folder("void1", 1, 255);
    pixl_dataset_opts d = {.kind = "folder", .root = root, .n_classes = 4};
    pixl_dataset *ds = pixl_dataset_open(&d);
    CHECK_ERR(ds != NULL);
    if (!ds) return;
    pixl_model_opts mo = {.n_classes = 4};
    pixl_model *m = pixl_model_create("segnet_basic", &mo, 1);
    CHECK_ERR(m != NULL);
    pixl_confusion *conf = pixl_confusion_new(4, PIXL_IGNORE_LABEL);
    CHECK(pixl_evaluate(m, ds, NULL, conf) != 0);
    CHECK_ERR(has("evaluation set 'folder'") && has("labels/im0.png") && has("0..3") && has("255 is ignored"));
    pixl_dataset_free(ds);
    /* labels outside the classes: the same */
    root = void_folder("void7", 2, 7);
    d.root = root;
    ds = pixl_dataset_open(&d);
    CHECK(ds && pixl_evaluate(m, ds, NULL, conf) != 0);
    CHECK_ERR(has("2 label maps") && has("like '") && has("void7/labels/im0.png"));
    pixl_dataset_free(ds);
    /* one labelled pixel is enough */
    root = void_folder("void_ok", 1, 2);
    d.root = root;
    ds = pixl_dataset_open(&d);
    CHECK(ds != NULL);
    if (ds) CHECK_OK(pixl_evaluate(m, ds, NULL, conf));
    pixl_dataset_free(ds);
    pixl_confusion_free(conf);
    pixl_model_free(m);
}

PIXL_TEST(limits_no_labelled_pixel_training)
{
    /* a CamVid layout (list files "image label") whose labels are all void (11) */
    const char *root = void_folder("void_train", 2, 11);
    static const char *const splits[] = {"train", "val"};
    for (int sp = 0; sp < 2; sp++) {
        char lst[700];
        snprintf(lst, sizeof lst, "%s/%s.txt", root, splits[sp]);
        FILE *lf = fopen(lst, "w");
        if (!lf) continue;
        fputs("images/im0.png labels/im0.png\nimages/im1.png labels/im1.png\n", lf);
        fclose(lf);
    }
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    char rootkv[700];
    snprintf(rootkv, sizeof rootkv, "data.root=%s", root);
    const char *kv[] = {"model.arch=segnet_basic", "data.dataset=camvid", rootkv,
                        "data.n_workers=0", "training.batch_size=1", "training.epochs=2",
                        "validation.every_epochs=0"};
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/run_void", pixl_test_tmpdir());
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK_ERR(t != NULL);
    if (t) {
        CHECK_OK(pixl_trainer_step(t)); /* the first of two batches of the epoch: not yet an error */
        CHECK(pixl_trainer_step(t) != 0);
        CHECK_ERR(has("training set 'camvid'") && has("2 label maps") && has("void_train/labels/im"));
        pixl_trainer_free(t);
    }
    fclose(devnull);
    free(cfg);
}

PIXL_TEST(limits_resume_metadata_bad_values)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    const char *kv[] = {"model.arch=segnet_basic", "data.dataset=synthetic", "data.img_rows=32", "data.img_cols=32",
                        "data.n_workers=0", "training.batch_size=2", "training.epochs=0", "training.max_iters=1",
                        "validation.every_epochs=0"};
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/run_resume_bad", pixl_test_tmpdir());
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    static const char *const bad[][2] = {{"elapsed_seconds", "nan"}, {"step", "-5"}, {"epoch", "1.5"},
                                         {"batch_in_epoch", "many"}, {"best_miou", "inf"}};
    for (int i = 0; i < 5; i++) {
        pixl_trainer *t = pixl_trainer_new(cfg, &h);
        CHECK_ERR(t != NULL);
        if (!t) break;
        const char *keys[5] = {"step", "epoch", "batch_in_epoch", "elapsed_seconds", "best_miou"};
        const char *vals[5] = {"3", "0", "1", "12.5", "0.25"};
        for (int k = 0; k < 5; k++)
            if (!strcmp(keys[k], bad[i][0])) vals[k] = bad[i][1];
        const char *path = tp("resume_bad.safetensors");
        CHECK_OK(pixl_model_save(pixl_trainer_model(t), path, 5, keys, vals));
        CHECK(pixl_trainer_resume(t, path) != 0);
        CHECK_MSG(has("resume_bad.safetensors") && has(bad[i][0]) && has(bad[i][1]), "%s = %s: %s", bad[i][0],
                  bad[i][1], pixl_last_error());
        pixl_trainer_free(t);
    }
    fclose(devnull);
    free(cfg);
}

PIXL_TEST(limits_unet_variant_parsed_whole)
{
    static const char *const bad[] = {"depth99999999999", "depth4x", "depth0", "depth7", "deep"};
    for (int i = 0; i < 5; i++) {
        pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 2, .width = 0.25f, .variant = bad[i]}, 1);
        CHECK_MSG(m == NULL && has(bad[i]) && has("depthN"), "variant %s: %s", bad[i], m ? "built" : pixl_last_error());
        pixl_model_free(m);
    }
    pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 2, .width = 0.25f, .variant = "depth2"}, 1);
    CHECK_ERR(m != NULL);
    pixl_model_free(m);
}

/* ---------------------------------------------------- BSDS ground truth */

/* groundTruth = {struct('Boundaries', uint8 7x9)} (uncompressed MAT v5),
 * then the Boundaries sizes rewritten to rows x cols in the file */
static const char *bsds_mat_claiming(const char *name, int32_t rows, int32_t cols)
{
    const char *path = tp(name);
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    if (!mat) return NULL;
    size_t bd[2] = {7, 9}, one[2] = {1, 1};
    uint8_t data[63] = {0};
    data[10] = 1;
    const char *fields[2] = {"Boundaries", NULL};
    matvar_t *b = Mat_VarCreate("Boundaries", MAT_C_UINT8, MAT_T_UINT8, 2, bd, data, 0);
    matvar_t *st = Mat_VarCreateStruct2(NULL, 2, one, fields);
    Mat_VarSetStructFieldByName(st, "Boundaries", 0, b);
    matvar_t *cell = Mat_VarCreate("groundTruth", MAT_C_CELL, MAT_T_CELL, 2, one, NULL, 0);
    Mat_VarSetCell(cell, 0, st);
    int rc = Mat_VarWrite(mat, cell, MAT_COMPRESSION_NONE);
    Mat_VarFree(cell);
    Mat_Close(mat);
    if (rc) return NULL;
    /* the dimensions subelement of Boundaries: miINT32 (5), 8 bytes, 7, 9 */
    FILE *f = fopen(path, "r+b");
    if (!f) return NULL;
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    const int32_t pat[4] = {5, 8, 7, 9};
    long at = -1;
    for (size_t i = 0; i + 16 <= n; i += 4)
        if (!memcmp(buf + i, pat, 16)) at = (long)i;
    int32_t dims[2] = {rows, cols};
    int ok = at >= 0 && !fseek(f, at + 8, SEEK_SET) && fwrite(dims, 4, 2, f) == 2;
    fclose(f);
    return ok ? path : NULL;
}

static int bsds_refused(void *arg)
{
    const char *const *a = arg;
    uint8_t *maps = NULL;
    int n, w, h;
    int rc = pixl_bsds_read(a[0], &maps, &n, &w, &h);
    int ok = rc != 0 && maps == NULL && has(a[0]) && has(a[1]);
    if (!ok) fprintf(stderr, "bsds_refused(%s): %s\n", a[0], rc ? pixl_last_error() : "read");
    free(maps);
    return ok ? 0 : 1;
}

PIXL_TEST(limits_bsds_mat_claiming_huge_maps)
{
    unsetenv("PIXL_MAX_IMAGE_PIXELS");
    const char *p = bsds_mat_claiming("bsds_ok.mat", 7, 9);
    CHECK(p != NULL);
    uint8_t *maps = NULL;
    int n = 0, w = 0, h = 0;
    CHECK_OK(p ? pixl_bsds_read(p, &maps, &n, &w, &h) : -1);
    CHECK(n == 1 && w == 9 && h == 7 && maps && maps[10 / 7 + (10 % 7) * 9] == 1);
    free(maps);
    const char *a1[] = {bsds_mat_claiming("bsds_huge.mat", 100000, 100000), "per side", NULL};
    CHECK(a1[0] && run_capped(bsds_refused, (void *)a1) == 0);
    const char *a2[] = {bsds_mat_claiming("bsds_big.mat", 30000, 30000), "limit of", NULL};
    CHECK(a2[0] && run_capped(bsds_refused, (void *)a2) == 0);
}

/* fuzz/known-oom/bsds: small corrupt MAT-files on which libmatio allocates gigabytes or does not return;
 * the reader's child process hits its limits and the read is an error naming the file (up to 5 s each).
 * Not under AddressSanitizer, where the child has no address-space limit. */
PIXL_TEST(limits_bsds_mat_libmatio_runaway)
{
#if defined(__SANITIZE_ADDRESS__)
    return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return;
#endif
#endif
    static const char *const files[] = {"fuzz/known-oom/bsds/matio_cell_millions-76317d2d.mat",
                                        "fuzz/known-oom/bsds/matio_oom-8ad72d62.mat",
                                        "fuzz/known-oom/bsds/matio_oom-9a9fa7f8.mat",
                                        "fuzz/known-oom/bsds/matio_oom-bd6fcc19.mat"};
    for (int i = 0; i < 4; i++) {
        uint8_t *maps = NULL;
        int n = 0, w = 0, h = 0;
        int rc = pixl_bsds_read(files[i], &maps, &n, &w, &h);
        CHECK_MSG(rc != 0 && maps == NULL && strstr(pixl_last_error(), files[i]) &&
                      (strstr(pixl_last_error(), "CPU time") || strstr(pixl_last_error(), "limit")),
                  "%s: rc %d, %s", files[i], rc, rc ? pixl_last_error() : "read");
        free(maps);
    }
}

PIXL_TEST(limits_no_labelled_pixel_class_weights)
{
    /* class weights read every training label map first: the error comes at set-up */
    const char *root = void_folder("void_cw", 2, 11);
    static const char *const splits[] = {"train", "val"};
    for (int sp = 0; sp < 2; sp++) {
        char lst[700];
        snprintf(lst, sizeof lst, "%s/%s.txt", root, splits[sp]);
        FILE *lf = fopen(lst, "w");
        if (!lf) continue;
        fputs("images/im0.png labels/im0.png\nimages/im1.png labels/im1.png\n", lf);
        fclose(lf);
    }
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    char rootkv[700];
    snprintf(rootkv, sizeof rootkv, "data.root=%s", root);
    const char *kv[] = {"model.arch=segnet_basic", "data.dataset=camvid", rootkv, "data.n_workers=0",
                        "training.batch_size=1", "training.epochs=1", "validation.every_epochs=0",
                        "training.loss.class_weights=median_freq"};
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/run_void_cw", pixl_test_tmpdir());
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK(t == NULL);
    CHECK_ERR(has("training set 'camvid'") && has("2 label maps") && has("void_cw/labels/im0.png"));
    pixl_trainer_free(t);
    fclose(devnull);
    free(cfg);
}
