/* test_loader.c — augmentation (labels only moved, never interpolated;
 * ignore padding; flip correctness; determinism by seed) and the batch
 * loader (every sample once per epoch, identical batches for 0, 1 and 3
 * workers, one flip decision per batch with hflip = 2, resize/full-resolution eval paths, set_epoch, errors from
 * worker threads naming the file, statistics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "pixl_data.h"

static pixl_image *pattern_image(int w, int h)
{
    pixl_image *img = pixl_image_new(w, h, 3, 8);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                ((uint8_t *)img->data)[((size_t)y * w + x) * 3 + k] = (uint8_t)((x * 37 + y * 11 + k * 80) & 255);
    return img;
}

static int32_t *pattern_labels(int w, int h)
{
    static const int32_t vals[4] = {0, 3, 7, 255};
    int32_t *l = malloc(sizeof *l * w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) l[y * w + x] = vals[((x / 3) + (y / 2) * 5) % 4];
    return l;
}

PIXL_TEST(augment_labels_nearest_and_padding)
{
    const int w = 40, h = 30;
    pixl_image *img = pattern_image(w, h);
    int32_t *lab = pattern_labels(w, h);
    pixl_augment_opts o = {.scale_min = 0.5f, .scale_max = 2.0f, .crop_width = 48, .crop_height = 36, .hflip = 1,
                           .brightness = 0.3f, .contrast = 0.3f, .saturation = 0.3f, .blur_prob = 0.5f,
                           .blur_sigma_min = 0.3f, .blur_sigma_max = 1.5f};
    const float mean[3] = {0.2f, 0.4f, 0.6f};
    int padded_runs = 0;
    for (int s = 0; s < 40; s++) {
        pixl_image *oi;
        int32_t *ol;
        CHECK_OK(pixl_augment(&o, pixl_augment_seed(1, 0, s), img, lab, mean, &oi, &ol));
        if (!oi) continue;
        CHECK(oi->width == 48 && oi->height == 36 && oi->channels == 3);
        int bad = 0, ign = 0, padpix = 0;
        for (int p = 0; p < 48 * 36; p++) {
            int v = ol[p];
            bad += !(v == 0 || v == 3 || v == 7 || v == 255);
            ign += v == 255;
        }
        /* the bottom-right corner is padding when the scaled image is small */
        const uint8_t *px = (const uint8_t *)oi->data;
        for (int p = 0; p < 48 * 36; p++)
            padpix += px[3 * p] == 51 && px[3 * p + 1] == 102 && px[3 * p + 2] == 153 && ol[p] == 255;
        if (padpix > 48) padded_runs++;
        CHECK_MSG(bad == 0, "seed %d: %d label values not in the input", s, bad);
        CHECK(ign > 0);
        pixl_image_free(oi);
        free(ol);
    }
    CHECK_MSG(padded_runs > 5, "padding with the mean colour and 255 seen in only %d of 40 runs", padded_runs);
    /* a centred crop bigger than the image: exact padding layout */
    pixl_augment_opts c = {.crop_width = 44, .crop_height = 34, .center_crop = 1};
    pixl_image *oi;
    int32_t *ol;
    CHECK_OK(pixl_augment(&c, 5, img, lab, mean, &oi, &ol));
    int ok = 1;
    for (int y = 0; y < 34; y++)
        for (int x = 0; x < 44; x++) {
            int in = x >= 2 && x < 42 && y >= 2 && y < 32;
            int32_t want = in ? lab[(y - 2) * w + x - 2] : 255;
            ok &= ol[y * 44 + x] == want;
            for (int k = 0; k < 3; k++) {
                uint8_t wv = in ? ((uint8_t *)img->data)[((y - 2) * w + x - 2) * 3 + k] : (uint8_t)(51 * (k + 1));
                ok &= ((uint8_t *)oi->data)[(y * 44 + x) * 3 + k] == wv;
            }
        }
    CHECK_MSG(ok, "centred padding layout wrong");
    pixl_image_free(oi);
    free(ol);
    /* bad options */
    pixl_augment_opts b = {.scale_min = 2, .scale_max = 1};
    CHECK(pixl_augment(&b, 1, img, lab, NULL, &oi, &ol) == PIXL_ERR_ARG);
    pixl_image_free(img);
    free(lab);
}

PIXL_TEST(augment_flip_and_determinism)
{
    const int w = 21, h = 9;
    pixl_image *img = pattern_image(w, h);
    int32_t *lab = pattern_labels(w, h);
    pixl_augment_opts o = {.hflip = 1};
    int flipped = 0, kept = 0;
    for (int s = 0; s < 24; s++) {
        pixl_image *oi;
        int32_t *ol;
        CHECK_OK(pixl_augment(&o, (uint64_t)s * 977, img, lab, NULL, &oi, &ol));
        int same = !memcmp(oi->data, img->data, (size_t)w * h * 3) && !memcmp(ol, lab, sizeof *lab * w * h);
        int mirror = 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                mirror &= ol[y * w + x] == lab[y * w + (w - 1 - x)];
                for (int k = 0; k < 3; k++)
                    mirror &= ((uint8_t *)oi->data)[(y * w + x) * 3 + k] ==
                              ((uint8_t *)img->data)[(y * w + (w - 1 - x)) * 3 + k];
            }
        CHECK_MSG(same || mirror, "seed %d: neither identical nor mirrored", s);
        flipped += mirror, kept += same;
        pixl_image_free(oi);
        free(ol);
    }
    CHECK_MSG(flipped > 3 && kept > 3, "flip rate: %d flipped, %d kept of 24", flipped, kept);
    /* same seed, same result; another seed, another result */
    pixl_augment_opts full = {.scale_min = 0.7f, .scale_max = 1.6f, .crop_width = 16, .crop_height = 8, .hflip = 1,
                              .brightness = 0.4f, .contrast = 0.4f, .saturation = 0.4f, .blur_prob = 1,
                              .blur_sigma_min = 0.5f, .blur_sigma_max = 1.0f};
    pixl_image *a, *b, *c;
    int32_t *la, *lb, *lc;
    CHECK_OK(pixl_augment(&full, 42, img, lab, NULL, &a, &la));
    CHECK_OK(pixl_augment(&full, 42, img, lab, NULL, &b, &lb));
    CHECK_OK(pixl_augment(&full, 43, img, lab, NULL, &c, &lc));
    CHECK(!memcmp(a->data, b->data, 16 * 8 * 3) && !memcmp(la, lb, 4 * 16 * 8));
    CHECK(memcmp(a->data, c->data, 16 * 8 * 3) != 0);
    CHECK(pixl_augment_seed(1, 2, 3) != pixl_augment_seed(1, 3, 2) && pixl_augment_seed(1, 2, 3) == pixl_augment_seed(1, 2, 3));
    pixl_image_free(a), pixl_image_free(b), pixl_image_free(c);
    free(la), free(lb), free(lc);
    /* image only */
    CHECK_OK(pixl_augment(&full, 42, img, NULL, NULL, &a, NULL));
    pixl_image_free(a);
    pixl_image_free(img);
    free(lab);
}

PIXL_TEST(loader_epoch_coverage)
{
    pixl_dataset_opts d = {.kind = "synthetic", .count = 23, .width = 16, .height = 12, .seed = 3};
    pixl_dataset *ds = pixl_dataset_open(&d);
    CHECK(ds != NULL);
    pixl_loader_opts o = {.batch_size = 4, .shuffle = 1, .seed = 11, .n_workers = 2};
    pixl_loader *L = pixl_loader_new(ds, &o);
    CHECK_MSG(L != NULL, "%s", pixl_last_error());
    if (!L) return;
    CHECK(pixl_loader_batches_per_epoch(L) == 6);
    int order[3][23];
    for (int e = 0; e < 3; e++) {
        int seen[23] = {0}, n = 0;
        pixl_batch b;
        CHECK(pixl_loader_epoch(L) == e);
        for (int batch = 0; batch < 6; batch++) {
            int rc = pixl_loader_next(L, &b);
            CHECK_MSG(rc == 0, "next -> %d: %s", rc, pixl_last_error());
            if (rc) break;
            CHECK(b.epoch == e && b.batch == batch && b.channels == 3 && b.width == 16 && b.height == 12);
            CHECK(b.n == (batch < 5 ? 4 : 3));
            for (int j = 0; j < b.n; j++) {
                CHECK(b.indices[j] >= 0 && b.indices[j] < 23);
                seen[b.indices[j]]++;
                if (n < 23) order[e][n++] = b.indices[j];
            }
        }
        for (int i = 0; i < 23; i++) CHECK_MSG(seen[i] == 1, "epoch %d: sample %d seen %d times", e, i, seen[i]);
        if (e == 1) CHECK_OK(pixl_loader_set_epoch(L, 2)); /* where it stands anyway: a no-op */
    }
    CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0); /* reshuffled */
    pixl_loader_stats st;
    pixl_loader_get_stats(L, &st);
    CHECK(st.images >= 69); /* workers may have run ahead */
    CHECK(st.wait_seconds <= st.total_seconds && st.images_per_second > 0 && st.capacity_per_second > 0);
    pixl_loader_free(L);
    /* drop_last and no shuffle: the dataset order */
    o.drop_last = 1;
    o.shuffle = 0;
    o.n_workers = 0;
    L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_batches_per_epoch(L) == 5);
    pixl_batch b;
    int k = 0;
    for (int batch = 0; L && batch < 5 && pixl_loader_next(L, &b) == 0; batch++)
        for (int j = 0; j < b.n; j++) CHECK(b.indices[j] == k++);
    CHECK(k == 20);
    CHECK(L && pixl_loader_next(L, &b) == 0 && b.epoch == 1 && b.batch == 0 && b.indices[0] == 0);
    pixl_loader_free(L);
    o.batch_size = 24;
    CHECK(pixl_loader_new(ds, &o) == NULL && pixl_last_status() == PIXL_ERR_ARG);
    pixl_dataset_free(ds);
}

/* all batches of `epochs` epochs, concatenated */
static size_t run_loader(const pixl_dataset *ds, const pixl_loader_opts *o, int epochs, float **imgs, int32_t **labs)
{
    pixl_loader *L = pixl_loader_new(ds, o);
    *imgs = NULL, *labs = NULL;
    if (!L) return 0;
    size_t ni = 0, nl = 0;
    int nb = pixl_loader_batches_per_epoch(L);
    for (int i = 0; i < epochs * nb; i++) {
        pixl_batch b;
        if (pixl_loader_next(L, &b)) break;
        {
            size_t np = (size_t)b.n * b.height * b.width;
            *imgs = realloc(*imgs, sizeof(float) * (ni + np * 3));
            *labs = realloc(*labs, sizeof(int32_t) * (nl + np));
            memcpy(*imgs + ni, b.images, sizeof(float) * np * 3);
            memcpy(*labs + nl, b.labels, sizeof(int32_t) * np);
            ni += np * 3, nl += np;
        }
    }
    pixl_loader_free(L);
    return nl;
}

PIXL_TEST(loader_same_batches_any_worker_count)
{
    pixl_dataset_opts d = {.kind = "synthetic", .count = 10, .width = 24, .height = 20, .seed = 5};
    pixl_dataset *ds = pixl_dataset_open(&d);
    pixl_augment_opts aug = {.scale_min = 0.75f, .scale_max = 1.5f, .crop_width = 20, .crop_height = 16, .hflip = 1,
                             .brightness = 0.2f, .contrast = 0.2f, .saturation = 0.2f, .blur_prob = 0.5f,
                             .blur_sigma_min = 0.3f, .blur_sigma_max = 1.0f};
    pixl_loader_opts o = {.batch_size = 3, .shuffle = 1, .seed = 99, .augment = &aug};
    float *i0, *i1, *i3;
    int32_t *l0, *l1, *l3;
    size_t n0 = run_loader(ds, &o, 2, &i0, &l0);
    o.n_workers = 1;
    size_t n1 = run_loader(ds, &o, 2, &i1, &l1);
    o.n_workers = 3;
    o.prefetch = 2;
    size_t n3 = run_loader(ds, &o, 2, &i3, &l3);
    CHECK(n0 == 2 * 10 * 20 * 16 && n1 == n0 && n3 == n0);
    if (n0 && n1 == n0 && n3 == n0) {
        CHECK(!memcmp(i0, i1, sizeof(float) * n0 * 3) && !memcmp(l0, l1, sizeof(int32_t) * n0));
        CHECK(!memcmp(i0, i3, sizeof(float) * n0 * 3) && !memcmp(l0, l3, sizeof(int32_t) * n0));
        int bad = 0, ign = 0;
        for (size_t p = 0; p < n0; p++) bad += !((l0[p] >= 0 && l0[p] < 5) || l0[p] == 255), ign += l0[p] == 255;
        CHECK(bad == 0);
        /* normalised: roughly zero mean */
        double m = 0;
        for (size_t p = 0; p < n0 * 3; p++) m += i0[p];
        m /= (double)(n0 * 3);
        CHECK_MSG(m > -0.6 && m < 0.6, "normalised mean %.3f", m);
    }
    /* the second epoch differs from the first (reshuffled, new augmentation) */
    if (n0) CHECK(memcmp(l0, l0 + n0 / 2, sizeof(int32_t) * n0 / 2) != 0);
    free(i0), free(i1), free(i3), free(l0), free(l1), free(l3);
    /* set_epoch(1) reproduces the second epoch */
    o.n_workers = 2;
    float *ia;
    int32_t *la;
    size_t na = run_loader(ds, &o, 2, &ia, &la);
    pixl_loader *L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_set_epoch(L, 1) == 0 && pixl_loader_epoch(L) == 1);
    pixl_batch b;
    size_t off = na / 2;
    int ok = 1;
    for (int i = 0; L && i < pixl_loader_batches_per_epoch(L) && pixl_loader_next(L, &b) == 0; i++) {
        CHECK(b.epoch == 1);
        size_t np = (size_t)b.n * b.height * b.width;
        ok &= !memcmp(la + off, b.labels, sizeof(int32_t) * np);
        ok &= !memcmp(ia + off * 3, b.images, sizeof(float) * np * 3);
        off += np;
    }
    CHECK(ok && off == na);
    pixl_loader_free(L);
    free(ia), free(la);
    pixl_dataset_free(ds);
}

/* hflip = 2: every sample of a batch is flipped, or none is (as torch code
 * flipping the batch tensor); both happen; the same for any worker count */
PIXL_TEST(loader_flip_per_batch)
{
    pixl_dataset_opts d = {.kind = "synthetic", .count = 8, .width = 24, .height = 20, .seed = 7};
    pixl_dataset *ds = pixl_dataset_open(&d);
    pixl_augment_opts plain = {0}, per_batch = {.hflip = 2};
    pixl_loader_opts o = {.batch_size = 4, .shuffle = 1, .seed = 3, .augment = &plain};
    const int epochs = 6, W = 24, H = 20;
    float *ip, *ib, *ib2;
    int32_t *lp, *lb, *lb2;
    size_t np = run_loader(ds, &o, epochs, &ip, &lp);
    o.augment = &per_batch;
    size_t nb = run_loader(ds, &o, epochs, &ib, &lb);
    o.n_workers = 3;
    size_t nb2 = run_loader(ds, &o, epochs, &ib2, &lb2);
    CHECK(np == (size_t)epochs * 8 * W * H && nb == np && nb2 == np);
    int flipped = 0, kept = 0, mixed = 0;
    for (int b = 0; nb == np && b < epochs * 2; b++) {
        int nf = 0, nk = 0;
        for (int j = 0; j < 4; j++) {
            size_t s = (size_t)(b * 4 + j) * W * H;
            int same = 1, mirror = 1;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int32_t v = lb[s + (size_t)y * W + x];
                    same &= v == lp[s + (size_t)y * W + x];
                    mirror &= v == lp[s + (size_t)y * W + (W - 1 - x)];
                }
            nf += mirror && !same, nk += same && !mirror;
        }
        if (nf == 4) flipped++;
        else if (nk == 4) kept++;
        else mixed++;
    }
    CHECK_MSG(mixed == 0 && flipped > 0 && kept > 0, "batches flipped %d, kept %d, mixed %d", flipped, kept, mixed);
    if (nb2 == nb) CHECK(!memcmp(ib, ib2, sizeof(float) * nb * 3) && !memcmp(lb, lb2, sizeof(int32_t) * nb));
    free(ip), free(ib), free(ib2), free(lp), free(lb), free(lb2);
    pixl_dataset_free(ds);
}

/* dense_targets (surface normals): without augmentation the batch holds the
 * dataset's normals and mask; under scale/crop/flip the targets follow the
 * image exactly as labels do (same valid pixels as the class labels of the
 * same augmented sample; every target is a source normal, x negated when
 * mirrored), for any worker count, with fixed and variable batch sizes */
static int load_targets(const pixl_dataset *ds, const pixl_loader_opts *o, int n_batches, float **imgs,
                        int32_t **labs, float **tgts, size_t *np_out)
{
    *imgs = NULL, *labs = NULL, *tgts = NULL;
    *np_out = 0;
    pixl_loader *L = pixl_loader_new(ds, o);
    if (!L) return -1;
    size_t n = 0;
    for (int i = 0; i < n_batches; i++) {
        pixl_batch b;
        if (pixl_loader_next(L, &b) || b.target_channels != (o->dense_targets ? 3 : 0)) break;
        size_t np = (size_t)b.n * b.height * b.width;
        *imgs = realloc(*imgs, sizeof(float) * (n + np) * 3);
        *labs = realloc(*labs, sizeof(int32_t) * (n + np));
        *tgts = realloc(*tgts, sizeof(float) * (n + np) * 3);
        memcpy(*imgs + n * 3, b.images, sizeof(float) * np * 3);
        memcpy(*labs + n, b.labels, sizeof(int32_t) * np);
        if (b.targets) memcpy(*tgts + n * 3, b.targets, sizeof(float) * np * 3);
        n += np;
    }
    pixl_loader_free(L);
    *np_out = n;
    return 0;
}

PIXL_TEST(loader_dense_targets_normals)
{
    enum { W = 24, H = 18, N = 6 };
    pixl_dataset *ds = pixl_dataset_open(
        &(pixl_dataset_opts){.kind = "synthetic_normals", .width = W, .height = H, .count = N, .seed = 3});
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (!ds) return;
    /* 1. no augmentation, batch 2 (variable-size path), in order */
    float *im, *tg;
    int32_t *lb;
    size_t n;
    pixl_loader_opts o = {.batch_size = 2, .dense_targets = 1};
    CHECK(load_targets(ds, &o, N / 2, &im, &lb, &tg, &n) == 0 && n == (size_t)N * W * H);
    for (int i = 0; n == (size_t)N * W * H && i < N; i++) {
        pixl_image *img;
        float *nm;
        uint8_t *mask;
        CHECK_OK(pixl_dataset_load_normals(ds, i, &img, &nm, &mask));
        int bad = 0;
        for (int q = 0; q < W * H; q++) {
            size_t r = (size_t)i * W * H + q, b = (size_t)(i / 2) * 2 * W * H, j = (size_t)(i % 2);
            bad += lb[r] != (mask[q] ? 0 : 255);
            for (int c = 0; c < 3; c++) bad += tg[b * 3 + (j * 3 + c) * W * H + q] != (mask[q] ? nm[c * W * H + q] : 0);
        }
        CHECK_MSG(bad == 0, "sample %d: %d values differ from the dataset", i, bad);
        pixl_image_free(img), free(nm), free(mask);
    }
    free(im), free(lb), free(tg);
    /* 2. flip only (crop = size: fixed path): each sample is the original or its mirror with -x */
    pixl_augment_opts flip = {.hflip = 1, .crop_width = W, .crop_height = H};
    o = (pixl_loader_opts){.batch_size = 1, .shuffle = 0, .seed = 5, .augment = &flip, .dense_targets = 1};
    int mirrored = 0, kept = 0;
    CHECK(load_targets(ds, &o, N, &im, &lb, &tg, &n) == 0 && n == (size_t)N * W * H);
    for (int i = 0; n == (size_t)N * W * H && i < N; i++) {
        pixl_image *img;
        float *nm;
        uint8_t *mask;
        CHECK_OK(pixl_dataset_load_normals(ds, i, &img, &nm, &mask));
        int same = 1, mirror = 1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float *t = tg + (size_t)i * 3 * W * H + (size_t)y * W + x;
                int q = y * W + x, m = y * W + (W - 1 - x);
                for (int c = 0; c < 3; c++) {
                    same &= t[c * W * H] == (mask[q] ? nm[c * W * H + q] : 0);
                    mirror &= t[c * W * H] == (mask[m] ? (c ? 1 : -1) * nm[c * W * H + m] : 0);
                }
            }
        CHECK_MSG(same != mirror, "sample %d: same %d, mirror %d", i, same, mirror);
        mirrored += mirror, kept += same;
        pixl_image_free(img), free(nm), free(mask);
    }
    CHECK_MSG(mirrored > 0 && kept > 0, "mirrored %d, kept %d", mirrored, kept);
    free(im), free(lb), free(tg);
    /* 3. scale + crop + flip, 2 workers: valid pixels and images as the class-label loader's */
    pixl_augment_opts aug = {.scale_min = 0.6f, .scale_max = 1.7f, .crop_width = 16, .crop_height = 12, .hflip = 1};
    o = (pixl_loader_opts){.batch_size = 3, .shuffle = 1, .seed = 9, .augment = &aug, .n_workers = 2,
                           .dense_targets = 1};
    float *im2, *tg2;
    int32_t *lb2;
    size_t n2;
    CHECK(load_targets(ds, &o, 4, &im, &lb, &tg, &n) == 0);
    o.dense_targets = 0;
    CHECK(load_targets(ds, &o, 4, &im2, &lb2, &tg2, &n2) == 0);
    CHECK(n == (size_t)12 * 16 * 12 && n2 == n);
    if (n == n2 && n) {
        CHECK(!memcmp(im, im2, sizeof(float) * n * 3));
        int bad = 0, valid = 0;
        for (size_t r = 0; r < n; r++) {
            size_t b = r / (3 * 16 * 12), j = r / (16 * 12) % 3, q = r % (16 * 12);
            const float *t = tg + (b * 3 + j) * 3 * 16 * 12 + q;
            float len = t[0] * t[0] + t[16 * 12] * t[16 * 12] + t[2 * 16 * 12] * t[2 * 16 * 12];
            bad += (lb[r] == 0) != (lb2[r] != 255);
            bad += lb[r] == 0 ? fabsf(len - 1) > 1e-4f : len != 0;
            valid += lb[r] == 0;
        }
        CHECK_MSG(bad == 0 && valid > 0, "%d mismatches (%d valid pixels)", bad, valid);
    }
    free(im), free(lb), free(tg), free(im2), free(lb2), free(tg2);
    /* errors: a dataset without float targets */
    pixl_dataset *seg = pixl_dataset_open(&(pixl_dataset_opts){.kind = "synthetic", .count = 2, .width = 8, .height = 8});
    o = (pixl_loader_opts){.dense_targets = 1};
    CHECK(pixl_loader_new(seg, &o) == NULL && strstr(pixl_last_error(), "dense_targets") != NULL);
    pixl_dataset_free(seg);
    pixl_dataset_free(ds);
}

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') *p = 0, mkdir(buf, 0755), *p = '/';
    mkdir(buf, 0755);
}

PIXL_TEST(loader_eval_paths_and_errors)
{
    char root[512], path[700];
    snprintf(root, sizeof root, "%s/ldr", pixl_test_tmpdir());
    snprintf(path, sizeof path, "%s/images", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/labels", root);
    mkdirs(path);
    /* three images, the last one of another size */
    const int sizes[3][2] = {{12, 8}, {12, 8}, {10, 6}};
    for (int i = 0; i < 3; i++) {
        pixl_image *img = pattern_image(sizes[i][0], sizes[i][1]);
        int32_t *lab = pattern_labels(sizes[i][0], sizes[i][1]);
        snprintf(path, sizeof path, "%s/images/im%d.png", root, i);
        CHECK_OK(pixl_image_save_png(img, path));
        snprintf(path, sizeof path, "%s/labels/im%d.png", root, i);
        CHECK_OK(pixl_label_save_png(lab, sizes[i][0], sizes[i][1], NULL, 0, path));
        pixl_image_free(img);
        free(lab);
    }
    pixl_dataset_opts d = {.kind = "folder", .root = root, .n_classes = 8};
    pixl_dataset *ds = pixl_dataset_open(&d);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (!ds) return;
    /* full resolution, batch 1: each image at its own size */
    pixl_loader_opts o = {.batch_size = 1, .n_workers = 2};
    pixl_loader *L = pixl_loader_new(ds, &o);
    pixl_batch b;
    for (int i = 0; i < 3; i++) {
        CHECK(pixl_loader_next(L, &b) == 0);
        CHECK(b.width == sizes[i][0] && b.height == sizes[i][1] && b.indices[0] == i);
        int32_t *lab = pattern_labels(sizes[i][0], sizes[i][1]);
        CHECK(!memcmp(b.labels, lab, sizeof(int32_t) * sizes[i][0] * sizes[i][1]));
        free(lab);
    }
    CHECK(pixl_loader_next(L, &b) == 0 && b.epoch == 1 && b.indices[0] == 0); /* the next epoch */
    pixl_loader_free(L);
    /* fixed resize: image bilinear, labels nearest */
    o.batch_size = 3;
    o.resize_width = 7;
    o.resize_height = 5;
    L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_next(L, &b) == 0 && b.n == 3 && b.width == 7 && b.height == 5);
    int bad = 0;
    for (int p = 0; L && p < 3 * 35; p++) {
        int v = b.labels[p];
        bad += !(v == 0 || v == 3 || v == 7 || v == 255);
    }
    CHECK(bad == 0);
    pixl_loader_free(L);
    /* resize, then augment: flip keeps the resize size, a crop sets its own */
    pixl_augment_opts fl = {.hflip = 1};
    o.augment = &fl;
    L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_next(L, &b) == 0 && b.width == 7 && b.height == 5);
    pixl_loader_free(L);
    pixl_augment_opts cr = {.scale_min = 0.5f, .scale_max = 1.5f, .crop_width = 6, .crop_height = 4};
    o.augment = &cr;
    L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_next(L, &b) == 0 && b.width == 6 && b.height == 4);
    pixl_loader_free(L);
    o.augment = NULL;
    /* full resolution with mixed sizes in a batch: error names the images */
    o.resize_width = o.resize_height = 0;
    L = pixl_loader_new(ds, &o);
    CHECK(L && pixl_loader_next(L, &b) == PIXL_ERR_SHAPE);
    CHECK_MSG(strstr(pixl_last_error(), "im2") != NULL, "%s", pixl_last_error());
    CHECK(pixl_loader_next(L, &b) < 0); /* stays failed */
    pixl_loader_free(L);
    pixl_dataset_free(ds);
    /* a corrupt image decoded by a worker: the error names the file */
    snprintf(path, sizeof path, "%s/images/im1.png", root);
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 40, SEEK_SET);
        fputs("garbage!", f);
        fclose(f);
    }
    ds = pixl_dataset_open(&d);
    o.batch_size = 1;
    o.n_workers = 3;
    L = pixl_loader_new(ds, &o);
    int rc = 0, k = 0;
    while (L && k < 10 && (rc = pixl_loader_next(L, &b)) == 0) k++;
    CHECK(rc < 0 && k == 1);
    CHECK_MSG(strstr(pixl_last_error(), path) != NULL, "%s", pixl_last_error());
    pixl_loader_free(L);
    pixl_dataset_free(ds);
    /* bad options */
    pixl_dataset *syn = pixl_dataset_open(NULL);
    pixl_loader_opts bo = {.resize_width = 5};
    CHECK(pixl_loader_new(syn, &bo) == NULL && pixl_last_status() == PIXL_ERR_ARG);
    pixl_augment_opts ba = {.contrast = 3};
    bo = (pixl_loader_opts){.augment = &ba};
    CHECK(pixl_loader_new(syn, &bo) == NULL && pixl_last_status() == PIXL_ERR_ARG);
    CHECK(pixl_loader_new(NULL, NULL) == NULL);
    pixl_dataset_free(syn);
}

/* the synthetic set through the loader at a realistic size: reports speed */
PIXL_TEST(loader_throughput_synthetic)
{
    pixl_dataset_opts d = {.kind = "synthetic", .count = 64, .seed = 1};
    pixl_dataset *ds = pixl_dataset_open(&d);
    pixl_augment_opts aug = {.scale_min = 0.8f, .scale_max = 1.25f, .crop_width = 64, .crop_height = 64, .hflip = 1};
    pixl_loader_opts o = {.batch_size = 16, .shuffle = 1, .n_workers = 2, .augment = &aug};
    pixl_loader *L = pixl_loader_new(ds, &o);
    pixl_batch b;
    int n = 0;
    for (int i = 0; L && i < pixl_loader_batches_per_epoch(L) && pixl_loader_next(L, &b) == 0; i++) n += b.n;
    CHECK(n == 64);
    pixl_loader_stats st;
    pixl_loader_get_stats(L, &st);
    printf("    synthetic 64x64: %.0f images/s produced, capacity %.0f/s, waited %.0f%% of %.3f s\n",
           st.images_per_second, st.capacity_per_second, 100 * st.wait_seconds / (st.total_seconds + 1e-12),
           st.total_seconds);
    pixl_loader_reset_stats(L);
    pixl_loader_get_stats(L, &st);
    CHECK(st.images == 0 && st.wait_seconds == 0);
    pixl_loader_free(L);
    pixl_dataset_free(ds);
}
