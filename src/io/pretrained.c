/* pretrained.c — initialise part of a model from a checkpoint that covers
 * only some of its tensors (ImageNet backbone weights converted by
 * tools/convert_pth.py --prefix backbone.): pixl_checkpoint_load_subset().
 *
 * The reverse strictness of pixl_checkpoint_load(): every tensor of the FILE
 * must be an entry of P with the same shape (a name or shape the model does
 * not have is an error naming it, so a wrong prefix or backbone cannot pass
 * silently); entries of P that the file lacks keep their values. All or
 * nothing: everything is checked (float tensors scanned for NaN/Inf, integer
 * buffers staged) before the first value is written. */
#include "pixl_impl.h"

static int float_dtype(const char *d)
{
    return !strcmp(d, "F32") || !strcmp(d, "F64") || !strcmp(d, "F16") || !strcmp(d, "BF16");
}

int pixl_checkpoint_load_subset(pixl_params *P, const char *path)
{
    if (!P || !path)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_checkpoint_load_subset: NULL %s", P ? "path" : "params");
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return pixl_last_status() ? pixl_last_status() : PIXL_ERR_IO;
    int nf = pixl_st_count(f), rc = PIXL_OK;
    int *dst = pixl__calloc((size_t)(nf ? nf : 1), sizeof *dst);     /* entry of P for file tensor j */
    void **stage = pixl__calloc((size_t)(nf ? nf : 1), sizeof *stage); /* integer buffers, converted */
    char a[128], b[128];
    float *scratch = NULL; /* one float tensor's values, scanned for NaN/Inf before anything is written */
    int64_t scratch_cap = 0;
    if (!dst || !stage) {
        rc = PIXL_ERR_NOMEM;
        goto done;
    }
    if (nf == 0) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "checkpoint %s holds no tensors", path);
        goto done;
    }
    for (int j = 0; j < nf; j++) {
        const char *name = pixl_st_name(f, j), *fd = pixl_st_dtype(f, j);
        int i = pixl_params_find(P, name);
        int fnd = pixl_st_ndim(f, j);
        const int64_t *fsh = pixl_st_shape(f, j);
        if (i < 0) {
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND,
                                "checkpoint %s: tensor '%s' (shape %s) is not in the model (wrong --prefix or "
                                "architecture?)",
                                path, name, pixl_shape_str(fnd, fsh, a, sizeof a));
            goto done;
        }
        dst[j] = i;
        int nd = pixl_params_ndim(P, i);
        const int64_t *sh = pixl_params_shape(P, i);
        int same = fnd == nd;
        for (int d = 0; same && d < nd; d++) same = fsh[d] == sh[d];
        if (!same && fnd == 0 && nd == 1 && sh[0] == 1) same = 1; /* PyTorch's 0-dim num_batches_tracked */
        if (!same) {
            rc = pixl_set_error(PIXL_ERR_SHAPE, "checkpoint %s: tensor '%s' has shape %s in the file, the model has %s",
                                path, name, pixl_shape_str(fnd, fsh, a, sizeof a), pixl_shape_str(nd, sh, b, sizeof b));
            goto done;
        }
        pixl_dtype pd = pixl_params_dtype(P, i);
        int ok = pd == PIXL_F32 ? float_dtype(fd)
                 : (pd == PIXL_I64 || pd == PIXL_I32) ? (!strcmp(fd, "I64") || !strcmp(fd, "I32"))
                                                      : 0;
        if (!ok) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "checkpoint %s: tensor '%s' is %s in the file, the model's is %s",
                                path, name, fd, pixl_dtype_name(pd));
            goto done;
        }
        if (pd == PIXL_F32 &&
            (rc = pixl__st_check_finite(f, j, "pretrained weights", path, name, pixl_params_numel(P, i), &scratch,
                                        &scratch_cap, "the file is broken; the model keeps its initial values")))
            goto done;
        if (pd != PIXL_F32) {
            int64_t n = pixl_params_numel(P, i);
            stage[j] = pixl__malloc((size_t)n * pixl_dtype_size(pd));
            if (!stage[j]) {
                rc = PIXL_ERR_NOMEM;
                goto done;
            }
            rc = pd == PIXL_I64 ? pixl_st_read_i64(f, j, stage[j]) : pixl_st_read_i32(f, j, stage[j]);
            if (rc) goto done;
        }
    }
    for (int j = 0; j < nf; j++) { /* nothing below fails */
        int i = dst[j];
        pixl_dtype pd = pixl_params_dtype(P, i);
        if (pd == PIXL_F32) pixl_st_read_f32(f, j, pixl_params_data(P, i));
        else memcpy(pixl_params_data(P, i), stage[j], (size_t)pixl_params_numel(P, i) * pixl_dtype_size(pd));
    }
    rc = nf;
done:
    free(scratch);
    for (int j = 0; stage && j < nf; j++) free(stage[j]);
    free(stage);
    free(dst);
    pixl_st_close(f);
    return rc;
}
