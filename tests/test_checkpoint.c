/* test_checkpoint.c — model checkpoints: save/load round trip with metadata;
 * every load error (missing/extra/mis-shaped/wrong-dtype tensors, truncated
 * files, corrupt headers, bad data offsets) names the tensor or file and
 * leaves the params unchanged; a failed save leaves the previous file
 * byte-identical; PyTorch state_dicts (0-dim num_batches_tracked, F64/F16/
 * BF16/I32 tensors) load into pixl's names and shapes. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pixl_impl.h" /* pixl__fail_alloc_after */
#include "pixl_models.h"
#include "test.h"

/* conv + batch norm + an int32 buffer, named as PyTorch would */
static pixl_params *model(uint64_t seed)
{
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, seed);
    int64_t w[4] = {4, 3, 3, 3}, c[1] = {4}, one[1] = {1}, three[1] = {3};
    pixl_init_spec u = {PIXL_INIT_UNIFORM, -1, 1};
    pixl_params_add(P, "enc.0.weight", PIXL_PARAM, PIXL_F32, 4, w, u);
    pixl_params_add(P, "enc.0.bias", PIXL_PARAM, PIXL_F32, 1, c, u);
    pixl_params_add(P, "enc.1.weight", PIXL_PARAM, PIXL_F32, 1, c, u);
    pixl_params_add(P, "enc.1.bias", PIXL_PARAM, PIXL_F32, 1, c, u);
    pixl_params_add(P, "enc.1.running_mean", PIXL_BUFFER, PIXL_F32, 1, c, u);
    pixl_params_add(P, "enc.1.running_var", PIXL_BUFFER, PIXL_F32, 1, c, (pixl_init_spec){PIXL_INIT_UNIFORM, 1, 2});
    pixl_params_add(P, "enc.1.num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, one,
                    (pixl_init_spec){PIXL_INIT_CONST, (float)(seed % 100), 0});
    pixl_params_add(P, "lut", PIXL_BUFFER, PIXL_I32, 1, three, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
    int32_t *l = pixl_params_data(P, pixl_params_find(P, "lut"));
    for (int i = 0; i < 3; i++) l[i] = (int32_t)(seed * 10 + (uint64_t)i);
    return P;
}

/* all values of P as bytes (entries concatenated) */
static unsigned char *snapshot(pixl_params *P, size_t *len)
{
    size_t n = 0;
    for (int i = 0; i < pixl_params_count(P); i++)
        n += (size_t)pixl_params_numel(P, i) * pixl_dtype_size(pixl_params_dtype(P, i));
    unsigned char *s = malloc(n ? n : 1), *p = s;
    for (int i = 0; i < pixl_params_count(P); i++) {
        size_t b = (size_t)pixl_params_numel(P, i) * pixl_dtype_size(pixl_params_dtype(P, i));
        memcpy(p, pixl_params_data(P, i), b);
        p += b;
    }
    *len = n;
    return s;
}

static int same_values(pixl_params *P, const unsigned char *snap, size_t len)
{
    size_t n;
    unsigned char *now = snapshot(P, &n);
    int same = n == len && !memcmp(now, snap, n);
    free(now);
    return same;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}

/* a safetensors file from a header and data; hl = header length to claim (0 = real) */
static void write_st(const char *path, const char *header, const void *data, size_t ndata, uint64_t hl)
{
    size_t h = strlen(header);
    unsigned char *b = malloc(8 + h + ndata + 1);
    if (!hl) hl = h;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + 8, header, h);
    if (ndata) memcpy(b + 8 + h, data, ndata);
    write_all(path, b, 8 + h + ndata);
    free(b);
}

/* entries of dir whose name starts with prefix */
static int temp_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", pixl_test_tmpdir(), name);
    return b;
}

/* expects a failing load that names `what` and leaves P as in snap */
#define CHECK_LOAD_FAILS(P, path, allow, what, snap, len)                                                   \
    do {                                                                                                    \
        int rc__ = pixl_checkpoint_load(P, path, allow);                                                   \
        CHECK_MSG(rc__ < 0, "load of %s succeeded", path);                                                  \
        CHECK_MSG(strstr(pixl_last_error(), what) != NULL, "error '%s' does not name '%s'", pixl_last_error(), \
                  what);                                                                                    \
        CHECK_MSG(same_values(P, snap, len), "P changed by the failed load of %s", path);                   \
    } while (0)

PIXL_TEST(checkpoint_round_trip)
{
    const char *path = tmp("ck_round.safetensors");
    pixl_params *P = model(3), *Q = model(4);
    const char *keys[2] = {"epoch", "arch"}, *vals[2] = {"12", "unet"};
    CHECK_OK(pixl_checkpoint_save(P, path, 2, keys, vals));
    size_t n;
    unsigned char *sp = snapshot(P, &n);
    CHECK(!same_values(Q, sp, n));
    CHECK_OK(pixl_checkpoint_load(Q, path, 0));
    CHECK_MSG(same_values(Q, sp, n), "loaded values differ from the saved ones");
    CHECK(((int64_t *)pixl_params_data(Q, pixl_params_find(Q, "enc.1.num_batches_tracked")))[0] == 3);
    char *m = pixl_checkpoint_meta(path, "epoch");
    CHECK(m && !strcmp(m, "12"));
    free(m);
    m = pixl_checkpoint_meta(path, "arch");
    CHECK(m && !strcmp(m, "unet"));
    free(m);
    m = pixl_checkpoint_meta(path, "format");
    CHECK(m && !strcmp(m, "pixl"));
    free(m);
    m = pixl_checkpoint_meta(path, "pixl_version");
    CHECK(m && !strcmp(m, PIXL_VERSION_STRING));
    free(m);
    CHECK(pixl_checkpoint_meta(path, "nope") == NULL);
    CHECK(pixl_checkpoint_meta(tmp("no_such_file"), "epoch") == NULL);
    CHECK(strstr(pixl_last_error(), "no_such_file") != NULL);
    /* stored dtypes: F32 params, I64/I32 buffers as they are */
    pixl_st_file *f = pixl_st_open(path);
    CHECK(f && pixl_st_count(f) == pixl_params_count(P));
    if (f) {
        CHECK(!strcmp(pixl_st_dtype(f, pixl_st_find(f, "enc.0.weight")), "F32"));
        CHECK(!strcmp(pixl_st_dtype(f, pixl_st_find(f, "enc.1.num_batches_tracked")), "I64"));
        CHECK(!strcmp(pixl_st_dtype(f, pixl_st_find(f, "lut")), "I32"));
        pixl_st_close(f);
    }
    /* saving without metadata, and an empty model */
    CHECK_OK(pixl_checkpoint_save(P, path, 0, NULL, NULL));
    pixl_params *E = pixl_params_new();
    CHECK_OK(pixl_checkpoint_load(E, path, 1));
    CHECK(pixl_checkpoint_load(E, path, 0) == PIXL_ERR_NOT_FOUND);
    CHECK(pixl_checkpoint_save(P, path, 1, NULL, NULL) == PIXL_ERR_ARG);
    free(sp);
    pixl_params_free(E);
    pixl_params_free(P);
    pixl_params_free(Q);
}

PIXL_TEST(checkpoint_load_mismatches)
{
    const char *path = tmp("ck_mis.safetensors");
    pixl_params *P = model(5);
    CHECK_OK(pixl_checkpoint_save(P, path, 0, NULL, NULL));
    size_t n;

    /* missing tensor: the model has one the file lacks */
    pixl_params *Q = model(6);
    int64_t s2[1] = {2};
    pixl_params_add(Q, "head.bias", PIXL_PARAM, PIXL_F32, 1, s2, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    unsigned char *sq = snapshot(Q, &n);
    CHECK_LOAD_FAILS(Q, path, 0, "head.bias", sq, n);
    CHECK(pixl_last_status() == PIXL_ERR_NOT_FOUND);
    CHECK_LOAD_FAILS(Q, path, 1, "head.bias", sq, n);
    free(sq);
    pixl_params_free(Q);

    /* extra tensor: the file has one the model lacks */
    Q = pixl_params_new();
    int64_t c[1] = {4};
    pixl_params_add(Q, "enc.0.bias", PIXL_PARAM, PIXL_F32, 1, c, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    sq = snapshot(Q, &n);
    CHECK_LOAD_FAILS(Q, path, 0, "enc.0.weight", sq, n);
    CHECK(pixl_last_status() == PIXL_ERR_NOT_FOUND);
    CHECK_OK(pixl_checkpoint_load(Q, path, 1)); /* allow_extra */
    CHECK(!memcmp(pixl_params_data(Q, 0), pixl_params_data(P, pixl_params_find(P, "enc.0.bias")), 16));
    free(sq);
    pixl_params_free(Q);

    /* mis-shaped tensor */
    Q = pixl_params_new();
    int64_t w[4] = {4, 3, 5, 5};
    pixl_params_add(Q, "enc.0.weight", PIXL_PARAM, PIXL_F32, 4, w, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    sq = snapshot(Q, &n);
    CHECK_LOAD_FAILS(Q, path, 1, "enc.0.weight", sq, n);
    CHECK(pixl_last_status() == PIXL_ERR_SHAPE);
    CHECK_MSG(strstr(pixl_last_error(), "[4, 3, 3, 3]") && strstr(pixl_last_error(), "[4, 3, 5, 5]"),
              "error does not show both shapes: %s", pixl_last_error());
    free(sq);
    pixl_params_free(Q);

    /* a shape-[1] buffer accepts a 0-dim tensor, not a [2] one */
    Q = model(7);
    const char *bad = tmp("ck_shape2.safetensors");
    {
        pixl_params *R = model(8);
        /* replace num_batches_tracked by a [2] tensor: rebuild the file by hand */
        int64_t v[2] = {1, 2};
        char h[256];
        snprintf(h, sizeof h, "%s",
                 "{\"enc.1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}");
        write_st(bad, h, v, 16, 0);
        pixl_params_free(R);
    }
    pixl_params *B = pixl_params_new();
    int64_t one[1] = {1};
    pixl_params_add(B, "enc.1.num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, one,
                    (pixl_init_spec){PIXL_INIT_CONST, 5, 0});
    sq = snapshot(B, &n);
    CHECK_LOAD_FAILS(B, bad, 0, "enc.1.num_batches_tracked", sq, n);
    free(sq);

    /* wrong dtypes: float file tensor into an int buffer, int into a float param */
    {
        float v = 2.0f;
        write_st(bad, "{\"enc.1.num_batches_tracked\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", &v, 4,
                 0);
        sq = snapshot(B, &n);
        CHECK_LOAD_FAILS(B, bad, 0, "enc.1.num_batches_tracked", sq, n);
        CHECK(pixl_last_status() == PIXL_ERR_FORMAT);
        CHECK(strstr(pixl_last_error(), "F32") != NULL);
        free(sq);
        pixl_params *F = pixl_params_new();
        pixl_params_add(F, "enc.1.num_batches_tracked", PIXL_PARAM, PIXL_F32, 1, one,
                        (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
        int64_t iv = 3;
        write_st(bad, "{\"enc.1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", &iv,
                 8, 0);
        sq = snapshot(F, &n);
        CHECK_LOAD_FAILS(F, bad, 0, "enc.1.num_batches_tracked", sq, n);
        free(sq);
        pixl_params_free(F);
        /* an int64 that does not fit an int32 buffer, after another tensor
         * that would load fine: nothing may be copied */
        pixl_params *I = pixl_params_new();
        pixl_params_add(I, "a", PIXL_PARAM, PIXL_F32, 1, one, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
        pixl_params_add(I, "lut", PIXL_BUFFER, PIXL_I32, 1, one, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
        unsigned char d[12];
        float fv = 7.0f;
        int64_t big = (int64_t)1 << 40;
        memcpy(d, &fv, 4);
        memcpy(d + 4, &big, 8);
        write_st(bad,
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"lut\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]}}",
                 d, 12, 0);
        sq = snapshot(I, &n);
        CHECK_LOAD_FAILS(I, bad, 0, "lut", sq, n);
        free(sq);
        pixl_params_free(I);
    }
    /* the same name twice in a header */
    {
        float v[2] = {1, 2};
        write_st(bad,
                 "{\"enc.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"enc.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 v, 8, 0);
        pixl_params *D = pixl_params_new();
        pixl_params_add(D, "enc.0.bias", PIXL_PARAM, PIXL_F32, 1, one, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
        sq = snapshot(D, &n);
        CHECK_LOAD_FAILS(D, bad, 1, "enc.0.bias", sq, n);
        free(sq);
        pixl_params_free(D);
    }
    pixl_params_free(B);
    pixl_params_free(Q);
    pixl_params_free(P);
}

PIXL_TEST(checkpoint_corrupt_files)
{
    const char *good = tmp("ck_good.safetensors"), *bad = tmp("ck_bad.safetensors");
    pixl_params *P = model(9);
    CHECK_OK(pixl_checkpoint_save(P, good, 1, (const char *const[]){"k"}, (const char *const[]){"v"}));
    pixl_params *Q = model(10);
    size_t n, fsize;
    unsigned char *sq = snapshot(Q, &n), *file = read_all(good, &fsize);
    CHECK(file != NULL && fsize > 64);
    if (!file) return;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | file[i];
    CHECK(8 + hl < fsize);

    /* truncated: inside the length, inside the header, at the end of the
     * header, inside the data, one byte short */
    size_t cuts[] = {0, 3, 8, 8 + 5, 8 + (size_t)hl / 2, 8 + (size_t)hl - 1, 8 + (size_t)hl,
                     8 + (size_t)hl + 10, (8 + (size_t)hl + fsize) / 2, fsize - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        write_all(bad, file, cuts[k]);
        CHECK_LOAD_FAILS(Q, bad, 0, bad, sq, n);
        CHECK_LOAD_FAILS(Q, bad, 1, bad, sq, n);
    }
    /* header JSON corrupted */
    unsigned char *c = malloc(fsize);
    memcpy(c, file, fsize);
    c[8] = '[';
    write_all(bad, c, fsize);
    CHECK_LOAD_FAILS(Q, bad, 0, bad, sq, n);
    memcpy(c, file, fsize);
    for (size_t i = 8; i < 8 + hl; i++)
        if (c[i] == ':') {
            c[i] = ';';
            break;
        }
    write_all(bad, c, fsize);
    CHECK_LOAD_FAILS(Q, bad, 0, bad, sq, n);
    /* header length larger than the file, and absurdly large */
    uint64_t lens[2] = {(uint64_t)fsize, UINT64_MAX};
    for (int k = 0; k < 2; k++) {
        memcpy(c, file, fsize);
        for (int i = 0; i < 8; i++) c[i] = (unsigned char)(lens[k] >> (8 * i));
        write_all(bad, c, fsize);
        CHECK_LOAD_FAILS(Q, bad, 0, bad, sq, n);
    }
    free(c);
    free(file);

    /* hand-made headers for one-tensor models */
    pixl_params *T = pixl_params_new();
    int64_t s2[1] = {2};
    pixl_params_add(T, "w", PIXL_PARAM, PIXL_F32, 1, s2, (pixl_init_spec){PIXL_INIT_CONST, 3, 0});
    pixl_params_add(T, "v", PIXL_PARAM, PIXL_F32, 1, s2, (pixl_init_spec){PIXL_INIT_CONST, 4, 0});
    size_t tn;
    unsigned char *st = snapshot(T, &tn);
    float d[4] = {1, 2, 3, 4};
    const char *H_ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    write_st(bad, H_ok, d, 16, 0);
    CHECK_OK(pixl_checkpoint_load(T, bad, 0)); /* the helper itself makes valid files */
    CHECK(((float *)pixl_params_data(T, 1))[1] == 4.0f);
    memcpy(pixl_params_data(T, 0), st, 8);
    memcpy(pixl_params_data(T, 1), st + 8, 8);
    struct {
        const char *header, *names;
    } cases[] = {
        /* data_offsets past the data */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", "'v'"},
        /* negative / reversed offsets */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'w'"},
        /* overlapping */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "'v'"},
        /* size does not match shape */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,16]}}", "'v'"},
        /* unknown dtype, missing fields, non-integer shape */
        {"{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'w'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'w'"},
        /* metadata that is not string to string */
        {"{\"__metadata__\":{\"epoch\":3},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "epoch"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_st(bad, cases[k].header, d, 16, 0);
        int rc = pixl_checkpoint_load(T, bad, 0);
        CHECK_MSG(rc < 0, "case %zu loaded", k);
        CHECK_MSG(strstr(pixl_last_error(), bad) && strstr(pixl_last_error(), cases[k].names),
                  "case %zu: error '%s' does not name the file and %s", k, pixl_last_error(), cases[k].names);
        CHECK_MSG(same_values(T, st, tn), "case %zu: P changed", k);
    }
    free(st);
    free(sq);
    pixl_params_free(T);
    pixl_params_free(P);
    pixl_params_free(Q);
}

PIXL_TEST(checkpoint_failed_save_keeps_old_file)
{
    const char *path = tmp("ck_keep.safetensors");
    pixl_params *P = model(11);
    CHECK_OK(pixl_checkpoint_save(P, path, 0, NULL, NULL));
    size_t n0 = 0, n1 = 0;
    unsigned char *old = read_all(path, &n0);
    /* a different model state to save over it */
    int64_t nv;
    float *v = pixl_params_data_flat(P, &nv);
    for (int64_t i = 0; i < nv; i++) v[i] += 1.0f;

    /* allocation failures at every point of the save until one succeeds */
    int failures = 0;
    for (long k = 1; k < 200; k++) {
        pixl__fail_alloc_after(k);
        int rc = pixl_checkpoint_save(P, path, 1, (const char *const[]){"epoch"}, (const char *const[]){"2"});
        pixl__fail_alloc_after(0);
        if (rc == PIXL_OK) break;
        failures++;
        unsigned char *now = read_all(path, &n1);
        CHECK_MSG(now && n1 == n0 && !memcmp(now, old, n0), "failure %ld changed the old checkpoint", k);
        free(now);
        CHECK_MSG(temp_files(pixl_test_tmpdir(), "ck_keep.safetensors.tmp") == 0, "failure %ld left a temporary file", k);
    }
    CHECK(failures >= 3); /* at least: writer, tensor copy, mid-write */
    unsigned char *now = read_all(path, &n1);
    CHECK(now && (n1 != n0 || memcmp(now, old, n0))); /* the successful save replaced it */
    free(now);
    char *m = pixl_checkpoint_meta(path, "epoch");
    CHECK(m && !strcmp(m, "2"));
    free(m);

    /* the rename fails (a non-empty folder is in the way): no temporary file stays */
    char dirpath[600], inner[700];
    snprintf(dirpath, sizeof dirpath, "%s/ck_dir.safetensors", pixl_test_tmpdir());
    snprintf(inner, sizeof inner, "%s/keep", dirpath);
    CHECK(mkdir(dirpath, 0700) == 0);
    write_all(inner, "x", 1);
    int rc = pixl_checkpoint_save(P, dirpath, 0, NULL, NULL);
    CHECK(rc == PIXL_ERR_IO);
    CHECK_MSG(strstr(pixl_last_error(), dirpath) != NULL, "error does not name the file: %s", pixl_last_error());
    CHECK(temp_files(pixl_test_tmpdir(), "ck_dir.safetensors.tmp") == 0);
    unlink(inner);
    rmdir(dirpath);

    /* a directory that does not exist */
    const char *nodir = tmp("no/such/dir/ck.safetensors");
    CHECK(pixl_checkpoint_save(P, nodir, 0, NULL, NULL) == PIXL_ERR_IO);
    CHECK(strstr(pixl_last_error(), "no/such/dir") != NULL);
    free(old);
    pixl_params_free(P);
}

/* nn.Sequential(Conv2d(3, 4, 3), BatchNorm2d(4)) written by PyTorch: the
 * params are made under pixl_nn_conv2d / pixl_nn_batch_norm2d's names,
 * dtypes and shapes ("0.weight" ..., num_batches_tracked I64 [1]). */
static pixl_params *torch_seq_params(void)
{
    pixl_params *P = pixl_params_new();
    int64_t w[4] = {4, 3, 3, 3}, c[1] = {4}, one[1] = {1};
    pixl_init_spec z = {PIXL_INIT_ZEROS, 0, 0};
    pixl_params_add(P, "0.weight", PIXL_PARAM, PIXL_F32, 4, w, z);
    pixl_params_add(P, "0.bias", PIXL_PARAM, PIXL_F32, 1, c, z);
    pixl_params_add(P, "1.weight", PIXL_PARAM, PIXL_F32, 1, c, z);
    pixl_params_add(P, "1.bias", PIXL_PARAM, PIXL_F32, 1, c, z);
    pixl_params_add(P, "1.running_mean", PIXL_BUFFER, PIXL_F32, 1, c, z);
    pixl_params_add(P, "1.running_var", PIXL_BUFFER, PIXL_F32, 1, c, z);
    pixl_params_add(P, "1.num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, one, (pixl_init_spec){PIXL_INIT_CONST, 0, 0});
    return P;
}

PIXL_TEST(checkpoint_loads_pytorch_state_dict)
{
    const char *ref = "tests/ref/optim/torch_state_dict.safetensors";
    const char *mixed = "tests/ref/optim/torch_state_dict_mixed.safetensors";
    pixl_st_file *f = pixl_st_open(ref);
    CHECK_MSG(f != NULL, "%s (run from the repo root)", pixl_last_error());
    if (!f) return;
    CHECK(pixl_st_ndim(f, pixl_st_find(f, "1.num_batches_tracked")) == 0);
    pixl_params *P = torch_seq_params();
    CHECK_OK(pixl_checkpoint_load(P, ref, 0));
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *name = pixl_params_name(P, i);
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        int j = pixl_st_find(f, name);
        float want[108];
        CHECK(j >= 0 && pixl_st_numel(f, j) == pixl_params_numel(P, i));
        if (j < 0) continue;
        pixl_st_read_f32(f, j, want);
        CHECK_ALLCLOSE(name, pixl_params_data(P, i), want, pixl_params_numel(P, i), 0, 0);
    }
    int inb = pixl_params_find(P, "1.num_batches_tracked");
    CHECK(((int64_t *)pixl_params_data(P, inb))[0] == 2);
    float rv = ((float *)pixl_params_data(P, pixl_params_find(P, "1.running_var")))[0];
    CHECK(rv > 0 && rv != 1.0f); /* updated statistics, not the initial ones */

    /* the same state_dict with F64 / F16 / BF16 / I32 tensors */
    pixl_params *Q = torch_seq_params();
    CHECK_OK(pixl_checkpoint_load(Q, mixed, 0));
    struct { const char *name; double rtol; } tol[] = {
        {"0.weight", 1e-7}, {"0.bias", 1e-3}, {"1.weight", 8e-3}, {"1.bias", 0}, {"1.running_mean", 0},
        {"1.running_var", 1e-7}};
    for (size_t k = 0; k < sizeof tol / sizeof tol[0]; k++) {
        int i = pixl_params_find(Q, tol[k].name), j = pixl_params_find(P, tol[k].name);
        CHECK_ALLCLOSE(tol[k].name, pixl_params_data(Q, i), pixl_params_data(P, j), pixl_params_numel(P, j),
                       tol[k].rtol, 1e-6 * (tol[k].rtol > 0));
    }
    CHECK(((int64_t *)pixl_params_data(Q, inb))[0] == 2);
    /* and back: pixl's checkpoint of it keeps the names */
    const char *out = tmp("ck_torch.safetensors");
    CHECK_OK(pixl_checkpoint_save(P, out, 0, NULL, NULL));
    pixl_params *R = torch_seq_params();
    CHECK_OK(pixl_checkpoint_load(R, out, 0));
    size_t n;
    unsigned char *sp = snapshot(P, &n);
    CHECK(same_values(R, sp, n));
    free(sp);
    pixl_st_close(f);
    pixl_params_free(P);
    pixl_params_free(Q);
    pixl_params_free(R);
}

/* the header the writer puts in a file: {"__metadata__": {...}, tensors in
 * the order added}, compact JSON padded with spaces to 8 bytes; *len its length */
static char *header_of(const char *path, size_t *len)
{
    size_t n = 0;
    unsigned char *b = read_all(path, &n);
    if (!b || n < 8) {
        free(b);
        return NULL;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    char *h = hl <= n - 8 ? malloc(hl + 1) : NULL;
    if (h) {
        memcpy(h, b + 8, hl);
        h[hl] = 0;
        *len = hl;
    }
    free(b);
    return h;
}

PIXL_TEST(checkpoint_header_is_safetensors_json)
{
    const char *path = tmp("hdr.safetensors");
    pixl_st_writer *w = pixl_st_writer_new();
    float f[6] = {1, 2, 3, 4, 5, 6}, one = 7;
    int64_t l[2] = {-7, 1LL << 40}, s23[2] = {2, 3}, s2[1] = {2}, big0[2] = {1LL << 40, 0};
    uint8_t u[3] = {1, 2, 3};
    int64_t s3[1] = {3};
    CHECK_OK(pixl_st_writer_add(w, "enc.0.weight", PIXL_F32, 2, s23, f));
    CHECK_OK(pixl_st_writer_add(w, "idx", PIXL_I64, 1, s2, l));
    CHECK_OK(pixl_st_writer_add(w, "scalar", PIXL_F32, 0, NULL, &one));
    CHECK_OK(pixl_st_writer_add(w, "empty \"q\"", PIXL_F32, 2, big0, NULL));
    CHECK_OK(pixl_st_writer_add(w, "u", PIXL_U8, 1, s3, u));
    CHECK_OK(pixl_st_writer_meta(w, "epoch", "1"));
    CHECK_OK(pixl_st_writer_meta(w, "names", "[\"a \\\"b\\\"\",\"é\"]"));
    CHECK_OK(pixl_st_writer_meta(w, "note", "line\nbreak\t\x01 \"quoted\" \\"));
    CHECK_OK(pixl_st_writer_meta(w, "epoch", "2")); /* replaced: moves to the end, as before */
    CHECK_OK(pixl_st_writer_save(w, path));
    pixl_st_writer_free(w);

    size_t hl = 0;
    char *h = header_of(path, &hl);
    CHECK(h && hl % 8 == 0);
    if (!h) return;
    cJSON *j = cJSON_Parse(h);
    CHECK_MSG(cJSON_IsObject(j), "header is not a JSON object: %s", h);
    if (!j) {
        free(h);
        return;
    }
    /* the same bytes as a compact print of the parsed header, then spaces */
    char *again = cJSON_PrintUnformatted(j);
    size_t al = again ? strlen(again) : 0;
    CHECK_MSG(again && al <= hl && !memcmp(h, again, al), "header is not compact JSON: %s", h);
    for (size_t i = al; i < hl; i++) CHECK(h[i] == ' ');
    free(again);
    /* keys in order: __metadata__, then the tensors as added */
    const char *order[] = {"__metadata__", "enc.0.weight", "idx", "scalar", "empty \"q\"", "u"};
    int k = 0;
    for (const cJSON *it = j->child; it; it = it->next, k++)
        CHECK_MSG(k < 6 && !strcmp(it->string, order[k]), "header key %d is '%s'", k, it->string);
    CHECK(k == 6);
    /* metadata: string values, the replaced key last */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "__metadata__");
    const char *mk[] = {"names", "note", "epoch"}, *mv[] = {"[\"a \\\"b\\\"\",\"é\"]", "line\nbreak\t\x01 \"quoted\" \\", "2"};
    k = 0;
    for (const cJSON *it = m ? m->child : NULL; it; it = it->next, k++)
        CHECK_MSG(k < 3 && !strcmp(it->string, mk[k]) && cJSON_IsString(it) && !strcmp(it->valuestring, mv[k]),
                  "metadata %d: '%s'", k, it->string);
    CHECK(k == 3);
    /* dtype, shape and data_offsets: integers, back to back */
    const char *dt[] = {"F32", "I64", "F32", "F32", "U8"};
    const int nd[] = {2, 1, 0, 2, 1};
    const int64_t sh[][2] = {{2, 3}, {2, 0}, {0, 0}, {1LL << 40, 0}, {3, 0}}, ofs[] = {0, 24, 40, 44, 44, 47};
    for (int t = 0; t < 5; t++) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, order[t + 1]);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *s = cJSON_GetObjectItemCaseSensitive(e, "shape"),
                    *o = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        CHECK_MSG(cJSON_IsString(d) && !strcmp(d->valuestring, dt[t]), "tensor %s dtype", order[t + 1]);
        CHECK(cJSON_IsArray(s) && cJSON_GetArraySize(s) == nd[t] && cJSON_GetArraySize(e) == 3);
        for (int i = 0; i < nd[t]; i++) CHECK((int64_t)cJSON_GetArrayItem(s, i)->valuedouble == sh[t][i]);
        CHECK(cJSON_IsArray(o) && cJSON_GetArraySize(o) == 2);
        if (cJSON_GetArraySize(o) == 2)
            CHECK_MSG((int64_t)cJSON_GetArrayItem(o, 0)->valuedouble == ofs[t] &&
                          (int64_t)cJSON_GetArrayItem(o, 1)->valuedouble == ofs[t + 1],
                      "tensor %s data_offsets", order[t + 1]);
    }
    CHECK(strstr(h, "\"shape\":[1099511627776,0]") != NULL); /* large integers exactly, no exponent */
    cJSON_Delete(j);
    free(h);
    /* and pixl reads it back */
    pixl_st_file *r = pixl_st_open(path);
    CHECK(r && pixl_st_count(r) == 5 && !strcmp(pixl_st_meta(r, "note"), mv[1]) && !strcmp(pixl_st_meta(r, "epoch"), "2"));
    if (r) {
        int64_t li[2];
        CHECK_OK(pixl_st_read_i64(r, pixl_st_find(r, "idx"), li));
        CHECK(li[0] == -7 && li[1] == 1LL << 40);
        CHECK(pixl_st_find(r, "empty \"q\"") >= 0 && pixl_st_ndim(r, pixl_st_find(r, "scalar")) == 0);
    }
    pixl_st_close(r);
}

/* a model's class names and colours go into the metadata as compact JSON
 * arrays and come back as they were */
PIXL_TEST(checkpoint_model_classes_round_trip)
{
    const char *path = tmp("classes.safetensors");
    const char *names[3] = {"sky", "a \"quoted\" \\ name", "café"};
    const uint8_t colours[9] = {128, 128, 128, 0, 255, 7, 64, 0, 128};
    pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 3, .width = 0.25f}, 1);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_OK(pixl_model_set_classes(m, names, colours));
    CHECK_OK(pixl_model_save(m, path, 1, (const char *const[]){"epoch"}, (const char *const[]){"4"}));
    pixl_model_free(m);
    pixl_st_file *f = pixl_st_open(path);
    CHECK(f != NULL);
    if (f) {
        CHECK_MSG(!strcmp(pixl_st_meta(f, "class_names"), "[\"sky\",\"a \\\"quoted\\\" \\\\ name\",\"café\"]"), "%s",
                  pixl_st_meta(f, "class_names"));
        CHECK_MSG(!strcmp(pixl_st_meta(f, "class_colours"), "[128,128,128,0,255,7,64,0,128]"), "%s",
                  pixl_st_meta(f, "class_colours"));
        CHECK(!strcmp(pixl_st_meta(f, "epoch"), "4") && !strcmp(pixl_st_meta(f, "arch"), "unet"));
    }
    pixl_st_close(f);
    pixl_model *l = pixl_model_load(path);
    CHECK(l != NULL);
    if (!l) return;
    for (int k = 0; k < 3; k++) CHECK(!strcmp(pixl_model_class_name(l, k), names[k]));
    CHECK(pixl_model_colours(l) && !memcmp(pixl_model_colours(l), colours, 9));
    pixl_model_free(l);
}
