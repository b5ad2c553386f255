/* test_opts.c — typed options: unknown keys name themselves and the valid
 * ones; the compact names (pacnet's crfi5p4d5161, jbu_17_2_0.25_x8,
 * inv_0.5_-1_asym, PixelNet's variant strings) fill the same structs as the
 * key/value and YAML mapping forms; configs and heads round-trip. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "pixl_train.h"

/* the call failed with `status` and a message containing every one of want[] */
static int failed_with(int rc, int status, const char *const *want, int n)
{
    if (rc != status) {
        pixl_test_fail(__FILE__, __LINE__, "status %d, expected %d (%s)", rc, status, pixl_last_error());
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!strstr(pixl_last_error(), want[i])) {
            pixl_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", pixl_last_error(), want[i]);
            return 0;
        }
    return 1;
}
#define CHECK_FAILS(expr, status, ...)                                                                  \
    do {                                                                                                \
        const char *const w_[] = {__VA_ARGS__};                                                         \
        failed_with((expr), status, w_, (int)(sizeof w_ / sizeof w_[0]));                               \
    } while (0)

PIXL_TEST(opts_unknown_keys_name_the_alternatives)
{
    pixl_pn_head_opts h = pixl_pn_head_defaults(), h0 = h;
    CHECK_FAILS(pixl_pn_head_set(&h, "mpl", "64"), PIXL_ERR_NOT_FOUND, "'pixelnet.mpl'", "did you mean 'mlp'",
                "valid keys: taps, mlp, dropout, hc_dropout, bn, align, chunk");
    CHECK(!memcmp(&h, &h0, sizeof h));
    pixl_crf_opts c = pixl_crf_defaults();
    CHECK_FAILS(pixl_crf_set(&c, "iterations", "5"), PIXL_ERR_NOT_FOUND, "'crf.iterations'", "steps", "terms");
    pixl_jointup_opts j = pixl_jointup_defaults();
    CHECK_FAILS(pixl_jointup_set(&j, "kernal", "5"), PIXL_ERR_NOT_FOUND, "'jointup.kernal'", "did you mean 'kernel'",
                "scale_color");
    pixl_pac_opts p = {0};
    CHECK_FAILS(pixl_pac_set(&p, "kernel_kind", "inv"), PIXL_ERR_NOT_FOUND, "'pac.kernel_kind'", "kernel_type", "filler");

    /* config file: file, line, key, alternatives */
    pixl_train_config cfg;
    CHECK_FAILS(pixl_config_load_string("model:\n  arch: pixelnet\n  options:\n    backbone: pixelnet_tiny\n    layers: 3\n",
                                        "run.yaml", &cfg),
                PIXL_ERR_FORMAT, "run.yaml:5: unknown key 'model.options.layers'", "valid keys: width, variant",
                "mlp", "chunk");
    /* a bad value points at the value's line */
    CHECK_FAILS(pixl_config_load_string("model:\n  arch: pixelnet\n  options: {\n    mlp:\n      [64, x]}\n", "run.yaml", &cfg),
                PIXL_ERR_FORMAT, "run.yaml:5: model.options.mlp: element 1: expected an integer, got 'x'");
    /* overrides */
    CHECK_OK(pixl_config_defaults(&cfg));
    pixl_train_config before = cfg;
    CHECK_FAILS(pixl_config_set(&cfg, "model.options.foo", "1"), PIXL_ERR_NOT_FOUND, "'model.options.foo'",
                "valid keys: width");
    CHECK_FAILS(pixl_config_set(&cfg, "nosuch.key", "1"), PIXL_ERR_NOT_FOUND, "'nosuch.key'",
                "valid keys: model, data, training");
    CHECK_FAILS(pixl_config_set(&cfg, "model.options", "{width: 2, foo: 1}"), PIXL_ERR_ARG, "'model.options.foo'");
    CHECK(memcmp(&cfg, &before, sizeof cfg) == 0);
}

PIXL_TEST(opts_crf_compact_equals_keys)
{
    static const struct {
        const char *compact;
        const char *kv[4][2];
    } cases[] = {
        {"crfi5p4d5161p4d541", {{"steps", "5"}, {"terms", "[4d:5:16:1, 4d:5:4:1]"}}},
        {"crf", {{"terms", "4d:5:16:1"}}}, /* pacnet's defaults */
        {"crfi3lp2ds3212p0d321pna111", {{"steps", "3"}, {"loose", "true"}, {"terms", "2d:3:21:2:s, 0d:3:2:1, na:1:1:1"}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pixl_crf_opts a, b = pixl_crf_defaults();
        CHECK_OK(pixl_crf_parse(cases[i].compact, &a));
        for (int k = 0; k < 4 && cases[i].kv[k][0]; k++) CHECK_OK(pixl_crf_set(&b, cases[i].kv[k][0], cases[i].kv[k][1]));
        CHECK_MSG(!memcmp(&a, &b, sizeof a), "%s: compact and key/value forms differ", cases[i].compact);
    }
    pixl_crf_opts a;
    CHECK_OK(pixl_crf_parse("crfi5p4d5641p2ds3161", &a));
    CHECK(a.num_steps == 5 && a.n_terms == 2 && a.terms[0].dilation == 64 && a.terms[1].compat == PIXL_CRF_2D &&
          a.terms[1].spatial_filter == 1 && a.terms[1].kernel_size == 3 && a.terms[1].blur == 1);
    /* the same checks on both spellings */
    CHECK_FAILS(pixl_crf_parse("crfp4d4161", &a), PIXL_ERR_ARG, "crfp4d4161", "kernel 4 (odd)");
    pixl_crf_opts b = pixl_crf_defaults();
    CHECK_FAILS(pixl_crf_set(&b, "terms", "4d:4:16:1"), PIXL_ERR_ARG, "crf.terms", "kernel 4 (odd)");
    CHECK_FAILS(pixl_crf_set(&b, "terms", "3d:5:16:1"), PIXL_ERR_ARG, "crf.terms: term '3d:5:16:1'");
    CHECK(b.n_terms == 0);
}

PIXL_TEST(opts_jointup_and_pac_compact_equal_keys)
{
    pixl_jointup_opts a, b = pixl_jointup_defaults();
    CHECK_OK(pixl_jointup_parse("jbu_17_2_0.25_x8", &a));
    CHECK_OK(pixl_jointup_set(&b, "arch", "jbu"));
    CHECK_OK(pixl_jointup_set(&b, "kernel", "17"));
    CHECK_OK(pixl_jointup_set(&b, "scale_color", "2"));
    CHECK_OK(pixl_jointup_set(&b, "scale_space", "0.25"));
    CHECK_OK(pixl_jointup_set(&b, "factor", "8"));
    CHECK_OK(pixl_jointup_check(&b));
    CHECK(!memcmp(&a, &b, sizeof a) && a.arch == PIXL_JU_JBU && a.jbu_kernel == 17 && a.jbu_scale_space == 0.25f);
    CHECK_OK(pixl_jointup_parse("pacjointupsample_lite_x16", &a));
    CHECK(a.arch == PIXL_JU_PAC_LITE && a.factor == 16 && a.guide_channels == 3);
    CHECK_FAILS(pixl_jointup_parse("jbu_4_2_0.25_x8", &a), PIXL_ERR_ARG, "JBU kernel 4 must be odd and at least the factor 8");
    CHECK_FAILS(pixl_jointup_parse("pacjointupsample_lite_x2", &a), PIXL_ERR_ARG, "Lite");
    b.factor = 2;
    b.arch = PIXL_JU_PAC_LITE;
    CHECK_FAILS(pixl_jointup_check(&b), PIXL_ERR_ARG, "Lite");

    pixl_pac_opts p = {.kernel = {5, 5}}, q = p;
    CHECK_OK(pixl_pac_parse_kernel_type("inv_0.5_-1_asym", &p));
    CHECK_OK(pixl_pac_set(&q, "kernel_type", "inv"));
    CHECK_OK(pixl_pac_set(&q, "inv_alpha", "0.5"));
    CHECK_OK(pixl_pac_set(&q, "inv_lambda", "-1"));
    CHECK_OK(pixl_pac_set(&q, "asym", "true"));
    CHECK(!memcmp(&p, &q, sizeof p) && p.kernel_type == PIXL_PAC_INV && p.inv_lambda == -1.0f && p.asym && !p.fixed);
    CHECK_OK(pixl_pac_parse_kernel_type("gaussian", &p)); /* resets asym/fixed as before */
    CHECK(p.kernel_type == PIXL_PAC_GAUSSIAN && !p.asym && p.inv_alpha == 0.5f);
    pixl_pac_opts r = p;
    CHECK_FAILS(pixl_pac_parse_kernel_type("inv_0.5_-1_asym_asym", &r), PIXL_ERR_ARG, "inv_{alpha}_{lambda}");
    CHECK_FAILS(pixl_pac_parse_kernel_type("inv_x_-1", &r), PIXL_ERR_ARG, "inv_x_-1");
    CHECK(!memcmp(&p, &r, sizeof p));
}

/* PixelNet: the variant string, the YAML mapping and --set fill the same head */
PIXL_TEST(opts_pixelnet_head_forms)
{
    pixl_pn_head_opts v;
    CHECK_OK(pixl_pn_head_parse("taps=features.1,features.4;mlp=64,32;dropout=0.2;bn=0;align=corner", &v));
    pixl_train_config c;
    CHECK_OK(pixl_config_load_string("model:\n  arch: pixelnet\n  options:\n    taps: [features.1, features.4]\n"
                                     "    mlp: [64, 32]\n    dropout: 0.2\n    bn: false\n    align: corner\n",
                                     "t.yaml", &c));
    CHECK(!memcmp(&v, &c.model.options.head, sizeof v));
    /* the older quoted list reads the same */
    pixl_train_config d;
    CHECK_OK(pixl_config_load_string("model:\n  arch: pixelnet\n  options: {mlp: \"[64, 32]\"}\n", "t.yaml", &d));
    CHECK(d.model.options.head.n_mlp == 2 && d.model.options.head.mlp[0] == 64 && d.model.options.head.mlp[1] == 32);
    CHECK_OK(pixl_config_defaults(&d));
    CHECK_OK(pixl_config_set(&d, "model.arch", "pixelnet"));
    CHECK_OK(pixl_config_set(&d, "model.options.taps", "features.1, features.4"));
    CHECK_OK(pixl_config_set(&d, "model.options.mlp", "[64,32]"));
    CHECK_OK(pixl_config_set(&d, "model.options.dropout", "0.2"));
    CHECK_OK(pixl_config_set(&d, "model.options.bn", "no"));
    CHECK_OK(pixl_config_set(&d, "model.options.align", "CORNER"));
    CHECK(!memcmp(&v, &d.model.options.head, sizeof v));
    /* format -> parse is the identity; the defaults format to "" */
    char buf[512];
    CHECK_OK(pixl_pn_head_format(&v, buf, sizeof buf));
    CHECK_MSG(!strcmp(buf, "taps=features.1,features.4;mlp=64,32;dropout=0.2;bn=false;align=corner"), "%s", buf);
    pixl_pn_head_opts w;
    CHECK_OK(pixl_pn_head_parse(buf, &w));
    CHECK(!memcmp(&v, &w, sizeof v));
    pixl_pn_head_opts def = pixl_pn_head_defaults();
    CHECK_OK(pixl_pn_head_format(&def, buf, sizeof buf));
    CHECK(buf[0] == 0);
    /* a linear head */
    CHECK_OK(pixl_pn_head_parse("mlp=", &w));
    CHECK(w.n_mlp == 0);
    CHECK_OK(pixl_pn_head_format(&w, buf, sizeof buf));
    CHECK(!strcmp(buf, "mlp="));
    /* head keys and a variant string together, or a bad variant, fail at load */
    CHECK_FAILS(pixl_config_load_string("model:\n  arch: pixelnet\n  options: {variant: \"mlp=8\", dropout: 0.1}\n",
                                        "t.yaml", &d),
                PIXL_ERR_FORMAT, "t.yaml:3: model.options.variant and model.options.dropout");
    CHECK_FAILS(pixl_config_load_string("model:\n  arch: pixelnet\n  options: {variant: \"mpl=8\"}\n", "t.yaml", &d),
                PIXL_ERR_FORMAT, "t.yaml:3: model.options.variant: unknown key 'pixelnet.mpl'");
    CHECK_FAILS(pixl_config_load_string("model:\n  arch: enet\n  options: {dropout: 0.1}\n", "t.yaml", &d),
                PIXL_ERR_FORMAT, "t.yaml:3: model.options.dropout: a PixelNet head option, but model.arch is 'enet'");
}

PIXL_TEST(opts_config_model_opts_and_round_trip)
{
    pixl_train_config c, l;
    CHECK_OK(pixl_config_load_string("model:\n  arch: pixelnet\n  options:\n    width: 0.25\n    backbone: pixelnet_tiny\n"
                                     "    aux: false\n    output_stride: 16\n    pretrained: \"w x.safetensors\"\n"
                                     "    taps: [features.1]\n    mlp: []\n    hc_dropout: 0.125\n    chunk: 99\n",
                                     "t.yaml", &c));
    pixl_model_opts mo;
    const char *pre = NULL;
    CHECK_OK(pixl_config_model_opts(&c, &mo, &pre));
    CHECK(mo.width == 0.25f && !strcmp(mo.backbone, "pixelnet_tiny") && mo.aux == 0 && mo.output_stride == 16);
    CHECK(mo.variant == NULL && mo.head == &c.model.options.head && mo.n_classes == 0);
    CHECK(pre && !strcmp(pre, "w x.safetensors"));
    CHECK(mo.head->n_taps == 1 && mo.head->n_mlp == 0 && mo.head->hc_dropout == 0.125f && mo.head->chunk == 99);
    /* save, load: the same typed options */
    char path[512];
    snprintf(path, sizeof path, "%s/opts.yaml", pixl_test_tmpdir());
    CHECK_OK(pixl_config_save(&c, path));
    CHECK_OK(pixl_config_load(path, &l));
    char diff[160];
    CHECK_MSG(pixl_config_diff(&c, &l, diff, sizeof diff) == 0, "differs at %s", diff);
    CHECK(!memcmp(&c.model.options, &l.model.options, sizeof c.model.options));
    /* diff names the option */
    l.model.options.head.chunk = 98;
    CHECK(pixl_config_diff(&c, &l, diff, sizeof diff) == 1 && !strcmp(diff, "model.options.chunk"));
    /* other models: no head, empty strings are no variant / backbone */
    CHECK_OK(pixl_config_load_string("model:\n  arch: fcn8s\n  options: {variant: pad100}\n", "t.yaml", &c));
    CHECK_OK(pixl_config_model_opts(&c, &mo, &pre));
    CHECK(mo.head == NULL && !strcmp(mo.variant, "pad100") && mo.backbone == NULL && pre == NULL && mo.aux == 1);
}

/* a model created with a typed head saves it as a variant string that loads back to the same network */
PIXL_TEST(opts_pixelnet_model_typed_head)
{
    pixl_pn_head_opts h = pixl_pn_head_defaults();
    CHECK_OK(pixl_pn_head_set(&h, "mlp", "[16]"));
    CHECK_OK(pixl_pn_head_set(&h, "dropout", "0"));
    pixl_model_opts o = {.n_classes = 3, .backbone = "pixelnet_tiny", .width = 0.25f, .head = &h};
    pixl_model *a = pixl_model_create("pixelnet", &o, 1);
    o.head = NULL;
    o.variant = "mlp=16;dropout=0";
    pixl_model *b = pixl_model_create("pixelnet", &o, 1);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK(!strcmp(pixl_model_options(a)->variant, "mlp=16;dropout=0"));
    CHECK(pixl_model_options(a)->head && pixl_model_options(a)->head->mlp[0] == 16);
    pixl_params *pa = pixl_model_params(a), *pb = pixl_model_params(b);
    CHECK(pixl_params_count(pa) == pixl_params_count(pb) && pixl_params_total(pa) == pixl_params_total(pb));
    char path[512];
    snprintf(path, sizeof path, "%s/pn_head.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_model_save(a, path, 0, NULL, NULL));
    pixl_model *l = pixl_model_load(path);
    CHECK(l && !strcmp(pixl_model_options(l)->variant, "mlp=16;dropout=0"));
    CHECK(l && pixl_params_total(pixl_model_params(l)) == pixl_params_total(pa));
    pixl_model_free(l);
out:
    pixl_model_free(a);
    pixl_model_free(b);
}

/* pacnet's smoothing and filler names go through pixl_pac_set: the same
 * fields as the keys, the same names accepted and refused as before */
PIXL_TEST(opts_pac_smooth_and_filler_names)
{
    static const struct { const char *name, *smooth, *size; } sm[] = {
        {"none", "none", "0"}, {"gaussian", "gaussian", "3"}, {"average_3", "average", "3"},
        {"full_5", "full", "5"}, {"average_+7", "average", "7"}, {"full_1", "full", "1"}};
    for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) {
        pixl_pac_opts p = {.kernel = {5, 5}, .smooth = PIXL_PAC_SMOOTH_FULL, .smooth_size = 9}, q = p;
        CHECK_OK(pixl_pac_parse_smooth(sm[i].name, &p));
        CHECK_OK(pixl_pac_set(&q, "smooth", sm[i].smooth));
        CHECK_OK(pixl_pac_set(&q, "smooth_size", sm[i].size));
        CHECK_MSG(!memcmp(&p, &q, sizeof p), "smooth '%s'", sm[i].name);
    }
    const char *bad_smooth[] = {"average_4", "full_0", "full_101", "average_", "average_3x", "Gaussian", "box_3", "full"};
    for (size_t i = 0; i < sizeof bad_smooth / sizeof bad_smooth[0]; i++) {
        pixl_pac_opts p = {.smooth = PIXL_PAC_SMOOTH_GAUSSIAN, .smooth_size = 3}, r = p;
        CHECK_FAILS(pixl_pac_parse_smooth(bad_smooth[i], &p), PIXL_ERR_ARG, "pac smooth_kernel_type");
        CHECK_MSG(!memcmp(&p, &r, sizeof p), "'%s' changed the options", bad_smooth[i]);
    }
    const char *fill[] = {"uniform", "linear", "crf", "crf_perturbed", "pool", "crf_pool"};
    for (int i = 0; i < 6; i++) {
        pixl_pac_opts p = {0}, q = {0};
        CHECK_OK(pixl_pac_parse_filler(fill[i], &p));
        CHECK_OK(pixl_pac_set(&q, "filler", fill[i]));
        CHECK(!memcmp(&p, &q, sizeof p) && (int)p.filler == i);
    }
    const char *bad_fill[] = {"Uniform", "CRF", "crf-pool", "", "zeros"};
    for (size_t i = 0; i < sizeof bad_fill / sizeof bad_fill[0]; i++) {
        pixl_pac_opts p = {.filler = PIXL_PAC_FILL_LINEAR};
        CHECK_FAILS(pixl_pac_parse_filler(bad_fill[i], &p), PIXL_ERR_ARG, "expected uniform, linear, crf");
        CHECK(p.filler == PIXL_PAC_FILL_LINEAR);
    }
}
