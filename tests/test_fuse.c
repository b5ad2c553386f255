/* test_fuse.c — plan-time fusion of EVAL graphs (core/fuse.c): the fused
 * graph gives the unfused graph's outputs bit for bit, on hand-made chains
 * (conv + BN + ReLU + residual add + ReLU, bias + ReLU6, depthwise, a
 * residual computed after the conv, a kept or probed node inside a chain,
 * a chain ending at the graph output) and on every model of the zoo with
 * BatchNorm statistics and affine parameters set away from their defaults;
 * chains fuse where they should and nowhere else; the arena shrinks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "pixl_impl.h"
#include "pixl_models.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f;
}

/* every parameter and buffer to values that make each fold step matter */
static void perturb(pixl_params *P, uint64_t seed)
{
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        float *d = pixl_params_data(P, i);
        const char *nm = pixl_params_name(P, i);
        int64_t n = pixl_params_numel(P, i);
        size_t L = strlen(nm);
        int var = L >= 11 && !strcmp(nm + L - 11, "running_var");
        if (pixl_params_ndim(P, i) != 1) continue; /* conv weights keep their initialisation */
        for (int64_t k = 0; k < n; k++) d[k] = var ? 0.3f + 1.5f * frand(&seed) : 1.2f * (frand(&seed) - 0.4f);
    }
}

static void fill(float *x, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++) x[i] = 2 * frand(&seed) - 1;
}

/* conv2d with the weight `name` (and bias `name.b`), k x k, same padding */
static pixl_tensor *conv(pixl_ctx *c, const char *name, pixl_tensor *x, int k, int groups, int bias)
{
    pixl_tensor *w = pixl_param_ref(c, name);
    char bn[64];
    snprintf(bn, sizeof bn, "%s.b", name);
    pixl_conv2d_opts o = {.stride = {1, 1}, .padding = {k / 2, k / 2}, .dilation = {1, 1}, .groups = groups};
    return pixl_conv2d(c, x, w, bias ? pixl_param_ref(c, bn) : NULL, &o);
}

static pixl_tensor *bn(pixl_ctx *c, const char *name, pixl_tensor *x)
{
    char a[64], b[64], m[64], v[64];
    snprintf(a, sizeof a, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    snprintf(m, sizeof m, "%s.running_mean", name);
    snprintf(v, sizeof v, "%s.running_var", name);
    return pixl_batch_norm2d(c, x, pixl_param_ref(c, a), pixl_param_ref(c, b), pixl_param_ref(c, m),
                             pixl_param_ref(c, v), NULL, NULL);
}

static void add_params(pixl_params *P)
{
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } ps[] = {{"c1", 4, {8, 4, 3, 3}},       {"c1.b", 1, {8}},      {"c2", 4, {8, 8, 1, 1}},
              {"c3", 4, {8, 1, 3, 3}},       {"c3.b", 1, {8}},      {"c4", 4, {8, 8, 3, 3}},
              {"n1.weight", 1, {8}},         {"n1.bias", 1, {8}},   {"n1.running_mean", 1, {8}},
              {"n1.running_var", 1, {8}},    {"n2.weight", 1, {8}}, {"n2.bias", 1, {8}},
              {"n2.running_mean", 1, {8}},   {"n2.running_var", 1, {8}}};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        pixl_params_add(P, ps[i].name, PIXL_PARAM, PIXL_F32, ps[i].ndim, ps[i].shape, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
    uint64_t s = 7;
    for (int i = 0; i < pixl_params_count(P); i++) fill(pixl_params_data(P, i), pixl_params_numel(P, i), s + 17 * i);
    perturb(P, 99);
}

/* one hand-made graph: its output (malloc'ed), the fused count and the arena size.
 * variant 0: r = relu(bn1(c1 x)); y = relu(bn2(c2 r) + r), then relu6(c3 y + b) (depthwise with bias)
 * variant 1: the residual of c4's add is computed after c4 (not fusable as an add)
 * variant 2: bn1's output is kept (the chain stops there), c4's BN is probed
 * variant 3: the graph ends with conv + BN (the output is a fused node) */
static float *run_graph(pixl_params *P, int variant, int fusion, int *fused, int64_t *numel, size_t *arena)
{
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_ctx_set_fusion(c, fusion);
    int64_t xs[4] = {2, 4, 9, 70};
    pixl_tensor *x = pixl_input(c, "x", PIXL_F32, 4, xs), *y = NULL;
    pixl_tensor *r = bn(c, "n1", conv(c, "c1", x, 3, 1, 1));
    if (variant == 2) pixl_keep(r);
    r = pixl_relu(c, r);
    if (variant == 0 || variant == 2) {
        pixl_tensor *b2 = bn(c, "n2", conv(c, "c2", r, 1, 1, 0));
        y = pixl_relu(c, pixl_add(c, b2, r));
        y = pixl_hardtanh(c, conv(c, "c3", y, 3, 8, 1), 0, 6);
        if (variant == 2) {
            pixl_tensor *p = bn(c, "n2", conv(c, "c4", y, 3, 1, 0));
            pixl_ctx_add_probe(c, "probe", p);
            y = pixl_relu(c, p);
        }
    } else if (variant == 1) {
        pixl_tensor *a = conv(c, "c4", r, 3, 1, 0);
        pixl_tensor *late = pixl_relu(c, conv(c, "c2", r, 1, 1, 0)); /* after c4 */
        y = pixl_relu(c, pixl_add(c, bn(c, "n2", a), late));
    } else {
        y = bn(c, "n2", conv(c, "c2", r, 1, 1, 0));
    }
    float *out = NULL;
    if (y && !pixl_ctx_plan(c)) {
        fill(pixl_tensor_data(x), pixl_tensor_numel(x), 5);
        if (!pixl_forward(c)) {
            *numel = pixl_tensor_numel(y);
            out = malloc(sizeof(float) * (size_t)*numel);
            memcpy(out, pixl_tensor_data(y), sizeof(float) * (size_t)*numel);
        }
    }
    CHECK_MSG(out != NULL, "variant %d: %s", variant, pixl_ctx_error(c) ? pixl_ctx_error(c) : pixl_last_error());
    *fused = pixl_ctx_fused_count(c);
    *arena = pixl_ctx_arena_bytes(c);
    pixl_ctx_free(c);
    return out;
}

PIXL_TEST(fuse_chains_equal_unfused)
{
    pixl_params *P = pixl_params_new();
    add_params(P);
    /* fused nodes: 0: c1 n1 relu | c2 n2 add relu | c3 hardtanh; 1: c1 n1 relu | c4 n2 (its add's
     * residual comes later) | c2 relu; 2: c1 n1 (kept) | c2 n2 add relu | c3 hardtanh | c4 n2 (probed);
     * 3: c1 n1 relu | c2 n2 (the output) */
    static const int want[] = {6, 4, 6, 3};
    for (int v = 0; v < 4; v++) {
        int fa = 0, fb = 0;
        int64_t na = 0, nb = 0;
        size_t aa = 0, ab = 0;
        float *a = run_graph(P, v, 1, &fa, &na, &aa), *b = run_graph(P, v, 0, &fb, &nb, &ab);
        CHECK(a && b && na == nb);
        if (a && b && na == nb) {
            int64_t diff = 0;
            for (int64_t i = 0; i < na; i++) diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
            CHECK_MSG(diff == 0, "variant %d: %lld of %lld outputs differ from the unfused graph's", v,
                      (long long)diff, (long long)na);
        }
        CHECK_MSG(fa == want[v] && fb == 0, "variant %d: %d nodes fused (want %d), %d with fusion off", v, fa, want[v],
                  fb);
        CHECK_MSG(aa <= ab, "variant %d: arena %zu fused, %zu unfused", v, aa, ab);
        free(a);
        free(b);
    }
    pixl_params_free(P);
}

static float *zoo_out(pixl_params *P, const char *arch, int size_idx, int fusion, int *fused, int64_t *numel)
{
    static const int sizes[][2] = {{64, 64}, {96, 128}, {192, 192}};
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_ctx_set_fusion(c, fusion);
    int64_t xs[4] = {1, 3, sizes[size_idx][0], sizes[size_idx][1]};
    pixl_tensor *x = pixl_input(c, "input", PIXL_F32, 4, xs);
    pixl_model_opts o = {.n_classes = 5};
    pixl_tensor *y = pixl_model_build(c, arch, x, &o);
    float *out = NULL;
    if (y && !pixl_ctx_plan(c)) {
        if (fusion) perturb(P, 1234); /* the parameters exist after the first build */
        fill(pixl_tensor_data(x), pixl_tensor_numel(x), 77);
        if (!pixl_forward(c)) {
            *numel = pixl_tensor_numel(y);
            out = malloc(sizeof(float) * (size_t)*numel);
            memcpy(out, pixl_tensor_data(y), sizeof(float) * (size_t)*numel);
        }
    }
    *fused = pixl_ctx_fused_count(c);
    pixl_ctx_free(c);
    return out;
}

PIXL_TEST(fuse_zoo_equals_unfused)
{
    int total_fused = 0, models = 0, wanted = 0;
#if defined(__SANITIZE_ADDRESS__)
    /* under ASan (make sanitize) the models that take every path of the epilogue: 3x3 and 1x1 implicit
     * GEMM, residual adds, depthwise with ReLU6; the optimised build checks the whole zoo */
    static const char *const asan_models[] = {"resnet18", "mobilenet_v2", "enet", "unet"};
#endif
    for (int i = 0; i < pixl_model_count(); i++) {
        const char *arch = pixl_model_name(i);
#if defined(__SANITIZE_ADDRESS__)
        int pick = 0;
        for (size_t k = 0; k < sizeof asan_models / sizeof *asan_models; k++) pick |= !strcmp(arch, asan_models[k]);
        if (!pick) continue;
#endif
        wanted++;
        float *a = NULL, *b = NULL;
        int fa = 0, fb = 0, k = 0;
        int64_t na = 0, nb = 0;
        pixl_params *P = NULL;
        for (k = 0; k < 3 && !a; k++) {
            pixl_params_free(P);
            P = pixl_params_new();
            pixl_params_seed(P, 11);
            a = zoo_out(P, arch, k, 1, &fa, &na);
        }
        CHECK_MSG(a != NULL, "%s: no EVAL forward at any test size: %s", arch, pixl_last_error());
        if (a) b = zoo_out(P, arch, k - 1, 0, &fb, &nb);
        CHECK_MSG(!a || (b && na == nb), "%s: the unfused graph failed: %s", arch, pixl_last_error());
        if (a && b && na == nb) {
            int64_t diff = 0;
            double worst = 0;
            for (int64_t j = 0; j < na; j++)
                if (memcmp(&a[j], &b[j], sizeof(float))) {
                    diff++;
                    double d = fabs((double)a[j] - b[j]);
                    if (!(d <= worst)) worst = d;
                }
            CHECK_MSG(diff == 0, "%s: %lld of %lld outputs differ from the unfused graph's (worst %g)", arch,
                      (long long)diff, (long long)na, worst);
            CHECK_MSG(fb == 0, "%s: %d nodes fused with fusion off", arch, fb);
            total_fused += fa;
            models++;
        }
        free(a);
        free(b);
        pixl_params_free(P);
    }
    CHECK(models == wanted);
    CHECK_MSG(total_fused > 10 * wanted, "%d nodes fused over %d models", total_fused, wanted);
}
