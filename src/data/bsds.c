/* bsds.c — BSDS500 ground truth: the per-annotator boundary maps of a
 * groundTruth/<split>/<id>.mat file (MATLAB v5, compressed), read with
 * libmatio, and the training targets derived from them. */
#include <matio.h>

#include "data/dataset_impl.h"

/* a struct whose fields libmatio can look up: it indexes the field names and
 * the data without checking them, and a corrupt file leaves them NULL or short */
static int struct_ok(matvar_t *v)
{
    if (!v || v->class_type != MAT_C_STRUCT || !v->data || v->rank < 1) return 0;
    unsigned nf = Mat_VarGetNumberOfFields(v);
    char *const *names = Mat_VarGetStructFieldnames(v);
    if (!nf || !names) return 0;
    for (unsigned k = 0; k < nf; k++)
        if (!names[k]) return 0;
    size_t nel = 1;
    for (int d = 0; d < v->rank; d++) nel *= v->dims[d];
    return nel >= 1 && v->nbytes / nf / sizeof(matvar_t *) >= nel;
}

int pixl__bsds_read_mat(const char *path, uint8_t **maps, int *n_maps, int *width, int *height)
{
    *maps = NULL;
    *n_maps = *width = *height = 0;
    if (!pixl__is_file(path)) return pixl_set_error(PIXL_ERR_NOT_FOUND, "BSDS ground truth '%s' not found", path);
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': not a MAT-file libmatio can read", path);
    int rc = PIXL_OK;
    uint8_t *out = NULL;
    int n = 0, W = 0, H = 0;
    matvar_t *gt = NULL;
    /* the sizes from the variable's headers first: Mat_VarRead allocates what they claim */
    matvar_t *info = Mat_VarReadInfo(mat, "groundTruth");
    if (info && info->class_type == MAT_C_CELL && info->rank >= 1) {
        size_t cells = 1;
        for (int d = 0; d < info->rank; d++)
            if (pixl__mul_overflows(cells, info->dims[d], &cells)) cells = SIZE_MAX;
        /* the cell array's data as libmatio indexes it: present and as long as the cells claimed */
        if (!info->data || info->nbytes / sizeof(matvar_t *) < (cells < 64 ? cells : 64)) cells = 0;
        for (size_t i = 0; i < cells && i < 64 && !rc; i++) {
            matvar_t *cell = Mat_VarGetCell(info, (int)i);
            matvar_t *b = struct_ok(cell) ? Mat_VarGetStructFieldByName(cell, "Boundaries", 0) : NULL;
            if (!b || b->rank != 2) continue; /* reported below, after the read */
            if (b->dims[0] < 1 || b->dims[1] < 1 || b->dims[0] > PIXL_IMAGE_MAX_DIM || b->dims[1] > PIXL_IMAGE_MAX_DIM)
                rc = pixl_set_error(PIXL_ERR_FORMAT,
                                    "BSDS ground truth '%s': annotation %zu is %zux%zu (1..%d per side)", path, i + 1,
                                    b->dims[1], b->dims[0], PIXL_IMAGE_MAX_DIM);
            else rc = pixl__check_dims(path, (long)b->dims[1], (long)b->dims[0], 1, 8);
        }
    }
    if (info) Mat_VarFree(info);
    if (rc) goto done;
    gt = Mat_VarRead(mat, "groundTruth");
    if (!gt || gt->class_type != MAT_C_CELL || gt->rank < 1) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': no cell array 'groundTruth'", path);
        goto done;
    }
    size_t cells = 1;
    for (int d = 0; d < gt->rank; d++)
        if (pixl__mul_overflows(cells, gt->dims[d], &cells)) {
            cells = SIZE_MAX;
            break;
        }
    if (cells < 1 || cells > 64 || !gt->data || gt->nbytes / sizeof(matvar_t *) < cells) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': %zu annotations (1..64)", path, cells);
        goto done;
    }
    n = (int)cells;
    for (int i = 0; i < n; i++) {
        matvar_t *cell = Mat_VarGetCell(gt, i);
        matvar_t *b = struct_ok(cell) ? Mat_VarGetStructFieldByName(cell, "Boundaries", 0) : NULL;
        if (!b || b->rank != 2 || !b->data || (b->class_type != MAT_C_UINT8 && b->class_type != MAT_C_DOUBLE) ||
            b->nbytes / (b->class_type == MAT_C_UINT8 ? 1 : sizeof(double)) / (b->dims[0] ? b->dims[0] : 1) <
                b->dims[1]) {
            rc = pixl_set_error(PIXL_ERR_FORMAT,
                                "BSDS ground truth '%s': annotation %d has no 2-D logical/uint8/double 'Boundaries'",
                                path, i + 1);
            goto done;
        }
        /* sizes from the file: in range before they become ints, and the data really that large */
        size_t esize = b->class_type == MAT_C_UINT8 ? 1 : sizeof(double), need;
        if (b->dims[0] < 1 || b->dims[1] < 1 || b->dims[0] > PIXL_IMAGE_MAX_DIM || b->dims[1] > PIXL_IMAGE_MAX_DIM) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d is %zux%zu (1..%d per side)",
                                path, i + 1, b->dims[1], b->dims[0], PIXL_IMAGE_MAX_DIM);
            goto done;
        }
        if (pixl__mul3_overflows(b->dims[0], b->dims[1], esize, &need) || b->nbytes < need ||
            (size_t)b->data_size != esize) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d holds %zu bytes for %zux%zu values",
                                path, i + 1, b->nbytes, b->dims[1], b->dims[0]);
            goto done;
        }
        int h = (int)b->dims[0], w = (int)b->dims[1];
        if (i == 0) {
            W = w, H = h;
            if ((rc = pixl__check_dims(path, W, H, 1, 8))) goto done;
            out = pixl__malloc((size_t)n * W * H);
            if (!out) {
                rc = PIXL_ERR_NOMEM;
                goto done;
            }
        } else if (w != W || h != H) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d is %dx%d, annotation 1 %dx%d",
                                path, i + 1, w, h, W, H);
            goto done;
        }
        uint8_t *o = out + (size_t)i * W * H;
        /* column-major -> row-major */
        if (b->class_type == MAT_C_UINT8) {
            const uint8_t *src = b->data;
            for (int x = 0; x < W; x++)
                for (int y = 0; y < H; y++) o[(size_t)y * W + x] = src[(size_t)x * H + y] != 0;
        } else {
            const double *src = b->data;
            for (int x = 0; x < W; x++)
                for (int y = 0; y < H; y++) o[(size_t)y * W + x] = src[(size_t)x * H + y] != 0;
        }
    }
done:
    if (gt) Mat_VarFree(gt);
    Mat_Close(mat);
    if (rc) {
        free(out);
        return rc;
    }
    *maps = out;
    *n_maps = n;
    *width = W;
    *height = H;
    return PIXL_OK;
}

void pixl__bsds_targets(const uint8_t *maps, int n_maps, size_t np, float consensus, float *soft, int32_t *labels)
{
    for (size_t p = 0; p < np; p++) {
        int c = 0;
        for (int g = 0; g < n_maps; g++) c += maps[(size_t)g * np + p] != 0;
        float f = (float)c / (float)n_maps;
        if (soft) soft[p] = f;
        if (labels) labels[p] = c == 0 ? 0 : f >= consensus ? 1 : PIXL_IGNORE_LABEL;
    }
}

int pixl_bsds_read(const char *mat_path, uint8_t **maps, int *n_maps, int *width, int *height)
{
    if (!mat_path || !maps || !n_maps || !width || !height)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_bsds_read: NULL argument");
    return pixl__bsds_read_mat(mat_path, maps, n_maps, width, height);
}

/* ------------------------------------------------------ the dataset kind */

static const char *const bsds_names[2] = {"non-boundary", "boundary"};
static const uint8_t bsds_colours[6] = {0, 0, 0, 255, 255, 255};

/* images/SPLIT/ID.jpg with groundTruth/SPLIT/ID.mat */
static int open_bsds(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    ds->task = PIXL_TASK_EDGES;
    ds->map = PIXL__MAP_NONE;
    ds->edge_consensus = o->edge_consensus > 0 ? o->edge_consensus : 0.5f;
    if (!(o->edge_consensus >= 0 && o->edge_consensus <= 1))
        return pixl_set_error(PIXL_ERR_ARG, "bsds500 dataset: edge_consensus %g outside [0, 1]",
                              (double)o->edge_consensus);
    int rc = pixl__dataset_set_classes(ds, 2, bsds_names, bsds_colours);
    if (rc) return rc;
    char irel[1024], lrel[1024];
    snprintf(irel, sizeof irel, "images/%s", split);
    snprintf(lrel, sizeof lrel, "groundTruth/%s", split);
    return pixl__dataset_open_pair(ds, o->root, irel, lrel, "ground-truth");
}

const pixl__dataset_kind pixl__dataset_bsds500 = {"bsds500", open_bsds};
