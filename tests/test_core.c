/* test_core.c — the graph engine itself (planner, forward/backward order,
 * gradient accumulation, error propagation), the params registry and the
 * safetensors reader/writer. Uses two private test ops so it does not
 * depend on any op family. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradcheck.h"
#include "pixl_impl.h"
#include "test.h"

/* y = a*x + b*z (z optional): fan-in, and a scale to tell nodes apart */
typedef struct { float a, b; } axpy_params;
static int axpy_fwd(pixl_tensor *n)
{
    const axpy_params *p = PIXL_PARAMS(n, axpy_params);
    float *y = n->data, *x = n->src[0]->data, *z = n->n_src > 1 ? n->src[1]->data : NULL;
    for (int64_t i = 0; i < n->numel; i++) y[i] = p->a * x[i] + (z ? p->b * z[i] : 0);
    return 0;
}
static int axpy_bwd(pixl_tensor *n)
{
    const axpy_params *p = PIXL_PARAMS(n, axpy_params);
    if (n->src[0]->grad)
        for (int64_t i = 0; i < n->numel; i++) n->src[0]->grad[i] += p->a * n->grad[i];
    if (n->n_src > 1 && n->src[1]->grad)
        for (int64_t i = 0; i < n->numel; i++) n->src[1]->grad[i] += p->b * n->grad[i];
    return 0;
}
static const pixl_op_def axpy_def = {.name = "axpy", .fwd = axpy_fwd, .bwd = axpy_bwd};

static pixl_tensor *axpy(pixl_ctx *c, pixl_tensor *x, pixl_tensor *z, float a, float b)
{
    if (!x) return NULL;
    if (z && !pixl__same_shape(x, z)) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "axpy: %s and %s differ", pixl__tshape(x), pixl__tshape(z));
        return NULL;
    }
    pixl_tensor *src[2] = {x, z};
    axpy_params p = {a, b};
    return pixl__node_new(c, &axpy_def, PIXL_F32, x->ndim, x->shape, src, z ? 2 : 1, &p, sizeof p);
}

/* y = sum(w * x) over all elements, w a parameter of x's shape -> [1] */
static int dot_fwd(pixl_tensor *n)
{
    float *x = n->src[0]->data, *w = n->src[1]->data;
    double s = 0;
    for (int64_t i = 0; i < n->src[0]->numel; i++) s += (double)x[i] * w[i];
    ((float *)n->data)[0] = (float)s;
    return 0;
}
static int dot_bwd(pixl_tensor *n)
{
    float g = n->grad[0], *x = n->src[0]->data, *w = n->src[1]->data;
    for (int64_t i = 0; i < n->src[0]->numel; i++) {
        if (n->src[0]->grad) n->src[0]->grad[i] += g * w[i];
        if (n->src[1]->grad) n->src[1]->grad[i] += g * x[i];
    }
    return 0;
}
static const pixl_op_def dot_def = {.name = "dot", .fwd = dot_fwd, .bwd = dot_bwd};
static pixl_tensor *dot(pixl_ctx *c, pixl_tensor *x, pixl_tensor *w)
{
    if (!x || !w) return NULL;
    pixl_tensor *src[2] = {x, w};
    int64_t one = 1;
    return pixl__node_new(c, &dot_def, PIXL_F32, 1, &one, src, 2, NULL, 0);
}

PIXL_TEST(core_eval_planner_reuses_memory)
{
    pixl_ctx *c = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[4] = {2, 8, 16, 16};
    pixl_tensor *x = pixl_input(c, "x", PIXL_F32, 4, s), *h = x;
    for (int i = 0; i < 20; i++) h = axpy(c, h, NULL, 1.0f + 0.01f * i, 0);
    pixl_tensor *y = h;
    CHECK_OK(pixl_ctx_plan(c));
    size_t one = 2 * 8 * 16 * 16 * 4;
    /* x is kept, the chain needs two live buffers plus the output */
    CHECK_MSG(pixl_ctx_arena_bytes(c) <= 3 * one + 1024, "arena %zu for a chain of 20 (one tensor = %zu)",
              pixl_ctx_arena_bytes(c), one);
    CHECK(pixl_ctx_unplanned_bytes(c) >= 21 * one);
    float *xd = pixl_tensor_data(x);
    for (int i = 0; i < 4096; i++) xd[i] = (float)(i % 7) - 3;
    CHECK_OK(pixl_forward(c));
    double expect = 1;
    for (int i = 0; i < 20; i++) expect *= 1.0f + 0.01f * i;
    float *yd = pixl_tensor_data(y);
    CHECK_NEAR(yd[5], (5 % 7 - 3) * expect, 1e-4);
    CHECK_NEAR(xd[5], 5 % 7 - 3, 0); /* inputs are never overwritten */
    CHECK(pixl_backward_from(c, y, yd) != 0); /* EVAL: no gradients */
    CHECK(strstr(pixl_last_error(), "EVAL") != NULL);
    pixl_ctx_free(c);
}

PIXL_TEST(core_backward_accumulates_fanout)
{
    pixl_params *P = pixl_params_new();
    int64_t s[2] = {3, 5};
    CHECK(pixl_params_add(P, "w", PIXL_PARAM, PIXL_F32, 2, s, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1}) == 0);
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input_grad(c, "x", 2, s);
    pixl_tensor *a = axpy(c, x, NULL, 2, 0);  /* a = 2x */
    pixl_tensor *b = axpy(c, x, a, 3, 0.5f);  /* b = 3x + 0.5a = 4x */
    pixl_tensor *L = dot(c, b, pixl_param_ref(c, "w"));
    CHECK_OK(pixl_ctx_plan(c));
    float *xd = pixl_tensor_data(x);
    for (int i = 0; i < 15; i++) xd[i] = 0.1f * i;
    CHECK_OK(pixl_forward(c));
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_backward(c, L));
    const float *w = pixl_params_data(P, 0), *gw = pixl_params_grad(P, 0), *gx = pixl_tensor_grad(x);
    for (int i = 0; i < 15; i++) {
        CHECK_NEAR(gx[i], 4 * w[i], 1e-6);
        CHECK_NEAR(gw[i], 4 * xd[i], 1e-6);
    }
    /* a second backward accumulates into parameters (zeroed once per step),
     * while input gradients are per pass */
    CHECK_OK(pixl_forward(c));
    CHECK_OK(pixl_backward(c, L));
    for (int i = 0; i < 15; i++) {
        CHECK_NEAR(gw[i], 8 * xd[i], 1e-6);
        CHECK_NEAR(gx[i], 4 * w[i], 1e-6);
    }
    pixl_ctx_free(c);
    pixl_params_free(P);
}

PIXL_TEST(core_train_grads_share_memory)
{
    pixl_params *P = pixl_params_new();
    int64_t s[2] = {64, 64};
    pixl_params_add(P, "w", PIXL_PARAM, PIXL_F32, 2, s, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    pixl_tensor *h = pixl_input(c, "x", PIXL_F32, 2, s);
    h = axpy(c, h, NULL, 1, 0);
    for (int i = 0; i < 30; i++) h = axpy(c, h, NULL, 1, 0);
    pixl_tensor *L = dot(c, h, pixl_param_ref(c, "w"));
    CHECK_OK(pixl_ctx_plan(c));
    /* activations: 32 kept; gradients: 2 live at a time */
    size_t one = 64 * 64 * 4;
    CHECK_MSG(pixl_ctx_arena_bytes(c) <= 32 * one + 4 * one, "arena %zu", pixl_ctx_arena_bytes(c));
    memset(pixl_tensor_data(c->nodes[0]), 0, one);
    CHECK_OK(pixl_forward(c));
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_backward(c, L));
    pixl_ctx_free(c);
    pixl_params_free(P);
}

PIXL_TEST(core_errors_propagate_first)
{
    pixl_ctx *c = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s1[2] = {2, 3}, s2[2] = {3, 2};
    pixl_tensor *a = pixl_input(c, "a", PIXL_F32, 2, s1), *b = pixl_input(c, "b", PIXL_F32, 2, s2);
    pixl_tensor *bad = axpy(c, a, b, 1, 1);
    CHECK(bad == NULL);
    CHECK(axpy(c, bad, NULL, 1, 0) == NULL);
    const char *e = pixl_ctx_error(c);
    CHECK(e && strstr(e, "axpy") && strstr(e, "[2, 3]") && strstr(e, "[3, 2]"));
    CHECK(pixl_ctx_plan(c) == PIXL_ERR_SHAPE);
    CHECK(pixl_forward(c) == PIXL_ERR_STATE);
    int64_t badshape[2] = {2, 0};
    CHECK(pixl_input(c, "z", PIXL_F32, 2, badshape) == NULL);
    pixl_ctx_free(c);
}

PIXL_TEST(core_plan_survives_alloc_failure)
{
    for (long k = 1; k < 6; k++) {
        pixl_ctx *c = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        if (!c) continue;
        int64_t s[1] = {100};
        pixl__fail_alloc_after(k);
        pixl_tensor *x = pixl_input(c, "x", PIXL_F32, 1, s);
        pixl_tensor *y = axpy(c, x, NULL, 2, 0);
        int rc = pixl_ctx_plan(c);
        pixl__fail_alloc_after(0);
        CHECK(rc != 0 || (x && y)); /* either a clean error or a usable graph */
        pixl_ctx_free(c);
    }
}

PIXL_TEST(core_params_registry)
{
    pixl_params *P = pixl_params_new();
    int64_t a[2] = {4, 3}, b[1] = {5}, c3[2] = {3, 4};
    CHECK(pixl_params_add(P, "enc.0.weight", PIXL_PARAM, PIXL_F32, 2, a, (pixl_init_spec){PIXL_INIT_ONES, 0, 0}) == 0);
    CHECK(pixl_params_add(P, "enc.0.bias", PIXL_PARAM, PIXL_F32, 1, b, (pixl_init_spec){PIXL_INIT_CONST, 2, 0}) == 1);
    CHECK(pixl_params_add(P, "bn.running_mean", PIXL_BUFFER, PIXL_F32, 1, b, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}) == 2);
    CHECK(pixl_params_add(P, "enc.0.weight", PIXL_PARAM, PIXL_F32, 2, a, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}) == 0);
    CHECK(pixl_params_add(P, "enc.0.weight", PIXL_PARAM, PIXL_F32, 2, c3, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}) < 0);
    CHECK(strstr(pixl_last_error(), "[4, 3]") && strstr(pixl_last_error(), "[3, 4]"));
    CHECK(pixl_params_total(P) == 17);
    int64_t n;
    float *flat = pixl_params_data_flat(P, &n);
    CHECK(n >= 17);
    CHECK(((float *)pixl_params_data(P, 0))[11] == 1.0f); /* existing entry kept its values */
    CHECK((float *)pixl_params_data(P, 1) - flat >= 12);
    CHECK(pixl_params_grad(P, 2) == NULL);
    CHECK(pixl_params_set_lr_mult(P, "enc.", 10, 0) == 2);
    CHECK(pixl_params_lr_mult(P, 1) == 10 && pixl_params_wd_mult(P, 1) == 0 && pixl_params_lr_mult(P, 2) == 1);
    /* kaiming-uniform bound for a conv weight (8, 4, 3, 3): 1/sqrt(36) */
    int64_t w[4] = {8, 4, 3, 3};
    int i = pixl_params_add(P, "conv.weight", PIXL_PARAM, PIXL_F32, 4, w,
                            (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0});
    float *v = pixl_params_data(P, i), mx = 0;
    for (int k = 0; k < 288; k++) mx = fabsf(v[k]) > mx ? fabsf(v[k]) : mx;
    CHECK(mx <= 1.0f / 6 + 1e-6 && mx > 0.8f / 6);
    pixl_params_free(P);
}

PIXL_TEST(core_safetensors_roundtrip_and_corruption)
{
    char path[512];
    snprintf(path, sizeof path, "%s/st.safetensors", pixl_test_tmpdir());
    pixl_st_writer *w = pixl_st_writer_new();
    float f[6] = {1, 2, 3, 4, 5, 6};
    int64_t l[2] = {-7, 1LL << 40}, s23[2] = {2, 3}, s2[1] = {2};
    CHECK_OK(pixl_st_writer_add(w, "a.weight", PIXL_F32, 2, s23, f));
    CHECK_OK(pixl_st_writer_add(w, "idx", PIXL_I64, 1, s2, l));
    CHECK(pixl_st_writer_add(w, "idx", PIXL_I64, 1, s2, l) != 0);
    CHECK_OK(pixl_st_writer_meta(w, "step", "12"));
    CHECK_OK(pixl_st_writer_save(w, path));
    pixl_st_writer_free(w);
    CHECK(access(path, F_OK) == 0);
    pixl_st_file *r = pixl_st_open(path);
    CHECK(r != NULL);
    if (!r) return;
    CHECK(pixl_st_count(r) == 2 && !strcmp(pixl_st_meta(r, "step"), "12"));
    int k = pixl_st_find(r, "a.weight");
    float g[6];
    CHECK(k >= 0 && pixl_st_ndim(r, k) == 2 && pixl_st_shape(r, k)[1] == 3);
    pixl_st_read_f32(r, k, g);
    CHECK(memcmp(f, g, sizeof f) == 0);
    int64_t li[2];
    CHECK_OK(pixl_st_read_i64(r, pixl_st_find(r, "idx"), li));
    CHECK(li[0] == -7 && li[1] == 1LL << 40);
    CHECK(pixl_st_read_i64(r, k, li) != 0); /* floats are not integers */
    pixl_st_close(r);
    /* truncations anywhere give an error naming the file, never a crash */
    FILE *fp = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    char cut[512];
    snprintf(cut, sizeof cut, "%s/cut.safetensors", pixl_test_tmpdir());
    for (size_t len = 0; len < n; len += 3) {
        fp = fopen(cut, "wb");
        fwrite(buf, 1, len, fp);
        fclose(fp);
        pixl_st_file *t = pixl_st_open(cut);
        CHECK_MSG(t == NULL, "truncated at %zu of %zu opened", len, n);
        pixl_st_close(t);
        CHECK(strstr(pixl_last_error(), "cut.safetensors") != NULL);
    }
    /* corrupt header bytes */
    for (size_t pos = 8; pos < 40; pos++) {
        unsigned char save = buf[pos];
        buf[pos] = '{';
        fp = fopen(cut, "wb");
        fwrite(buf, 1, n, fp);
        fclose(fp);
        pixl_st_file *t = pixl_st_open(cut);
        pixl_st_close(t); /* either rejected or still consistent: must not crash */
        buf[pos] = save;
    }
}
