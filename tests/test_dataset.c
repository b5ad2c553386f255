/* test_dataset.c — datasets: the synthetic generator (determinism by seed,
 * exact labels, every class present), list files (SegNet prefixes,
 * extension fallback, errors naming the list line), folder pairing, and the
 * label mappings of VOC, Cityscapes and ADE20K on tiny fake folders made in
 * the test tmpdir; CamVid's real lists when ../shared is present. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "pixl_data.h"

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

/* "<tmpdir>/<fmt...>" */
static const char *tp(const char *fmt, const char *a)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) & 7;
    char rel[512];
    snprintf(rel, sizeof rel, fmt, a);
    snprintf(buf[k], sizeof buf[k], "%s/%s", pixl_test_tmpdir(), rel);
    return buf[k];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* an RGB image file (PNG or JPEG by extension) of w x h */
static void make_image(const char *path, int w, int h, int seed)
{
    pixl_image *img = pixl_image_new(w, h, 3, 8);
    for (int i = 0; i < w * h * 3; i++) ((uint8_t *)img->data)[i] = (uint8_t)(i * 13 + seed * 71);
    const char *dot = strrchr(path, '.');
    int rc = dot && !strcmp(dot, ".jpg") ? pixl_image_save_jpeg(img, path, 90) : pixl_image_save_png(img, path);
    CHECK_MSG(rc == 0, "%s", pixl_last_error());
    pixl_image_free(img);
}

/* a label PNG holding `vals` repeated */
static void make_label(const char *path, int w, int h, const int32_t *vals, int nv, int palette)
{
    int32_t *lab = malloc(sizeof *lab * w * h);
    for (int i = 0; i < w * h; i++) lab[i] = vals[i % nv];
    static const uint8_t pal[6] = {0, 0, 0, 128, 0, 0};
    CHECK_OK(pixl_label_save_png(lab, w, h, palette ? pal : NULL, palette ? 2 : 0, path));
    free(lab);
}

/* load sample i and check its labels are map(vals) repeated */
static void check_mapped(pixl_dataset *ds, int i, int w, int h, const int32_t *want, int nv)
{
    pixl_image *img;
    int32_t *lab;
    int rc = pixl_dataset_load(ds, i, &img, &lab);
    CHECK_MSG(rc == 0, "load %d: %s", i, pixl_last_error());
    if (rc) return;
    CHECK(img->width == w && img->height == h && img->channels == 3 && img->depth == 8);
    int bad = -1;
    for (int p = 0; p < w * h && bad < 0; p++)
        if (lab[p] != want[p % nv]) bad = p;
    CHECK_MSG(bad < 0, "%s sample %d: label %d at %d, want %d", pixl_dataset_kind(ds), i, bad >= 0 ? lab[bad] : 0,
              bad, bad >= 0 ? want[bad % nv] : 0);
    pixl_image_free(img);
    free(lab);
}

PIXL_TEST(dataset_synthetic_deterministic)
{
    pixl_dataset_opts o = {.kind = "synthetic", .count = 40, .seed = 7};
    pixl_dataset *a = pixl_dataset_open(&o);
    o.count = 12; /* sample i must not depend on the count */
    pixl_dataset *b = pixl_dataset_open(&o);
    o.seed = 8;
    pixl_dataset *c = pixl_dataset_open(&o);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    CHECK(pixl_dataset_size(a) == 40 && pixl_dataset_n_classes(a) == 5 && pixl_dataset_has_labels(a));
    CHECK(!strcmp(pixl_dataset_class_name(a, 0), "background") && pixl_dataset_class_name(a, 5) == NULL);
    CHECK(pixl_dataset_image_path(a, 0) == NULL && !strcmp(pixl_dataset_sample_name(a, 3), "synthetic_000003"));
    long hist[6] = {0};
    int differ_seed = 0;
    for (int i = 0; i < 40; i++) {
        pixl_image *ia, *ib;
        int32_t *la, *lb;
        CHECK_OK(pixl_dataset_load(a, i, &ia, &la));
        CHECK(ia->width == 64 && ia->height == 64 && ia->channels == 3);
        for (int p = 0; p < 64 * 64; p++) hist[la[p] >= 0 && la[p] < 5 ? la[p] : 5]++;
        if (i < 12) {
            CHECK_OK(pixl_dataset_load(b, i, &ib, &lb));
            CHECK_MSG(!memcmp(ia->data, ib->data, 64 * 64 * 3) && !memcmp(la, lb, 4 * 64 * 64),
                      "synthetic sample %d differs between two opens", i);
            pixl_image_free(ib), free(lb);
            CHECK_OK(pixl_dataset_load(c, i, &ib, &lb));
            differ_seed += memcmp(ia->data, ib->data, 64 * 64 * 3) != 0;
            pixl_image_free(ib), free(lb);
        }
        pixl_image_free(ia), free(la);
    }
    CHECK(hist[5] == 0);
    for (int k = 0; k < 5; k++) CHECK_MSG(hist[k] > 40 * 64 * 64 / 50, "class %d covers only %ld pixels", k, hist[k]);
    CHECK(differ_seed == 12);
    /* other sizes */
    pixl_dataset_opts o2 = {.kind = "synthetic", .width = 96, .height = 40, .count = 2};
    pixl_dataset *d = pixl_dataset_open(&o2);
    pixl_image *img;
    int32_t *lab;
    CHECK(d && pixl_dataset_load(d, 1, &img, &lab) == 0 && img->width == 96 && img->height == 40);
    if (d) pixl_image_free(img), free(lab);
    CHECK(pixl_dataset_load(d, 2, &img, &lab) == PIXL_ERR_ARG);
    pixl_dataset_free(d);
    pixl_dataset_free(a), pixl_dataset_free(b), pixl_dataset_free(c);
    /* no options at all: the default synthetic set */
    d = pixl_dataset_open(NULL);
    CHECK(d && pixl_dataset_size(d) == 1024 && !strcmp(pixl_dataset_kind(d), "synthetic"));
    pixl_dataset_free(d);
}

PIXL_TEST(dataset_list_segnet_paths_and_errors)
{
    char root[1024];
    snprintf(root, sizeof root, "%s", tp("seg%s", ""));
    mkdirs(tp("seg/train%s", ""));
    mkdirs(tp("seg/trainannot%s", ""));
    make_image(tp("seg/train/a.png", ""), 8, 6, 1);
    make_image(tp("seg/train/b.jpg", ""), 8, 6, 2); /* listed as .png: found as .jpg */
    const int32_t vals[4] = {0, 3, 11, 10};
    make_label(tp("seg/trainannot/a.png", ""), 8, 6, vals, 4, 0);
    make_label(tp("seg/trainannot/b.png", ""), 8, 6, vals, 4, 0);
    write_text(tp("seg/train.txt", ""), "# SegNet-Tutorial style\n"
                                        "/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png\n"
                                        "\n"
                                        "/SegNet/CamVid/train/b.png /SegNet/CamVid/trainannot/b.png\n");
    pixl_dataset_opts o = {.kind = "list", .root = root, .split = "train", .n_classes = 11};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (ds) {
        CHECK(pixl_dataset_size(ds) == 2);
        CHECK(strstr(pixl_dataset_image_path(ds, 1), "train/b.jpg") != NULL);
        CHECK(!strcmp(pixl_dataset_sample_name(ds, 1), "b"));
        const int32_t want[4] = {0, 3, 255, 10};
        check_mapped(ds, 0, 8, 6, want, 4);
        check_mapped(ds, 1, 8, 6, want, 4);
        CHECK(!strcmp(pixl_dataset_class_name(ds, 2), "class2"));
    }
    pixl_dataset_free(ds);
    /* an explicit prefix */
    write_text(tp("seg/pref.txt", ""), "/data/x/train/a.png /data/x/trainannot/a.png\n");
    o.list = "pref.txt";
    o.strip_prefix = "/data/x/";
    ds = pixl_dataset_open(&o);
    CHECK_MSG(ds && pixl_dataset_size(ds) == 1, "%s", pixl_last_error());
    pixl_dataset_free(ds);
    /* a missing file: error names the list, the line and the file */
    write_text(tp("seg/broken.txt", ""), "train/a.png trainannot/a.png\ntrain/a.png trainannot/zzz.png\n");
    o.list = "broken.txt";
    o.strip_prefix = NULL;
    CHECK(pixl_dataset_open(&o) == NULL && pixl_last_status() == PIXL_ERR_NOT_FOUND);
    CHECK_MSG(strstr(pixl_last_error(), "line 2") && strstr(pixl_last_error(), "zzz.png") &&
                  strstr(pixl_last_error(), "broken.txt"),
              "%s", pixl_last_error());
    write_text(tp("seg/three.txt", ""), "train/a.png trainannot/a.png extra\n");
    o.list = "three.txt";
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "line 1"));
    o.list = "nope.txt";
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "nope.txt"));
    /* mismatched sizes name both files */
    make_label(tp("seg/trainannot/small.png", ""), 4, 6, vals, 4, 0);
    write_text(tp("seg/mis.txt", ""), "train/a.png trainannot/small.png\n");
    o.list = "mis.txt";
    ds = pixl_dataset_open(&o);
    CHECK(ds != NULL);
    pixl_image *img;
    int32_t *lab;
    CHECK(pixl_dataset_load(ds, 0, &img, &lab) == PIXL_ERR_SHAPE && strstr(pixl_last_error(), "small.png") &&
          strstr(pixl_last_error(), "a.png"));
    pixl_dataset_free(ds);
    /* bad options */
    pixl_dataset_opts bad = {.kind = "list", .root = root};
    CHECK(pixl_dataset_open(&bad) == NULL && strstr(pixl_last_error(), "n_classes"));
    bad.kind = "imagenet";
    CHECK(pixl_dataset_open(&bad) == NULL && strstr(pixl_last_error(), "imagenet"));
    pixl_dataset_opts nor = {.kind = "camvid", .root = tp("nowhere%s", "")};
    CHECK(pixl_dataset_open(&nor) == NULL && strstr(pixl_last_error(), "nowhere"));
}

PIXL_TEST(dataset_folder_kind)
{
    mkdirs(tp("fold/val/images%s", ""));
    mkdirs(tp("fold/val/labels%s", ""));
    make_image(tp("fold/val/images/x1.png", ""), 5, 4, 1);
    make_image(tp("fold/val/images/x0.jpg", ""), 5, 4, 2);
    write_text(tp("fold/val/images/notes.txt", ""), "not an image");
    const int32_t vals[3] = {1, 0, 7};
    make_label(tp("fold/val/labels/x0_mask.png", ""), 5, 4, vals, 3, 0);
    make_label(tp("fold/val/labels/x1_mask.png", ""), 5, 4, vals, 3, 0);
    static const char *const names[] = {"bg", "thing", NULL};
    pixl_dataset_opts o = {.kind = "folder", .root = tp("fold%s", ""), .split = "val", .label_suffix = "_mask",
                           .class_names = names};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (ds) {
        CHECK(pixl_dataset_size(ds) == 2 && pixl_dataset_n_classes(ds) == 2);
        CHECK(!strcmp(pixl_dataset_sample_name(ds, 0), "x0") && !strcmp(pixl_dataset_class_name(ds, 1), "thing"));
        const int32_t want[3] = {1, 0, 255};
        check_mapped(ds, 0, 5, 4, want, 3);
    }
    pixl_dataset_free(ds);
    /* unlabeled: labels are all 255 */
    o.unlabeled = 1;
    o.label_dir = "nothing_here";
    ds = pixl_dataset_open(&o);
    CHECK(ds && !pixl_dataset_has_labels(ds) && pixl_dataset_label_path(ds, 0) == NULL);
    if (ds) {
        const int32_t want[1] = {255};
        check_mapped(ds, 1, 5, 4, want, 1);
    }
    pixl_dataset_free(ds);
    /* a missing label names it */
    unlink(tp("fold/val/labels/x1_mask.png", ""));
    o.unlabeled = 0;
    o.label_dir = NULL;
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "x1_mask.png"));
}

PIXL_TEST(dataset_voc_mapping)
{
    mkdirs(tp("voc/VOCdevkit/VOC2012/JPEGImages%s", ""));
    mkdirs(tp("voc/VOCdevkit/VOC2012/SegmentationClass%s", ""));
    mkdirs(tp("voc/VOCdevkit/VOC2012/SegmentationClassAug%s", ""));
    mkdirs(tp("voc/VOCdevkit/VOC2012/ImageSets/Segmentation%s", ""));
    const char *ids[2] = {"2007_000032", "2008_000001"};
    const int32_t vals[5] = {0, 5, 20, 255, 22};
    for (int i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "voc/VOCdevkit/VOC2012/JPEGImages/%s.jpg", ids[i]);
        make_image(tp("%s", rel), 10, 7, i);
        snprintf(rel, sizeof rel, "voc/VOCdevkit/VOC2012/SegmentationClass/%s.png", ids[i]);
        make_label(tp("%s", rel), 10, 7, vals, 5, 1); /* palette PNG, like VOC's */
        snprintf(rel, sizeof rel, "voc/VOCdevkit/VOC2012/SegmentationClassAug/%s.png", ids[i]);
        make_label(tp("%s", rel), 10, 7, vals + 1, 4, 0); /* grey, like SBD's */
    }
    write_text(tp("voc/VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt", ""), "2007_000032\n2008_000001\n");
    write_text(tp("voc/VOCdevkit/VOC2012/train_aug.txt", ""),
               "/JPEGImages/2008_000001.jpg /SegmentationClassAug/2008_000001.png\n");
    pixl_dataset_opts o = {.kind = "voc", .root = tp("voc%s", ""), .split = "val"};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (ds) {
        CHECK(pixl_dataset_size(ds) == 2 && pixl_dataset_n_classes(ds) == 21);
        CHECK(!strcmp(pixl_dataset_class_name(ds, 15), "person"));
        const uint8_t *c = pixl_dataset_colours(ds);
        CHECK(c[3] == 128 && c[4] == 0 && c[5] == 0 && c[45] == 192 && c[46] == 128 && c[47] == 128);
        const int32_t want[5] = {0, 5, 20, 255, 255};
        check_mapped(ds, 1, 10, 7, want, 5);
    }
    pixl_dataset_free(ds);
    o.split = "train_aug";
    ds = pixl_dataset_open(&o);
    CHECK_MSG(ds && pixl_dataset_size(ds) == 1, "%s", pixl_last_error());
    if (ds) {
        CHECK(strstr(pixl_dataset_label_path(ds, 0), "SegmentationClassAug/2008_000001.png") != NULL);
        const int32_t want[4] = {5, 20, 255, 255};
        check_mapped(ds, 0, 10, 7, want, 4);
    }
    pixl_dataset_free(ds);
    o.split = "test";
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "test"));
}

PIXL_TEST(dataset_cityscapes_mapping)
{
    mkdirs(tp("cs/leftImg8bit/train/aachen%s", ""));
    mkdirs(tp("cs/gtFine/train/aachen%s", ""));
    mkdirs(tp("cs/leftImg8bit/train/bremen%s", ""));
    mkdirs(tp("cs/gtFine/train/bremen%s", ""));
    const int32_t vals[9] = {0, 7, 8, 26, 33, 34, 9, 24, 23};
    const int32_t want[9] = {255, 0, 1, 13, 18, 255, 255, 11, 10};
    make_image(tp("cs/leftImg8bit/train/bremen/bremen_000000_000019_leftImg8bit.png", ""), 9, 3, 1);
    make_label(tp("cs/gtFine/train/bremen/bremen_000000_000019_gtFine_labelIds.png", ""), 9, 3, vals, 9, 0);
    make_image(tp("cs/leftImg8bit/train/aachen/aachen_000001_000019_leftImg8bit.png", ""), 9, 3, 2);
    make_label(tp("cs/gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png", ""), 9, 3, vals, 9, 0);
    pixl_dataset_opts o = {.kind = "cityscapes", .root = tp("cs%s", "")};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (ds) {
        CHECK(pixl_dataset_size(ds) == 2 && pixl_dataset_n_classes(ds) == 19);
        CHECK(strstr(pixl_dataset_image_path(ds, 0), "aachen") != NULL); /* cities sorted */
        CHECK(!strcmp(pixl_dataset_class_name(ds, 18), "bicycle"));
        check_mapped(ds, 0, 9, 3, want, 9);
        check_mapped(ds, 1, 9, 3, want, 9);
    }
    pixl_dataset_free(ds);
    /* missing annotation */
    make_image(tp("cs/leftImg8bit/train/bremen/bremen_000002_000019_leftImg8bit.png", ""), 9, 3, 3);
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "bremen_000002_000019_gtFine_labelIds.png"));
}

PIXL_TEST(dataset_ade20k_mapping)
{
    mkdirs(tp("ade/ADEChallengeData2016/images/validation%s", ""));
    mkdirs(tp("ade/ADEChallengeData2016/annotations/validation%s", ""));
    const int32_t vals[4] = {0, 1, 150, 151};
    const int32_t want[4] = {255, 0, 149, 255};
    make_image(tp("ade/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg", ""), 6, 6, 1);
    make_label(tp("ade/ADEChallengeData2016/annotations/validation/ADE_val_00000001.png", ""), 6, 6, vals, 4, 0);
    pixl_dataset_opts o = {.kind = "ade20k", .root = tp("ade/ADEChallengeData2016%s", ""), .split = "val"};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (ds) {
        CHECK(pixl_dataset_size(ds) == 1 && pixl_dataset_n_classes(ds) == 150);
        CHECK(!strcmp(pixl_dataset_class_name(ds, 0), "wall") && !strcmp(pixl_dataset_class_name(ds, 149), "flag"));
        check_mapped(ds, 0, 6, 6, want, 4);
    }
    pixl_dataset_free(ds);
    o.split = "train";
    CHECK(pixl_dataset_open(&o) == NULL && strstr(pixl_last_error(), "training"));
}

PIXL_TEST(dataset_camvid_real_lists)
{
    const char *sh = getenv("PIXL_SHARED") ? getenv("PIXL_SHARED") : "../shared";
    char root[1024], list[1100];
    snprintf(root, sizeof root, "%s/datasets/camvid", sh);
    snprintf(list, sizeof list, "%s/train.txt", root);
    if (access(list, R_OK)) {
        printf("    (skip: %s not found)\n", list);
        return;
    }
    pixl_dataset_opts o = {.kind = "camvid", .root = root, .split = "train"};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (!ds) return;
    CHECK(pixl_dataset_size(ds) == 367 && pixl_dataset_n_classes(ds) == 11);
    CHECK(!strcmp(pixl_dataset_class_name(ds, 10), "Bicyclist"));
    CHECK_NEAR(pixl_dataset_mean(ds)[0], 0.4119, 1e-6);
    CHECK(strstr(pixl_dataset_image_path(ds, 0), "train/0001TP_006690.jpg") != NULL);
    CHECK(strstr(pixl_dataset_label_path(ds, 0), "trainannot/0001TP_006690.png") != NULL);
    pixl_dataset_free(ds);
    o.split = "val";
    o.limit = 3;
    ds = pixl_dataset_open(&o);
    CHECK(ds && pixl_dataset_size(ds) == 3);
    for (int i = 0; ds && i < 3; i++) {
        pixl_image *img;
        int32_t *lab;
        int rc = pixl_dataset_load(ds, i, &img, &lab);
        CHECK_MSG(rc == 0, "%s", pixl_last_error());
        if (rc) continue;
        CHECK(img->width == 480 && img->height == 360);
        int w, h, voids = 0, ign = 0, bad = 0;
        int32_t *raw = pixl_label_load(pixl_dataset_label_path(ds, i), &w, &h);
        for (int p = 0; raw && p < w * h; p++) {
            voids += raw[p] == 11;
            ign += lab[p] == 255;
            bad += !(lab[p] == 255 || (lab[p] >= 0 && lab[p] < 11)) || (raw[p] < 11 && raw[p] != lab[p]);
        }
        CHECK(raw && voids == ign && bad == 0);
        free(raw);
        pixl_image_free(img);
        free(lab);
    }
    pixl_dataset_free(ds);
}
