/* loader.c — the batch loader: per-epoch shuffling from (seed, epoch), a
 * ring of batch slots filled ahead by background pthreads (one sample per
 * job, so even batch size 1 is decoded in parallel), normalisation into
 * float NCHW + int32 labels, and wait/throughput statistics.
 *
 * Global batch g (counting over epochs: epoch = g / batches_per_epoch)
 * lives in slot g % n_slots. Workers take the next unclaimed sample of the
 * oldest batch in flight, or open the next batch when a slot is free. The
 * consumer owns the slot of the batch it returned until its next call.
 * What a sample contains depends only on (seed, epoch, dataset index), so
 * batches are identical for any number of workers. Sparse labels (a label
 * store on the dataset) are resized and scaled point by point. */
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "data/data_impl.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY };

typedef struct {
    int state;
    int64_t g;
    int n, n_claimed, n_done;
    int *indices;
    int failed, err_code;
    char err[1024];
    float *images;        /* fixed size: n*3*H*W; variable size: packed by the consumer */
    int32_t *labels;
    float *targets;       /* dense targets: n*TC*H*W (fixed) or packed (variable) */
    size_t img_cap, lab_cap; /* elements (variable size) */
    float **s_img;        /* variable size: per-sample buffers */
    int32_t **s_lab;
    float **s_tgt;
    int *s_w, *s_h;
    size_t *s_cap;
} slot;

struct pixl_loader {
    const pixl_dataset *ds;
    pixl_loader_opts o;
    pixl_augment_opts aug;
    int has_aug;
    int N, bs, bpe;
    int fixed, out_w, out_h;
    int tc;               /* dense target channels (0: labels only) */
    int sparse;           /* the dataset's labels are sparse points (pixl_dataset_set_sparse_labels) */
    float mean[3], std[3];
    uint8_t pad[3];
    int n_slots;
    slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    pthread_t *threads;
    int n_threads, stop;
    int64_t next_assign, consumed;
    int holding;
    int64_t perm_epoch;
    int *perm;
    int failed, fail_code;
    char fail_msg[1024];
    double t0, wait_s, work_s;
    int64_t images;
};

/* one batch of float images, n x 3 x h x w x 4 bytes, against
 * PIXL_MAX_BATCH_BYTES (core/limits.c): an error instead of the allocation */
static int batch_too_large(int n, int w, int h)
{
    char b[32], lim[32];
    int over = pixl__batch_over_limit(n, h, w, b, lim);
    if (over <= 0) return over;
    return pixl_set_error(PIXL_ERR_NOMEM,
                          "loader: a batch of %d images of 3x%dx%d is %s of input, above the limit of %s (a smaller "
                          "batch, a resize or a crop; or set PIXL_MAX_BATCH_BYTES)",
                          n, h, w, b, lim);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------- ordering */

static void make_perm(pixl_loader *L, int64_t epoch)
{
    for (int i = 0; i < L->N; i++) L->perm[i] = i;
    if (L->o.shuffle) {
        uint64_t s = pixl__hash64(L->o.seed ^ 0x2545f4914f6cdd1dULL, (uint64_t)epoch);
        for (int i = L->N - 1; i > 0; i--) {
            int j = (int)(pixl__rng_next(&s) % (uint64_t)(i + 1));
            int t = L->perm[i];
            L->perm[i] = L->perm[j];
            L->perm[j] = t;
        }
    }
    L->perm_epoch = epoch;
}

/* Under the mutex: claim a sample to work on (slot + position), or NULL. */
static slot *claim(pixl_loader *L, int *j)
{
    for (int64_t g = L->consumed; g < L->next_assign; g++) {
        slot *sl = &L->slots[g % L->n_slots];
        if (sl->state == SLOT_FILLING && sl->g == g && sl->n_claimed < sl->n) {
            *j = sl->n_claimed++;
            return sl;
        }
    }
    if (L->next_assign < L->consumed + L->n_slots) {
        int64_t g = L->next_assign++;
        slot *sl = &L->slots[g % L->n_slots];
        int64_t epoch = g / L->bpe;
        int b = (int)(g % L->bpe);
        if (L->perm_epoch != epoch) make_perm(L, epoch);
        int start = b * L->bs, end = start + L->bs < L->N ? start + L->bs : L->N;
        sl->g = g;
        sl->n = end - start;
        memcpy(sl->indices, L->perm + start, sizeof(int) * (size_t)sl->n);
        sl->n_claimed = 1;
        sl->n_done = 0;
        sl->failed = 0;
        sl->state = SLOT_FILLING;
        *j = 0;
        return sl;
    }
    return NULL;
}

/* ------------------------------------------------------------- one sample */

/* Dense targets ride through every geometric step as an index map: pixel q
 * of the decoded sample is labelled -(q+1) when it has a target (negative,
 * so never confused with the padding label 255) and 255 when not. Resizing,
 * scaling, cropping and flipping move these labels nearest-neighbour; the
 * targets are then gathered from the source pixels they name. */
static int load_indexed(pixl_loader *L, int idx, pixl_image **img, int32_t **lab, float **tsrc)
{
    uint8_t *mask = NULL;
    int rc = pixl_dataset_load_normals(L->ds, idx, img, tsrc, &mask);
    if (rc) return rc;
    const size_t np = (size_t)(*img)->width * (*img)->height;
    *lab = pixl__malloc(sizeof(int32_t) * np);
    if (!*lab) {
        pixl_image_free(*img), free(*tsrc), free(mask);
        *img = NULL, *tsrc = NULL;
        return PIXL_ERR_NOMEM;
    }
    for (size_t q = 0; q < np; q++) (*lab)[q] = mask[q] ? -(int32_t)q - 1 : PIXL_IGNORE_LABEL;
    free(mask);
    return PIXL_OK;
}

/* index map (np) -> labels 0 / 255 and tc target planes; a mirrored sample's
 * normals have their x component negated */
static void gather_targets(int tc, const int32_t *map, size_t np, const float *tsrc, size_t np_src, int flipped,
                           int32_t *labels, float *targets)
{
    for (size_t p = 0; p < np; p++) {
        int32_t v = map[p];
        if (v < 0) {
            size_t q = (size_t)(-(int64_t)v - 1);
            labels[p] = 0;
            for (int c = 0; c < tc; c++) targets[c * np + p] = (c == 0 && flipped ? -1 : 1) * tsrc[c * np_src + q];
        } else {
            labels[p] = PIXL_IGNORE_LABEL;
            for (int c = 0; c < tc; c++) targets[c * np + p] = 0;
        }
    }
}

/* Outside the mutex. Returns status; error message in the thread's slot. */
static int process(pixl_loader *L, slot *sl, int j)
{
    const int idx = sl->indices[j];
    const int64_t epoch = sl->g / L->bpe;
    pixl_image *img = NULL, *im2 = NULL;
    int32_t *lab = NULL, *lab2 = NULL;
    float *tsrc = NULL; /* dense targets: tc planes of the decoded sample, addressed through the index map */
    int rc = L->tc ? load_indexed(L, idx, &img, &lab, &tsrc) : pixl_dataset_load(L->ds, idx, &img, &lab);
    if (rc) return rc;
    const int src_w = img->width, src_h = img->height;
    if (L->o.resize_width > 0 && (img->width != L->o.resize_width || img->height != L->o.resize_height)) {
        im2 = pixl_image_resize(img, L->o.resize_width, L->o.resize_height);
        int32_t *(*resize)(const int32_t *, int, int, int, int) = L->sparse ? pixl_label_resize_sparse : pixl_label_resize;
        lab2 = im2 ? resize(lab, img->width, img->height, L->o.resize_width, L->o.resize_height) : NULL;
        if (!im2 || !lab2) rc = pixl_last_status() ? pixl_last_status() : PIXL_ERR_NOMEM;
        pixl_image_free(img);
        free(lab);
        img = im2, lab = lab2;
        im2 = NULL, lab2 = NULL;
    }
    int batch_flip = 0, flipped = 0; /* hflip 2: one coin per batch, from (seed, batch number) */
    if (!rc && L->has_aug && L->aug.hflip == 2) {
        uint64_t s = pixl_augment_seed(L->o.seed ^ 0x5eedf11bULL, sl->g, -1);
        batch_flip = pixl__rng_uniform(&s) < 0.5;
    }
    if (!rc && L->has_aug) {
        pixl_augment_opts a = L->aug;
        if (a.hflip == 2) a.hflip = 0;
        rc = pixl__augment(&a, pixl_augment_seed(L->o.seed, epoch, idx), img, lab, L->pad, &im2, &lab2, &flipped);
    } else if (!rc) {
        im2 = img, lab2 = lab;
        img = NULL, lab = NULL;
    }
    if (!rc && batch_flip) pixl__hflip(im2, lab2), flipped = !flipped;
    pixl_image_free(img);
    free(lab);
    if (rc) {
        pixl_image_free(im2);
        free(lab2);
        free(tsrc);
        return rc;
    }
    const int w = im2->width, h = im2->height;
    const size_t np = (size_t)w * h;
    float *dst, *tdst = NULL;
    int32_t *ldst;
    if (L->fixed) {
        if (w != L->out_w || h != L->out_h) {
            rc = pixl_set_error(PIXL_ERR_STATE, "loader: sample %d came out %dx%d, expected %dx%d", idx, w, h,
                                L->out_w, L->out_h);
            goto done;
        }
        dst = sl->images + (size_t)j * 3 * np;
        ldst = sl->labels + (size_t)j * np;
        if (L->tc) tdst = sl->targets + (size_t)j * L->tc * np;
    } else {
        if (sl->s_cap[j] < np) {
            free(sl->s_img[j]), free(sl->s_lab[j]), free(sl->s_tgt[j]);
            sl->s_img[j] = pixl__malloc(sizeof(float) * 3 * np);
            sl->s_lab[j] = pixl__malloc(sizeof(int32_t) * np);
            sl->s_tgt[j] = L->tc ? pixl__malloc(sizeof(float) * (size_t)L->tc * np) : NULL;
            sl->s_cap[j] = sl->s_img[j] && sl->s_lab[j] && (!L->tc || sl->s_tgt[j]) ? np : 0;
            if (!sl->s_cap[j]) {
                rc = PIXL_ERR_NOMEM;
                goto done;
            }
        }
        sl->s_w[j] = w, sl->s_h[j] = h;
        dst = sl->s_img[j];
        ldst = sl->s_lab[j];
        tdst = sl->s_tgt[j];
    }
    rc = pixl_image_to_chw(im2, L->mean, L->std, dst);
    if (!rc && L->tc) gather_targets(L->tc, lab2, np, tsrc, (size_t)src_w * src_h, flipped, ldst, tdst);
    else if (!rc) memcpy(ldst, lab2, sizeof(int32_t) * np);
done:
    pixl_image_free(im2);
    free(lab2);
    free(tsrc);
    return rc;
}

/* Under the mutex: record the end of a sample. */
static void finish(pixl_loader *L, slot *sl, int rc, double secs)
{
    if (rc && !sl->failed) {
        sl->failed = 1;
        sl->err_code = rc;
        snprintf(sl->err, sizeof sl->err, "%s", pixl_last_error());
    }
    if (!rc) L->images++;
    L->work_s += secs;
    if (++sl->n_done == sl->n) {
        sl->state = SLOT_READY;
        pthread_cond_broadcast(&L->cv_ready);
    }
}

/* Under the mutex: give the slot of the batch returned last back. */
static void release_held(pixl_loader *L)
{
    if (!L->holding) return;
    L->slots[L->consumed % L->n_slots].state = SLOT_FREE;
    L->consumed++;
    L->holding = 0;
    pthread_cond_broadcast(&L->cv_work);
}

static void *worker_main(void *arg)
{
    pixl_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    while (!L->stop) {
        int j;
        slot *sl = claim(L, &j);
        if (!sl) {
            pthread_cond_wait(&L->cv_work, &L->mu);
            continue;
        }
        pthread_mutex_unlock(&L->mu);
        double t = now_s();
        int rc = process(L, sl, j);
        t = now_s() - t;
        pthread_mutex_lock(&L->mu);
        finish(L, sl, rc, t);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ------------------------------------------------------------ threads */

static void stop_workers(pixl_loader *L)
{
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->cv_work);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->n_threads; i++) pthread_join(L->threads[i], NULL);
    L->n_threads = 0;
    L->stop = 0;
}

static int start_workers(pixl_loader *L)
{
    for (int i = 0; i < L->o.n_workers; i++) {
        int e = pthread_create(&L->threads[i], NULL, worker_main, L);
        if (e) {
            stop_workers(L);
            return pixl_set_error(PIXL_ERR_NOMEM, "loader: cannot start worker thread %d: %s", i, strerror(e));
        }
        L->n_threads++;
    }
    return PIXL_OK;
}

/* ------------------------------------------------------------ public */

void pixl_loader_free(pixl_loader *L)
{
    if (!L) return;
    stop_workers(L);
    if (L->slots)
        for (int s = 0; s < L->n_slots; s++) {
            slot *sl = &L->slots[s];
            free(sl->indices), free(sl->images), free(sl->labels), free(sl->targets);
            if (sl->s_img)
                for (int j = 0; j < L->bs; j++) free(sl->s_img[j]), free(sl->s_lab[j]), free(sl->s_tgt[j]);
            free(sl->s_img), free(sl->s_lab), free(sl->s_tgt), free(sl->s_w), free(sl->s_h), free(sl->s_cap);
        }
    free(L->slots);
    free(L->perm);
    free(L->threads);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv_work);
    pthread_cond_destroy(&L->cv_ready);
    free(L);
}

pixl_loader *pixl_loader_new(const pixl_dataset *ds, const pixl_loader_opts *o)
{
    static const pixl_loader_opts defaults;
    if (!o) o = &defaults;
    if (!ds) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_loader_new: dataset is NULL");
        return NULL;
    }
    int N = pixl_dataset_size(ds), bs = o->batch_size ? o->batch_size : 1;
    if (bs < 1 || o->n_workers < 0 || o->n_workers > 256 || o->prefetch < 0 || o->prefetch > 1024 ||
        o->resize_width < 0 || o->resize_height < 0 || (o->resize_width > 0) != (o->resize_height > 0)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_loader_new: bad options (batch %d, workers %d, prefetch %d, resize %dx%d)",
                       o->batch_size, o->n_workers, o->prefetch, o->resize_width, o->resize_height);
        return NULL;
    }
    int bpe = o->drop_last ? N / bs : (N + bs - 1) / bs;
    if (bpe < 1) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_loader_new: %s dataset of %d samples gives no batch of %d%s",
                       pixl_dataset_kind(ds), N, bs, o->drop_last ? " (drop_last)" : "");
        return NULL;
    }
    if (o->augment) { /* validate the options once, on a tiny image */
        pixl_image *t = pixl_image_new(2, 2, 3, 8), *t2 = NULL;
        int rc = t ? pixl__augment(o->augment, 0, t, NULL, NULL, &t2, NULL, NULL) : PIXL_ERR_NOMEM;
        pixl_image_free(t), pixl_image_free(t2);
        if (rc) return NULL;
    }
    if (o->dense_targets && pixl_dataset_task(ds) != PIXL_TASK_NORMALS) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_loader_new: dense_targets: the %s dataset has no per-pixel float targets",
                       pixl_dataset_kind(ds));
        return NULL;
    }
    pixl_loader *L = pixl__calloc(1, sizeof *L);
    if (!L) return NULL;
    L->ds = ds;
    L->tc = o->dense_targets ? 3 : 0;
    L->o = *o;
    L->o.batch_size = bs;
    L->o.augment = NULL;
    if (o->augment) L->aug = *o->augment, L->has_aug = 1;
    L->sparse = pixl_dataset_sparse_labels(ds) != NULL;
    if (L->sparse) L->aug.sparse_labels = 1;
    L->N = N, L->bs = bs, L->bpe = bpe;
    memcpy(L->mean, pixl_dataset_mean(ds), sizeof L->mean);
    memcpy(L->std, pixl_dataset_std(ds), sizeof L->std);
    for (int k = 0; k < 3; k++) {
        float v = L->mean[k] * 255.0f + 0.5f;
        L->pad[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    int rescales = L->has_aug && ((L->aug.scale_min > 0 && L->aug.scale_min != 1) ||
                                  (L->aug.scale_max > 0 && L->aug.scale_max != 1));
    if (L->has_aug && L->aug.crop_width > 0 && L->aug.crop_height > 0)
        L->fixed = 1, L->out_w = L->aug.crop_width, L->out_h = L->aug.crop_height;
    else if (o->resize_width > 0 && !rescales)
        L->fixed = 1, L->out_w = o->resize_width, L->out_h = o->resize_height;
    int prefetch = o->prefetch ? o->prefetch : 2 * (o->n_workers > 1 ? o->n_workers : 1);
    L->n_slots = prefetch + 1;
    L->perm_epoch = -1;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_work, NULL);
    pthread_cond_init(&L->cv_ready, NULL);
    L->perm = pixl__malloc(sizeof(int) * (size_t)N);
    L->slots = pixl__calloc((size_t)L->n_slots, sizeof(slot));
    L->threads = pixl__calloc((size_t)(o->n_workers ? o->n_workers : 1), sizeof(pthread_t));
    int ok = L->perm && L->slots && L->threads;
    size_t np = (size_t)L->out_w * L->out_h;
    for (int s = 0; ok && s < L->n_slots; s++) {
        slot *sl = &L->slots[s];
        sl->g = -1;
        ok = (sl->indices = pixl__malloc(sizeof(int) * (size_t)bs)) != NULL;
        if (ok && L->fixed) {
            size_t ni, nl;
            if (pixl__mul_overflows(np, (size_t)bs * 3, &ni) || pixl__mul_overflows(np, (size_t)bs, &nl)) {
                pixl_set_error(PIXL_ERR_NOMEM, "loader: batch of %d x %dx%d overflows", bs, L->out_w, L->out_h);
                ok = 0;
                break;
            }
            if (batch_too_large(bs, L->out_w, L->out_h)) {
                ok = 0;
                break;
            }
            sl->images = pixl__malloc(sizeof(float) * ni);
            sl->labels = pixl__malloc(sizeof(int32_t) * nl);
            if (L->tc) sl->targets = pixl__malloc(sizeof(float) * nl * (size_t)L->tc);
            ok = sl->images && sl->labels && (!L->tc || sl->targets);
        } else if (ok) {
            sl->s_img = pixl__calloc((size_t)bs, sizeof(float *));
            sl->s_lab = pixl__calloc((size_t)bs, sizeof(int32_t *));
            sl->s_tgt = pixl__calloc((size_t)bs, sizeof(float *));
            sl->s_w = pixl__calloc((size_t)bs, sizeof(int));
            sl->s_h = pixl__calloc((size_t)bs, sizeof(int));
            sl->s_cap = pixl__calloc((size_t)bs, sizeof(size_t));
            ok = sl->s_img && sl->s_lab && sl->s_tgt && sl->s_w && sl->s_h && sl->s_cap;
        }
    }
    if (!ok || start_workers(L)) {
        pixl_loader_free(L);
        return NULL;
    }
    L->t0 = now_s();
    return L;
}

int pixl_loader_batches_per_epoch(const pixl_loader *L) { return L ? L->bpe : 0; }

int64_t pixl_loader_epoch(const pixl_loader *L) { return L ? (L->consumed + L->holding) / L->bpe : 0; }

int pixl_loader_set_epoch(pixl_loader *L, int64_t epoch)
{
    if (!L || epoch < 0 || epoch > INT64_MAX / L->bpe / 2)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_loader_set_epoch: bad epoch %lld", (long long)epoch);
    pthread_mutex_lock(&L->mu);
    if (!L->failed && L->consumed + L->holding == epoch * L->bpe) { /* already there: keep what is prefetched */
        release_held(L);
        pthread_mutex_unlock(&L->mu);
        return PIXL_OK;
    }
    pthread_mutex_unlock(&L->mu);
    stop_workers(L);
    for (int s = 0; s < L->n_slots; s++) L->slots[s].state = SLOT_FREE, L->slots[s].g = -1;
    L->consumed = L->next_assign = epoch * L->bpe;
    L->holding = 0;
    L->failed = 0;
    return start_workers(L);
}

/* pack per-sample buffers of a variable-size batch (consumer thread) */
static int pack(pixl_loader *L, slot *sl, pixl_batch *b)
{
    int w = sl->s_w[0], h = sl->s_h[0];
    for (int j = 1; j < sl->n; j++)
        if (sl->s_w[j] != w || sl->s_h[j] != h)
            return pixl_set_error(PIXL_ERR_SHAPE,
                                  "loader: batch %d of epoch %lld mixes image sizes: '%s' is %dx%d, '%s' is %dx%d "
                                  "(use batch size 1, a resize or a crop)",
                                  (int)(sl->g % L->bpe), (long long)(sl->g / L->bpe),
                                  pixl_dataset_sample_name(L->ds, sl->indices[0]), w, h,
                                  pixl_dataset_sample_name(L->ds, sl->indices[j]), sl->s_w[j], sl->s_h[j]);
    size_t np = (size_t)w * h;
    b->width = w, b->height = h;
    if (sl->n == 1) {
        b->images = sl->s_img[0];
        b->labels = sl->s_lab[0];
        b->targets = sl->s_tgt[0];
        return PIXL_OK;
    }
    const size_t tc = (size_t)L->tc;
    if (batch_too_large(sl->n, w, h)) return pixl_last_status();
    if (sl->img_cap < np * 3 * sl->n) {
        free(sl->images), free(sl->labels), free(sl->targets);
        sl->images = pixl__malloc(sizeof(float) * np * 3 * sl->n);
        sl->labels = pixl__malloc(sizeof(int32_t) * np * sl->n);
        sl->targets = tc ? pixl__malloc(sizeof(float) * np * tc * sl->n) : NULL;
        sl->img_cap = sl->images && sl->labels && (!tc || sl->targets) ? np * 3 * sl->n : 0;
        if (!sl->img_cap) return PIXL_ERR_NOMEM;
    }
    for (int j = 0; j < sl->n; j++) {
        memcpy(sl->images + (size_t)j * 3 * np, sl->s_img[j], sizeof(float) * 3 * np);
        memcpy(sl->labels + (size_t)j * np, sl->s_lab[j], sizeof(int32_t) * np);
        if (tc) memcpy(sl->targets + (size_t)j * tc * np, sl->s_tgt[j], sizeof(float) * tc * np);
    }
    b->images = sl->images;
    b->labels = sl->labels;
    b->targets = sl->targets;
    return PIXL_OK;
}

int pixl_loader_next(pixl_loader *L, pixl_batch *b)
{
    if (!L || !b) return pixl_set_error(PIXL_ERR_ARG, "pixl_loader_next: NULL argument");
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&L->mu);
    if (L->failed) {
        pthread_mutex_unlock(&L->mu);
        return pixl_set_error(L->fail_code, "%s", L->fail_msg);
    }
    release_held(L);
    slot *sl = &L->slots[L->consumed % L->n_slots];
    double t = now_s();
    while (!(sl->g == L->consumed && sl->state == SLOT_READY)) {
        if (L->n_threads == 0) { /* no workers: do the work here */
            int j;
            slot *w = claim(L, &j);
            if (!w) break; /* cannot happen: the batch's slot is free or filling */
            pthread_mutex_unlock(&L->mu);
            double t1 = now_s();
            int rc = process(L, w, j);
            t1 = now_s() - t1;
            pthread_mutex_lock(&L->mu);
            finish(L, w, rc, t1);
        } else {
            pthread_cond_wait(&L->cv_ready, &L->mu);
        }
    }
    L->wait_s += now_s() - t;
    int rc = PIXL_OK;
    if (!(sl->g == L->consumed && sl->state == SLOT_READY)) {
        rc = pixl_set_error(PIXL_ERR_STATE, "loader: internal error (batch %lld not scheduled)", (long long)L->consumed);
    } else if (sl->failed) {
        rc = pixl_set_error(sl->err_code, "%s", sl->err);
    }
    L->holding = !rc;
    pthread_mutex_unlock(&L->mu);
    if (!rc) {
        b->n = sl->n;
        b->channels = 3;
        b->target_channels = L->tc;
        b->indices = sl->indices;
        b->epoch = sl->g / L->bpe;
        b->batch = (int)(sl->g % L->bpe);
        if (L->fixed) {
            b->width = L->out_w, b->height = L->out_h;
            b->images = sl->images;
            b->labels = sl->labels;
            b->targets = sl->targets;
        } else {
            rc = pack(L, sl, b);
        }
    }
    if (rc) {
        pthread_mutex_lock(&L->mu);
        L->failed = 1;
        L->fail_code = rc;
        snprintf(L->fail_msg, sizeof L->fail_msg, "%s", pixl_last_error());
        pthread_mutex_unlock(&L->mu);
        memset(b, 0, sizeof *b);
    }
    return rc;
}

void pixl_loader_get_stats(const pixl_loader *L, pixl_loader_stats *s)
{
    if (!s) return;
    memset(s, 0, sizeof *s);
    if (!L) return;
    pixl_loader *M = (pixl_loader *)L;
    pthread_mutex_lock(&M->mu);
    s->total_seconds = now_s() - L->t0;
    s->wait_seconds = L->wait_s;
    s->work_seconds = L->work_s;
    s->images = L->images;
    pthread_mutex_unlock(&M->mu);
    if (s->total_seconds > 0) s->images_per_second = s->images / s->total_seconds;
    int nw = L->o.n_workers > 0 ? L->o.n_workers : 1;
    if (s->work_seconds > 0) s->capacity_per_second = s->images * nw / s->work_seconds;
}

void pixl_loader_reset_stats(pixl_loader *L)
{
    if (!L) return;
    pthread_mutex_lock(&L->mu);
    L->t0 = now_s();
    L->wait_s = L->work_s = 0;
    L->images = 0;
    pthread_mutex_unlock(&L->mu);
}
