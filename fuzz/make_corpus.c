/* make_corpus.c — writes the seed corpus fuzz/corpus/<harness>/ with pixl
 * itself (and libmatio for the BSDS ground truth): small valid files of
 * each kind a harness reads, with the harness's selector byte in front
 * where it has one (fuzz/fuzz_<name>.c says which). `make fuzz-corpus`
 * builds and runs it; the files are kept in the repository.
 *   usage: make_corpus OUT_DIR  (OUT_DIR/<harness>/<seed>) */
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pixl_data.h"
#include "pixl_models.h"
#include "pixl_train.h"

static const char *g_out;

static void put(const char *harness, const char *name, const void *sel, size_t nsel, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_out, harness);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", g_out, harness, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    if (nsel) fwrite(sel, 1, nsel, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void put_text(const char *harness, const char *name, int sel, const char *text)
{
    unsigned char s = (unsigned char)sel;
    put(harness, name, &s, sel >= 0 ? 1 : 0, text, strlen(text));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void put_file(const char *harness, const char *name, int sel, const char *path)
{
    size_t n;
    unsigned char *b = slurp(path, &n), s = (unsigned char)sel;
    put(harness, name, &s, sel >= 0 ? 1 : 0, b, n);
    free(b);
}

static pixl_image *pattern(int w, int h, int c, int depth)
{
    pixl_image *im = pixl_image_new(w, h, c, depth);
    for (int i = 0; i < w * h * c; i++) {
        unsigned v = (unsigned)(i * 37 + 11);
        if (depth == 8) ((uint8_t *)im->data)[i] = (uint8_t)v;
        else ((uint16_t *)im->data)[i] = (uint16_t)(v * 251);
    }
    return im;
}

static void images(const char *tmp)
{
    char p[1024];
    struct { const char *name; int c, depth; } png[] = {{"grey8", 1, 8}, {"greyalpha8", 2, 8}, {"rgb8", 3, 8},
                                                        {"rgba8", 4, 8}, {"grey16", 1, 16}, {"rgb16", 3, 16},
                                                        {"rgba16", 4, 16}};
    for (size_t k = 0; k < sizeof png / sizeof png[0]; k++) {
        pixl_image *im = pattern(8, 6, png[k].c, png[k].depth);
        snprintf(p, sizeof p, "%s/%s.png", tmp, png[k].name);
        pixl_image_save_png(im, p);
        pixl_image_free(im);
        char name[64];
        /* selector: channels as stored / 3, depth as stored / 8 */
        snprintf(name, sizeof name, "%s.png", png[k].name);
        put_file("image", name, (int)(k % 4) | (int)((k % 3) << 2), p);
        snprintf(name, sizeof name, "%s.png", png[k].name);
        put_file("label", name, -1, p);
    }
    int32_t lab[8 * 6];
    for (int i = 0; i < 48; i++) lab[i] = (i * 7) % 12 == 11 ? 255 : (i * 7) % 12;
    uint8_t pal[12 * 3];
    pixl_voc_colours(12, pal);
    snprintf(p, sizeof p, "%s/palette.png", tmp);
    pixl_label_save_png(lab, 8, 6, pal, 12, p);
    put_file("image", "palette.png", 0, p);
    put_file("label", "palette.png", -1, p);
    snprintf(p, sizeof p, "%s/greylabel.png", tmp);
    pixl_label_save_png(lab, 8, 6, NULL, 0, p);
    put_file("label", "greylabel.png", -1, p);
    for (int c = 1; c <= 3; c += 2) {
        pixl_image *im = pattern(8, 6, c, 8);
        snprintf(p, sizeof p, "%s/j%d.jpg", tmp, c);
        pixl_image_save_jpeg(im, p, 80);
        pixl_image_free(im);
        put_file("image", c == 1 ? "grey.jpg" : "rgb.jpg", c == 1 ? 2 : 1, p);
        if (c == 3) put_file("label", "rgb.jpg", -1, p);
    }
}

static void safetensors(const char *tmp)
{
    char p[1024];
    pixl_st_writer *w = pixl_st_writer_new();
    float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    int64_t l[3] = {1, -5, 1LL << 40};
    int32_t i32[4] = {1, 2, 3, -4};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s4[1] = {4}, s0[1] = {0};
    pixl_st_writer_add(w, "weight", PIXL_F32, 2, s23, f);
    pixl_st_writer_add(w, "steps", PIXL_I64, 1, s3, l);
    pixl_st_writer_add(w, "index", PIXL_I32, 1, s4, i32);
    pixl_st_writer_add(w, "empty", PIXL_F32, 1, s0, f);
    pixl_st_writer_meta(w, "format", "pt");
    pixl_st_writer_meta(w, "class_names", "[\"sky\", \"road\"]");
    snprintf(p, sizeof p, "%s/a.safetensors", tmp);
    pixl_st_writer_save(w, p);
    pixl_st_writer_free(w);
    put_file("safetensors", "mixed.safetensors", -1, p);
    w = pixl_st_writer_new(); /* exactly the harness's parameter set */
    pixl_st_writer_add(w, "weight", PIXL_F32, 2, s23, f);
    pixl_st_writer_add(w, "steps", PIXL_I64, 1, s3, l);
    pixl_st_writer_add(w, "index", PIXL_I32, 1, s4, i32);
    pixl_st_writer_save(w, p);
    pixl_st_writer_free(w);
    put_file("safetensors", "params.safetensors", -1, p);
    /* dtypes the writer does not make: F16, BF16, F64, U8, BOOL, I16 */
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[4,8]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                      "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[16,18]},"
                      "\"t\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[18,19]},"
                      "\"s\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[19,21]},"
                      "\"__metadata__\":{\"op\":\"none\"}}";
    size_t hl = strlen(hdr);
    unsigned char buf[1024] = {0};
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    const unsigned char data[21] = {0x00, 0x3c, 0x01, 0x80, 0x80, 0x3f, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 7, 255, 1, 0xff, 0x7f};
    memcpy(buf + 8 + hl, data, sizeof data);
    put("safetensors", "dtypes.safetensors", NULL, 0, buf, 8 + hl + sizeof data);
}

static void bsds(const char *tmp)
{
    for (int variant = 0; variant < 2; variant++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/gt%d.mat", tmp, variant);
        remove(p);
        mat_t *mat = Mat_CreateVer(p, "MATLAB 5.0 MAT-file, written by pixl make_corpus", MAT_FT_MAT5);
        size_t cd[2] = {1, 2}, bd[2] = {5, 4}, sd[2] = {1, 1};
        matvar_t *cell = Mat_VarCreate("groundTruth", MAT_C_CELL, MAT_T_CELL, 2, cd, NULL, 0);
        for (int a = 0; a < 2; a++) {
            const char *fields[2] = {"Segmentation", "Boundaries"};
            matvar_t *st = Mat_VarCreateStruct(NULL, 2, sd, fields, 2);
            uint8_t seg[20], b8[20];
            double bd64[20];
            for (int i = 0; i < 20; i++) seg[i] = (uint8_t)(1 + i % 3), b8[i] = (uint8_t)((i + a) % 4 == 0), bd64[i] = b8[i];
            Mat_VarSetStructFieldByName(st, "Segmentation", 0,
                                        Mat_VarCreate(NULL, MAT_C_UINT8, MAT_T_UINT8, 2, bd, seg, 0));
            Mat_VarSetStructFieldByName(st, "Boundaries", 0,
                                        variant ? Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, bd, bd64, 0)
                                                : Mat_VarCreate(NULL, MAT_C_UINT8, MAT_T_UINT8, 2, bd, b8, MAT_F_LOGICAL));
            Mat_VarSetCell(cell, a, st);
        }
        Mat_VarWrite(mat, cell, variant ? MAT_COMPRESSION_NONE : MAT_COMPRESSION_ZLIB);
        Mat_VarFree(cell);
        Mat_Close(mat);
        put_file("bsds", variant ? "double_plain.mat" : "logical_zlib.mat", -1, p);
    }
}

static void config(const char *tmp)
{
    char p[1024];
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    snprintf(p, sizeof p, "%s/defaults.yaml", tmp);
    pixl_config_save(cfg, p); /* every key */
    free(cfg);
    /* without the comments: lines starting with '#', and "  # ..." at their ends */
    size_t n;
    char *text = (char *)slurp(p, &n), *o = text;
    text[n] = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *c = strstr(line, "  #");
        if (c) *c = 0;
        for (c = line + strlen(line); c > line && c[-1] == ' '; c--) c[-1] = 0;
        if (!*line || *line == '#') continue;
        size_t len = strlen(line);
        memmove(o, line, len);
        o += len;
        *o++ = '\n';
    }
    put("config", "defaults.yaml", NULL, 0, text, (size_t)(o - text));
    free(text);
    put_text("config", "minimal.yaml", -1,
             "data:\n  dataset: synthetic\n  crop: [32, 32]\nmodel:\n  arch: unet\n  options:\n    width: 8\n"
             "training:\n  max_iters: 10\n  batch_size: 2\n  optimizer:\n    name: adam\n    lr: 0.001\n"
             "  lr_schedule: {name: step, step_size: 3}\nvalidation:\n  every_epochs: 1\n");
    put_file("config", "synthetic_pixelnet_tiny.yaml", -1, "configs/synthetic_pixelnet_tiny.yaml");
    put_file("config", "camvid_enet_anchor.yaml", -1, "configs/camvid_enet_anchor.yaml");
    put_text("config", "with_set.yaml", -1,
             "data:\n  dataset: synthetic\nmodel:\n  arch: enet\ntraining:\n  epochs: 1\n"
             "--set\ntraining.optimizer.lr=0.01\ntraining.lr_schedule={name: step, step_size: 3}\n"
             "data.crop=[32, 32]\nmodel.options.width=4\n");
    put_text("config", "set_only", -1, "--set\ntraining.max_iters=5\ndata.dataset=synthetic\ntraining.optimizer={name: sgd, lr: 0.1}\n");
}

static void dataset_lists(void)
{
    put_text("dataset_list", "list", 0, "# image label\na.png a_L.png\nb.png  b_L.png\n\ntrain/c.png trainannot/c.png\n");
    put_text("dataset_list", "list_load", 16, "a.png a_L.png\n");
    put_text("dataset_list", "list_noext", 0, "a.jpg a_L.png\n");
    put_text("dataset_list", "list_unlabeled", 4 | 16, "a.png\nb.png\n");
    put_text("dataset_list", "camvid_segnet", 1 | 8 | 16,
             "/SegNet/CamVid/train/c.png /SegNet/CamVid/trainannot/c.png\r\n");
    put_text("dataset_list", "camvid_abs", 1, "/elsewhere/CamVid/train/c.png /x/trainannot/c.png\n");
    put_text("dataset_list", "voc_ids", 2 | 16, "x\n");
    put_text("dataset_list", "voc_pairs", 2, "JPEGImages/x.jpg SegmentationClass/x.png\n");
}

static void label_stores(const char *tmp)
{
    char p[1024];
    const char *names[3] = {"sky", "road", "car"};
    pixl_label_store *s = pixl_label_store_new(3, names);
    pixl_label_store_add_image(s, "img_a", 4, 6);
    pixl_label_store_add(s, "img_a", 1, 2, 0, 1);
    pixl_label_store_add(s, "img_a", 3, 5, 2, 2);
    pixl_label_store_add(s, "b", 0, 0, 1, 1);
    snprintf(p, sizeof p, "%s/labels.json", tmp);
    pixl_label_store_save(s, p);
    pixl_label_store_free(s);
    put_file("label_store", "store.json", -1, p);
    /* a store of the annotate fixture: CamVid classes, images a (16 x 20) and b (10 x 12) */
    const char *camvid[11] = {"Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                              "Pedestrian", "Bicyclist"};
    s = pixl_label_store_new(11, camvid);
    pixl_label_store_add_image(s, "a", 16, 20);
    pixl_label_store_add_image(s, "b", 10, 12);
    pixl_label_store_add(s, "a", 2, 3, 3, 1);
    pixl_label_store_add(s, "b", 9, 11, 8, 0);
    pixl_label_store_save(s, p);
    pixl_label_store_free(s);
    put_file("annotate", "labels.json", 3, p);
    put_file("annotate", "labels_store_as_queries.json", 0, p);
    put_text("label_store", "hand.json", -1,
             "{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 2, \"class_names\": [\"a\", \"b\"],\n"
             " \"images\": [{\"id\": \"x\", \"height\": 3, \"width\": 3, \"points\": [[0, 0, 1, 0], [2, 2, 0, 1]]}]}\n");
}

static void via(void)
{
    put_text("via", "via2.json", 0,
             "{\"_via_settings\": {\"ui\": {}},\n"
             " \"_via_img_metadata\": {\n"
             "  \"synthetic_000001.png1234\": {\"filename\": \"synthetic_000001.png\", \"size\": 1234, \"regions\": [\n"
             "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 10, \"cy\": 5}, \"region_attributes\": {\"class\": \"disc\"}},\n"
             "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 3.4, \"cy\": 7.6}, \"region_attributes\": {\"class\": \"r\"}},\n"
             "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 20, \"cy\": 30}, \"region_attributes\": {\"class\": \"\"}},\n"
             "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 21, \"cy\": 30},\n"
             "     \"region_attributes\": {\"class\": {\"triangle\": true, \"disc\": false}}}], \"file_attributes\": {}},\n"
             "  \"synthetic_000003.png99\": {\"filename\": \"images/synthetic_000003.png\", \"size\": 99, \"regions\": [\n"
             "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 0, \"cy\": 0}, \"region_attributes\": {\"class\": \"Rectangle\"}}]}},\n"
             " \"_via_attributes\": {\"region\": {\"class\": {\"type\": \"dropdown\",\n"
             "    \"options\": {\"r\": \"Ring\", \"b\": \"background\"}}}, \"file\": {}}}\n");
    put_text("via", "via2_export.json", 1,
             "{\"synthetic_000002.png1\": {\"filename\": \"synthetic_000002.png\", \"size\": 1, \"regions\": [\n"
             "  {\"shape_attributes\": {\"name\": \"point\", \"cx\": 1, \"cy\": 2}, \"region_attributes\": {\"class\": \"ring\"}}],"
             " \"file_attributes\": {}}}\n");
    put_text("via", "via3.json", 2,
             "{\"project\": {\"pid\": \"__VIA_PROJECT_ID__\", \"data_format_version\": \"3.1.1\", \"vid_list\": [\"0\", \"1\"]},\n"
             " \"config\": {\"ui\": {\"spatial_region_label_attribute_id\": \"1\"}},\n"
             " \"attribute\": {\"1\": {\"aname\": \"Class\", \"anchor_id\": \"FILE1_Z0_XY1\", \"type\": 3, \"desc\": \"\",\n"
             "    \"options\": {\"K\": \"bacKground\", \"D\": \"Disc\", \"R\": \"Ring\"}, \"default_option_id\": \"\"}},\n"
             " \"file\": {\"0\": {\"fid\": 0, \"fname\": \"datasets/x/synthetic_000002.png\", \"type\": 2, \"loc\": 2,\n"
             "                \"src\": \"datasets/x/synthetic_000002.png\"},\n"
             "          \"1\": {\"fid\": 1, \"fname\": \"synthetic_000004.png\", \"type\": 2, \"loc\": 2, \"src\": \"synthetic_000004.png\"}},\n"
             " \"view\": {\"0\": {\"fid_list\": [0]}, \"1\": {\"fid_list\": [1]}},\n"
             " \"metadata\": {\"0_abcdefgh\": {\"vid\": \"0\", \"flg\": 0, \"z\": [], \"xy\": [1, 12, 7], \"av\": {\"1\": \"D\"}},\n"
             "              \"0_bcdefghi\": {\"vid\": \"0\", \"flg\": 0, \"z\": [], \"xy\": [1, 2, 3], \"av\": {\"1\": \"k\"}},\n"
             "              \"1_cdefghij\": {\"vid\": \"1\", \"flg\": 0, \"z\": [], \"xy\": [1, 47, 39], \"av\": {}},\n"
             "              \"1_defghijk\": {\"vid\": \"1\", \"flg\": 0, \"z\": [], \"xy\": [1, 40, 30], \"av\": {\"1\": \"R\"}}}}\n");
}

static void click_logs(const char *tmp)
{
    char p[1024];
    pixl_click rows[3] = {{120, 33, 3, 1.532, 1.532}, {48, 301, 0, 0.871, 2.403}, {0, 0, 10, 0.5, 2.903}};
    const char *camvid[11] = {"Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                              "Pedestrian", "Bicyclist"};
    snprintf(p, sizeof p, "%s/clicks.csv", tmp);
    pixl_click_log_save(p, rows, 3, 11, camvid);
    put_file("click_log", "saved.csv", -1, p);
    put_text("click_log", "numpy.csv", -1,
             "loc,label,elapsed_time,total_time\r\n(np.int64(120), np.int64(33)),road,1.532,1.532\r\n\r\n"
             "(48, 301),sky,0.871,2.403\r\n");
    put_text("annotate", "clicks_a.csv", 4, "loc,label,elapsed_time,total_time\n(2, 3),road,1.5,1.5\n");
}

static void annotate(void)
{
    const char *q = "{\"format\": \"pixl-query-set\", \"version\": 1, \"round\": 2, \"images\": [\n"
                    " {\"id\": \"a\", \"height\": 16, \"width\": 20, \"points\": [[2, 3], [0, 9], [5, 1]]},\n"
                    " {\"id\": \"b\", \"file\": \"b.png\", \"points\": [[1, 1], [9, 11]]}]}\n";
    put_text("annotate", "queries.json", 0, q);
    put_text("annotate", "classes.txt", 1, "# name = key #colour\nsky = s #808080\nroad\nSign symbol = 9\ncar = c\n");
    put_text("annotate", "skips.json", 2,
             "{\"format\": \"pixl-annotate-skips\", \"version\": 1, \"images\": [{\"id\": \"a\", \"points\": [[0, 9]]},"
             " {\"id\": \"zz\", \"points\": [[1, 1]]}]}\n");
    put_text("annotate", "req_label.json", 5 | (0 << 3), "{\"key\": \"r\", \"image\": \"a\", \"y\": 2, \"x\": 3}");
    put_text("annotate", "req_label_class.json", 6 | (0 << 3), "{\"class\": 8, \"image\": \"b\", \"y\": 1, \"x\": 1}");
    put_text("annotate", "req_skip.json", 5 | (1 << 3), "{\"image\": \"a\", \"y\": 5, \"x\": 1}");
    put_text("annotate", "req_undo.json", 5 | (2 << 3), "");
    put_text("annotate", "req_next.json", 7 | (5 << 3), "{}");
}

static void check_cases(void)
{
    static const char *const cases[] = {"tests/ref/loss/ce_2d.safetensors", "tests/ref/elem/add_outer.safetensors",
                                        "tests/ref/elem/cat_dim0.safetensors", "tests/ref/elem/slice_dim0.safetensors",
                                        "tests/ref/pool/bilinear_to_1x1.safetensors",
                                        "tests/ref/pag/gate_kl_l1.safetensors",
                                        "tests/ref/pag/layer_gate_infer_s1.safetensors",
                                        "tests/ref/pixelnet/balanced_bce_mean.safetensors"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *base = strrchr(cases[i], '/') + 1;
        put_file("check_case", base, -1, cases[i]);
        if (i < 2) put_file("safetensors", base, -1, cases[i]);
    }
}

static void report(void)
{
    put_text("report", "log.jsonl", 0,
             "{\"type\":\"train\",\"step\":20,\"epoch\":0,\"minutes\":0.05,\"loss\":1.2,\"lr\":0.003,\"img_per_s\":120.0,"
             "\"loader_wait\":0.05,\"loader_capacity_img_per_s\":400}\n"
             "{\"type\":\"train\",\"step\":40,\"epoch\":1,\"minutes\":0.1,\"loss\":nan,\"lr\":0.0025}\n"
             "{\"type\":\"val\",\"step\":40,\"epoch\":2,\"minutes\":0.11,\"train_loss\":0.5,\"best\":true,"
             "\"metrics\":{\"miou\":0.41,\"pixel_acc\":0.8,\"iou\":[0.9,0.2,null],\"classes\":[\"a\",\"b\",\"c\"]}}\n"
             "{\"type\":\"train\",\"step\":20,\"epoch\":0,\"minutes\":0.16,\"loss\":0.7,\"lr\":0.002}\n"
             "{\"type\":\"note\",\"text\":\"other record types are ignored\"}\n{\"type\":\"train\",\"st");
    put_text("report", "summary.json", 1,
             "{\"format\": \"pixl-pixelpick\", \"dataset\": \"camvid\", \"arch\": \"enet\", \"strategy\": \"margin\",\n"
             " \"selection\": \"top\", \"top_fraction\": 0.05, \"per_round\": 10, \"budget\": 50, \"query_model\": \"best\",\n"
             " \"mc_dropout\": 0, \"oracle\": \"gt\", \"epochs_per_round\": 5, \"warm_start\": true, \"train_images\": 367,\n"
             " \"metric_split\": \"val\", \"rounds\": [\n"
             "  {\"round\": 0, \"pixels_per_image\": 10, \"labelled_pixels\": 3670, \"val_miou_last\": 0.3,"
             " \"val_miou_best\": 0.31, \"train_minutes\": 4.5},\n"
             "  {\"round\": 1, \"pixels_per_image\": 20, \"labelled_pixels\": 7340, \"val_miou_last\": null,"
             " \"val_miou_best\": 0.4, \"train_minutes\": 4.1}],\n"
             " \"full\": {\"val_miou_last\": 0.55, \"val_miou_best\": 0.56, \"train_minutes\": 30}}\n");
}

static void models(const char *tmp)
{
    char p[1024];
    static const char *const variants[2] = {"depth1", "depth2"}; /* width 1/16: 2 channels at the top */
    for (int k = 0; k < 2; k++) {
        pixl_model_opts o = {.n_classes = 3, .in_channels = k ? 3 : 1, .width = 0.0625f, .variant = variants[k]};
        pixl_model *m = pixl_model_create("unet", &o, 1);
        const char *names[3] = {"sky", "road", "car"};
        const uint8_t cols[9] = {128, 128, 128, 128, 64, 128, 64, 0, 128};
        pixl_model_set_classes(m, names, cols);
        snprintf(p, sizeof p, "%s/m.safetensors", tmp);
        pixl_model_save(m, p, 0, NULL, NULL);
        pixl_model_free(m);
        put_file("model", k ? "unet_depth2.safetensors" : "unet_depth1_grey.safetensors", -1, p);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR\n");
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/pixl-corpus-%d", (int)getpid());
    mkdir(tmp, 0700);
    images(tmp);
    safetensors(tmp);
    bsds(tmp);
    config(tmp);
    dataset_lists();
    label_stores(tmp);
    via();
    click_logs(tmp);
    annotate();
    check_cases();
    report();
    models(tmp);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) ? 1 : 0;
}
