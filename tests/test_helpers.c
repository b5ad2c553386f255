/* test_helpers.c — the shared helpers of the core: atomic file writes, the
 * JSON writer (read back with cJSON, bit for bit) and per-context threads. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pixl_impl.h" /* a private op that records the thread count */
#include "test.h"

static const char *path_in_tmp(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", pixl_test_tmpdir(), name);
    return buf;
}

/* entries of the test folder whose name starts with prefix */
static int entries_with_prefix(const char *prefix)
{
    DIR *d = opendir(pixl_test_tmpdir());
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

static int file_is(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    return f && n == strlen(text) && !memcmp(buf, text, n);
}

PIXL_TEST(helpers_atomic_write_commit_abort_fail)
{
    char p[512], nodir[512];
    path_in_tmp("atomic.txt", p, sizeof p);
    CHECK_OK(pixl_atomic_write(p, "old", 3));
    CHECK(file_is(p, "old"));

    /* abort: the old content stays, no temporary file */
    pixl_atomic_file *af = pixl_atomic_begin(p);
    CHECK(af && pixl_atomic_stream(af));
    fputs("half-written", pixl_atomic_stream(af));
    CHECK(entries_with_prefix("atomic.txt.tmp") == 1);
    pixl_atomic_abort(af);
    CHECK(file_is(p, "old"));
    CHECK(entries_with_prefix("atomic.txt.tmp") == 0);

    /* commit replaces it */
    af = pixl_atomic_begin(p);
    fputs("new", pixl_atomic_stream(af));
    CHECK(file_is(p, "old")); /* not visible before the commit */
    CHECK_OK(pixl_atomic_commit(af));
    CHECK(file_is(p, "new"));
    CHECK(entries_with_prefix("atomic.txt.tmp") == 0);

    /* a folder that does not exist: an error naming the path */
    path_in_tmp("no/such/folder/atomic.txt", nodir, sizeof nodir);
    CHECK(pixl_atomic_begin(nodir) == NULL && pixl_last_status() == PIXL_ERR_IO);
    CHECK_MSG(strstr(pixl_last_error(), nodir) != NULL, "error: %s", pixl_last_error());
    CHECK(pixl_atomic_write(nodir, "x", 1) == PIXL_ERR_IO);

    /* the rename fails (a non-empty folder is the target): old folder intact, no temporary file */
    char dir[512], inner[600];
    path_in_tmp("atomic_dir", dir, sizeof dir);
    snprintf(inner, sizeof inner, "%s/inner", dir);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK_OK(pixl_atomic_write(inner, "in", 2));
    CHECK(pixl_atomic_write(dir, "x", 1) == PIXL_ERR_IO);
    CHECK_MSG(strstr(pixl_last_error(), dir) != NULL, "error: %s", pixl_last_error());
    CHECK(file_is(inner, "in"));
    CHECK(entries_with_prefix("atomic_dir.tmp") == 0);

    /* config, image and label writers go through it too */
    pixl_image *img = pixl_image_new(3, 2, 3, 8);
    char png[512];
    path_in_tmp("atomic.png", png, sizeof png);
    CHECK_OK(pixl_image_save_png(img, png));
    CHECK(entries_with_prefix("atomic.png.tmp") == 0);
    pixl_image_free(img);
    pixl_atomic_abort(NULL);
    CHECK(pixl_atomic_commit(NULL) == PIXL_ERR_ARG);
}

static uint64_t bits_d(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static uint32_t bits_f(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

PIXL_TEST(helpers_json_numbers_read_back_exactly)
{
    const double d[] = {0.1, 1.0 / 3.0, -2.5e-310, 1e300, 123456789.123456789, 0.0, -0.0, 5e-324, 0.30000000000000004};
    const float f[] = {0.1f, 1.0f / 3.0f, 3.4028235e38f, 1.17549435e-38f, 1e-45f, -7.25f, 16777217.0f, 0.5f};
    const int nd = (int)(sizeof d / sizeof d[0]), nf = (int)(sizeof f / sizeof f[0]);
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_begin_array(&j, "d");
    for (int i = 0; i < nd; i++) pixl_json_num(&j, NULL, d[i]);
    pixl_json_end_array(&j);
    pixl_json_begin_array(&j, "f");
    for (int i = 0; i < nf; i++) pixl_json_f32(&j, NULL, f[i]);
    pixl_json_end_array(&j);
    pixl_json_num(&j, "nan", NAN);
    pixl_json_f32(&j, "inf", INFINITY);
    pixl_json_num(&j, "minus_inf", -INFINITY);
    pixl_json_int(&j, "big", 9007199254740993LL);
    pixl_json_str(&j, "s", "a \"q\" \\ \n\t\x01 é");
    pixl_json_bool(&j, "yes", 1);
    pixl_json_null(&j, "none");
    pixl_json_begin_object(&j, "empty");
    pixl_json_end_object(&j);
    pixl_json_end_object(&j);
    char *text = pixl_json_finish(&j, "test");
    CHECK(text != NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    CHECK_MSG(root != NULL, "not JSON: %s", text ? text : "(null)");
    if (root) {
        const cJSON *ad = cJSON_GetObjectItem(root, "d"), *af = cJSON_GetObjectItem(root, "f");
        CHECK(cJSON_GetArraySize(ad) == nd && cJSON_GetArraySize(af) == nf);
        for (int i = 0; i < nd; i++) {
            double r = cJSON_GetArrayItem(ad, i)->valuedouble;
            CHECK_MSG(bits_d(r) == bits_d(d[i]), "double %d: %.17g read back as %.17g", i, d[i], r);
        }
        for (int i = 0; i < nf; i++) {
            float r = (float)cJSON_GetArrayItem(af, i)->valuedouble;
            CHECK_MSG(bits_f(r) == bits_f(f[i]), "float %d: %.9g read back as %.9g", i, f[i], r);
        }
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(root, "nan")) && cJSON_IsNull(cJSON_GetObjectItem(root, "inf")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(root, "minus_inf")) && cJSON_IsNull(cJSON_GetObjectItem(root, "none")));
        CHECK(!strcmp(cJSON_GetObjectItem(root, "s")->valuestring, "a \"q\" \\ \n\t\x01 é"));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(root, "yes")));
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(root, "empty")));
    }
    /* integers are printed as integers, floats as their shortest exact form */
    CHECK(text && strstr(text, "9007199254740993") && strstr(text, "\"f\": [0.1, 0.33333334, "));
    cJSON_Delete(root);
    free(text);
    /* an empty writer is an error, not an empty string */
    pixl_json e = {0};
    CHECK(pixl_json_finish(&e, "empty") == NULL && pixl_last_status() == PIXL_ERR_NOMEM);
}

/* the same values in the three layouts: exact text, and the same JSON */
static char *layout_sample(pixl_json_layout layout)
{
    pixl_json j = {0};
    pixl_json_set_layout(&j, layout);
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "a", "x");
    pixl_json_begin_array(&j, "b");
    pixl_json_int(&j, NULL, 1);
    pixl_json_begin_object(&j, NULL);
    pixl_json_num(&j, "c", 0.5);
    pixl_json_end_object(&j);
    pixl_json_begin_array(&j, NULL);
    pixl_json_end_array(&j);
    pixl_json_end_array(&j);
    pixl_json_raw(&j, "r", "{\"k\": [1, 2]}");
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, "layout");
}

PIXL_TEST(helpers_json_layouts)
{
    char *spaced = layout_sample(PIXL_JSON_SPACED), *compact = layout_sample(PIXL_JSON_COMPACT),
         *pretty = layout_sample(PIXL_JSON_PRETTY);
    CHECK(spaced && !strcmp(spaced, "{\"a\": \"x\", \"b\": [1, {\"c\": 0.5}, []], \"r\": {\"k\": [1, 2]}}"));
    CHECK_MSG(compact && !strcmp(compact, "{\"a\":\"x\",\"b\":[1,{\"c\":0.5},[]],\"r\":{\"k\": [1, 2]}}"), "compact: %s",
              compact ? compact : "(null)");
    CHECK_MSG(pretty && !strcmp(pretty, "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    {\n      \"c\": 0.5\n    },\n    []\n  ],\n"
                                        "  \"r\": {\"k\": [1, 2]}\n}"),
              "pretty: %s", pretty ? pretty : "(null)");
    /* the same document in every layout */
    cJSON *a = spaced ? cJSON_Parse(spaced) : NULL, *b = compact ? cJSON_Parse(compact) : NULL,
          *c = pretty ? cJSON_Parse(pretty) : NULL;
    CHECK(a && b && c && cJSON_Compare(a, b, 1) && cJSON_Compare(a, c, 1));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    free(spaced);
    free(compact);
    free(pretty);
    /* finish resets the layout with the rest */
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_PRETTY);
    pixl_json_begin_array(&j, NULL);
    pixl_json_end_array(&j);
    free(pixl_json_finish(&j, "layout"));
    pixl_json_begin_array(&j, NULL);
    pixl_json_int(&j, NULL, 1);
    pixl_json_int(&j, NULL, 2);
    pixl_json_end_array(&j);
    char *t = pixl_json_finish(&j, "layout");
    CHECK(t && !strcmp(t, "[1, 2]"));
    free(t);
}

/* ------------------------------------------------------------ threads */

/* y = x, recording the thread count the kernel sees (pixl's and OpenMP's) */
static int seen_threads_fwd(pixl_tensor *n)
{
    float *y = n->data;
    y[0] = (float)pixl_num_threads();
    y[1] = (float)omp_get_max_threads();
    return PIXL_OK;
}
static const pixl_op_def seen_threads_def = {.name = "seen_threads", .fwd = seen_threads_fwd};

static pixl_ctx *threads_graph(int threads, pixl_tensor **out)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    if (threads) CHECK_OK(pixl_ctx_set_threads(ctx, threads));
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 1, (int64_t[]){2});
    *out = pixl_keep(pixl__node_new(ctx, &seen_threads_def, PIXL_F32, 1, (int64_t[]){2}, &x, 1, NULL, 0));
    CHECK_OK(pixl_ctx_plan(ctx));
    return ctx;
}

typedef struct { int threads, ok; } threads_job;
static void *threads_worker(void *arg)
{
    threads_job *job = arg;
    pixl_tensor *y;
    pixl_ctx *ctx = threads_graph(job->threads, &y);
    job->ok = 1;
    for (int i = 0; i < 200; i++) {
        job->ok &= pixl_forward(ctx) == PIXL_OK;
        const float *v = pixl_tensor_data(y);
        job->ok &= v[0] == job->threads && v[1] == job->threads;
    }
    pixl_ctx_free(ctx);
    return NULL;
}

PIXL_TEST(helpers_threads_belong_to_the_context)
{
    int def = pixl_num_threads();
    pixl_tensor *y;
    pixl_ctx *ctx = threads_graph(3, &y);
    CHECK(pixl_ctx_threads(ctx) == 3);
    CHECK_OK(pixl_forward(ctx));
    CHECK(((float *)pixl_tensor_data(y))[0] == 3 && ((float *)pixl_tensor_data(y))[1] == 3);
    CHECK(pixl_num_threads() == def && omp_get_max_threads() == def); /* restored on return */
    CHECK(pixl_ctx_set_threads(ctx, 2) == PIXL_ERR_STATE);            /* planned: scratch is sized */
    pixl_ctx_free(ctx);

    ctx = threads_graph(0, &y); /* the process default */
    CHECK(pixl_ctx_threads(ctx) == def);
    pixl_ctx_free(ctx);

    /* two contexts with different counts in two threads at once */
    threads_job a = {1, 0}, b = {4, 0};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, threads_worker, &a) == 0);
    CHECK(pthread_create(&tb, NULL, threads_worker, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.ok && b.ok);
    CHECK(pixl_num_threads() == def);
}
