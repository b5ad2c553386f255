/* checkpoint.c — model checkpoints as safetensors: every parameter and
 * buffer of a pixl_params under its (PyTorch state_dict) name, plus string
 * metadata ("format" = "pixl", "pixl_version" and the caller's keys).
 *
 * Loading is all-or-nothing: the file is parsed and validated by the
 * safetensors reader, then every entry of P is matched by name, shape and
 * dtype (and integer buffers converted into a staging copy) before the
 * first value is written into P. Accepted conversions: F32/F64/F16/BF16
 * into f32 entries, I64/I32 into integer buffers (range-checked), and a
 * 0-dim tensor (PyTorch's num_batches_tracked) into a shape-[1] entry.
 * Floating-point values must be finite (no NaN or infinity) unless the
 * caller allows them (PIXL_LOAD_ALLOW_NONFINITE). */
#include <math.h>

#include "pixl_impl.h"

int pixl_checkpoint_save(pixl_params *P, const char *path, int n_meta, const char *const *keys,
                         const char *const *values)
{
    if (!P || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_save: NULL %s", P ? "path" : "params");
    if (n_meta < 0 || (n_meta > 0 && (!keys || !values)))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_save %s: %d metadata entries without keys/values", path,
                              n_meta);
    for (int k = 0; k < n_meta; k++)
        if (!keys[k] || !values[k])
            return pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_save %s: metadata entry %d is NULL", path, k);
    pixl_st_writer *w = pixl_st_writer_new();
    if (!w) return pixl_last_status() ? pixl_last_status() : PIXL_ERR_NOMEM;
    int rc = PIXL_OK;
    for (int i = 0; i < pixl_params_count(P) && !rc; i++)
        rc = pixl_st_writer_add(w, pixl_params_name(P, i), pixl_params_dtype(P, i), pixl_params_ndim(P, i),
                                pixl_params_shape(P, i), pixl_params_data(P, i));
    for (int k = 0; k < n_meta && !rc; k++) rc = pixl_st_writer_meta(w, keys[k], values[k]);
    /* written last so the caller cannot mislabel the file */
    if (!rc) rc = pixl_st_writer_meta(w, "format", "pixl");
    if (!rc) rc = pixl_st_writer_meta(w, "pixl_version", PIXL_VERSION_STRING);
    if (!rc) rc = pixl_st_writer_save(w, path);
    pixl_st_writer_free(w);
    return rc;
}

static int is_float_dtype(const char *d)
{
    return !strcmp(d, "F32") || !strcmp(d, "F64") || !strcmp(d, "F16") || !strcmp(d, "BF16");
}

/* can a file tensor of dtype `fd` be loaded into an entry of dtype `pd`? */
static int dtype_ok(pixl_dtype pd, const char *fd)
{
    switch (pd) {
    case PIXL_F32: return is_float_dtype(fd);
    case PIXL_I64:
    case PIXL_I32: return !strcmp(fd, "I64") || !strcmp(fd, "I32");
    case PIXL_U8: return !strcmp(fd, "U8") || !strcmp(fd, "BOOL");
    }
    return 0;
}

static const char *expected_dtypes(pixl_dtype pd)
{
    switch (pd) {
    case PIXL_F32: return "F32/F64/F16/BF16";
    case PIXL_I64:
    case PIXL_I32: return "I64/I32";
    case PIXL_U8: return "U8/BOOL";
    }
    return "?";
}

/* Non-finite values: a NaN or infinity in a floating-point tensor is an
 * error naming the tensor and the first such element (the tensor's values
 * as they will load, scanned in `scratch`, before P is touched). Shared
 * with the readers of pretrained weights and of optimizer state. */
#define CKPT_HINT "the model is broken (training diverged?): --allow-nonfinite (PIXL_LOAD_ALLOW_NONFINITE) loads it anyway"
int pixl__st_check_finite(const pixl_st_file *f, int j, const char *what, const char *path, const char *name,
                          int64_t numel, float **scratch, int64_t *cap, const char *hint)
{
    if (numel > *cap) {
        float *nb = realloc(*scratch, (size_t)numel * sizeof *nb);
        if (!nb) return pixl_set_error(PIXL_ERR_NOMEM, "%s %s: out of memory reading '%s'", what, path, name);
        *scratch = nb;
        *cap = numel;
    }
    float *v = *scratch;
    pixl_st_read_f32(f, j, v);
    int64_t first = -1, count = 0;
    for (int64_t k = 0; k < numel; k++)
        if (!isfinite(v[k]) && count++ == 0) first = k;
    if (!count) return PIXL_OK;
    const float x = v[first];
    char more[96] = "";
    if (count > 1) snprintf(more, sizeof more, " (%lld of its %lld values are not finite)", (long long)count,
                            (long long)numel);
    return pixl_set_error(PIXL_ERR_FORMAT, "%s %s: tensor '%s' has %s at element %lld%s; %s", what, path, name,
                          isnan(x) ? "a NaN" : x > 0 ? "+Inf" : "-Inf", (long long)first, more, hint);
}

int pixl_checkpoint_load(pixl_params *P, const char *path, int allow_extra)
{
    return pixl_checkpoint_load_ex(P, path, allow_extra ? PIXL_LOAD_ALLOW_EXTRA : 0);
}

int pixl_checkpoint_load_ex(pixl_params *P, const char *path, unsigned flags)
{
    if (!P || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_load: NULL %s", P ? "path" : "params");
    const int allow_extra = (flags & PIXL_LOAD_ALLOW_EXTRA) != 0, allow_nonfinite = (flags & PIXL_LOAD_ALLOW_NONFINITE) != 0;
    float *scratch = NULL; /* the values of one float tensor, scanned for NaN/Inf */
    int64_t scratch_cap = 0;
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return pixl_last_status() ? pixl_last_status() : PIXL_ERR_IO;
    int n = pixl_params_count(P), nf = pixl_st_count(f), rc = PIXL_OK;
    int *src = pixl__calloc((size_t)(n ? n : 1), sizeof *src);      /* file index of entry i */
    void **stage = pixl__calloc((size_t)(n ? n : 1), sizeof *stage); /* converted integer buffers */
    char *used = pixl__calloc((size_t)(nf ? nf : 1), 1);
    char a[128], b[128];
    if (!src || !stage || !used) {
        rc = PIXL_ERR_NOMEM;
        goto done;
    }
    /* 1. match names, shapes and dtypes; convert integer buffers aside */
    for (int i = 0; i < n; i++) {
        const char *name = pixl_params_name(P, i);
        int nd = pixl_params_ndim(P, i);
        const int64_t *sh = pixl_params_shape(P, i);
        pixl_dtype pd = pixl_params_dtype(P, i);
        int j = pixl_st_find(f, name);
        if (j < 0) {
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "checkpoint %s: tensor '%s' (shape %s) is missing", path, name,
                                pixl_shape_str(nd, sh, a, sizeof a));
            goto done;
        }
        used[j] = 1;
        src[i] = j;
        int fnd = pixl_st_ndim(f, j);
        const int64_t *fsh = pixl_st_shape(f, j);
        int same = fnd == nd;
        for (int d = 0; same && d < nd; d++) same = fsh[d] == sh[d];
        if (!same && fnd == 0 && nd == 1 && sh[0] == 1) same = 1; /* PyTorch 0-dim scalar into [1] */
        if (!same) {
            rc = pixl_set_error(PIXL_ERR_SHAPE, "checkpoint %s: tensor '%s' has shape %s in the file, the model has %s",
                                path, name, pixl_shape_str(fnd, fsh, a, sizeof a), pixl_shape_str(nd, sh, b, sizeof b));
            goto done;
        }
        const char *fd = pixl_st_dtype(f, j);
        if (!dtype_ok(pd, fd)) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "checkpoint %s: tensor '%s' is %s in the file, the model needs %s",
                                path, name, fd, expected_dtypes(pd));
            goto done;
        }
        if (pd == PIXL_F32 && !allow_nonfinite &&
            (rc = pixl__st_check_finite(f, j, "checkpoint", path, name, pixl_params_numel(P, i), &scratch, &scratch_cap,
                                        CKPT_HINT)))
            goto done;
        if (pd != PIXL_F32) {
            int64_t numel = pixl_params_numel(P, i);
            stage[i] = pixl__malloc((size_t)numel * pixl_dtype_size(pd));
            if (!stage[i]) {
                rc = pixl_set_error(PIXL_ERR_NOMEM, "checkpoint %s: out of memory reading '%s'", path, name);
                goto done;
            }
            if (pd == PIXL_I64) rc = pixl_st_read_i64(f, j, stage[i]);
            else if (pd == PIXL_I32) rc = pixl_st_read_i32(f, j, stage[i]); /* range-checked */
            else { /* U8/BOOL: one byte per element in the file and in P */
                int64_t *tmp = pixl__malloc((size_t)numel * sizeof *tmp);
                if (!tmp) {
                    rc = pixl_set_error(PIXL_ERR_NOMEM, "checkpoint %s: out of memory reading '%s'", path, name);
                    goto done;
                }
                rc = pixl_st_read_i64(f, j, tmp);
                for (int64_t k = 0; !rc && k < numel; k++) ((unsigned char *)stage[i])[k] = (unsigned char)tmp[k];
                free(tmp);
            }
            if (rc) goto done; /* the reader's message names the file and tensor */
        }
    }
    for (int j = 0; j < nf; j++) {
        if (used[j]) continue;
        const char *name = pixl_st_name(f, j);
        if (pixl_st_find(f, name) != j) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "checkpoint %s: tensor '%s' appears twice in the header", path, name);
            goto done;
        }
        if (!allow_extra) {
            int extra = 0;
            for (int k = j; k < nf; k++) extra += !used[k];
            char more[48] = "";
            if (extra > 1) snprintf(more, sizeof more, " (and %d more)", extra - 1);
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "checkpoint %s: tensor '%s'%s is not in the model", path, name,
                                more);
            goto done;
        }
    }
    /* 2. copy: nothing below can fail */
    for (int i = 0; i < n; i++) {
        pixl_dtype pd = pixl_params_dtype(P, i);
        void *dst = pixl_params_data(P, i);
        int64_t numel = pixl_params_numel(P, i);
        if (pd == PIXL_F32) pixl_st_read_f32(f, src[i], dst);
        else memcpy(dst, stage[i], (size_t)numel * pixl_dtype_size(pd));
    }
done:
    free(scratch);
    for (int i = 0; stage && i < n; i++) free(stage[i]);
    free(stage);
    free(src);
    free(used);
    pixl_st_close(f);
    return rc;
}

char *pixl_checkpoint_meta(const char *path, const char *key)
{
    if (!path || !key) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_meta: NULL %s", path ? "key" : "path");
        return NULL;
    }
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return NULL;
    const char *v = pixl_st_meta(f, key);
    char *r = NULL;
    if (v) {
        size_t len = strlen(v);
        r = pixl__malloc(len + 1);
        if (r) memcpy(r, v, len + 1);
    } else pixl_set_error(PIXL_ERR_NOT_FOUND, "checkpoint %s: no metadata '%s'", path, key);
    pixl_st_close(f);
    return r;
}
