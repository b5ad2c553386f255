/* enet_dropout_dump.c — one TRAIN-mode step of ENet WITH dropout, for
 * scripts/check/enet_vs_anchor.sh: writes pixl's dropout masks (one (N, C)
 * tensor per Dropout2d layer, in execution order, each entry 0 or 1/(1-p)),
 * the loss and every parameter gradient, so enet_vs_anchor.py can run
 * PyTorch with the same masks and compare. Reads the state_dict, the first
 * batch and the class weights of a scripts/ref/make_enet_train_ref.py file.
 *
 *   enet_dropout_dump REF.safetensors OUT.safetensors SEED
 *
 * Uses pixl internals (pixl_impl.h: graph nodes, pixl_dropout_params and the
 * dropout key in n->aux). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pixl_impl.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s REF.safetensors OUT.safetensors SEED\n", argv[0]);
        return 2;
    }
    pixl_st_file *F = pixl_st_open(argv[1]);
    if (!F) {
        fprintf(stderr, "%s\n", pixl_last_error());
        return 1;
    }
    int xi = pixl_st_find(F, "input"), yi = pixl_st_find(F, "labels");
    const int64_t *xs = pixl_st_shape(F, xi);
    const int64_t B = xs[1], H = xs[3], W = xs[4];
    float cw[11];
    pixl_st_read_f32(F, pixl_st_find(F, "class_weights"), cw);
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s4[4] = {B, 3, H, W}, s3[3] = {B, H, W}, ws[1] = {11};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, s4), *y = pixl_input(ctx, "labels", PIXL_I32, 3, s3);
    pixl_tensor *lg = pixl_model_build(ctx, "enet", x, &(pixl_model_opts){.n_classes = 11});
    pixl_tensor *L = lg ? pixl_cross_entropy(ctx, lg, y, pixl_constant(ctx, "w", PIXL_F32, 1, ws, cw),
                                             &(pixl_ce_opts){.ignore = 1, .ignore_index = 11})
                        : NULL;
    if (!L || pixl_ctx_plan(ctx) || pixl_checkpoint_load(P, argv[1], 1)) {
        fprintf(stderr, "%s\n", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        return 1;
    }
    /* the first batch of the file */
    float *X = malloc(sizeof(float) * (size_t)pixl_st_numel(F, xi));
    int32_t *Y = malloc(sizeof(int32_t) * (size_t)pixl_st_numel(F, yi));
    pixl_st_read_f32(F, xi, X);
    pixl_st_read_i32(F, yi, Y);
    memcpy(pixl_tensor_data(x), X, sizeof(float) * (size_t)(B * 3 * H * W));
    memcpy(pixl_tensor_data(y), Y, sizeof(int32_t) * (size_t)(B * H * W));
    pixl_ctx_set_seed(ctx, strtoull(argv[3], NULL, 10));
    if (pixl_forward(ctx) || (pixl_params_zero_grad(P), pixl_backward(ctx, L))) {
        fprintf(stderr, "%s\n", pixl_last_error());
        return 1;
    }
    pixl_st_writer *w = pixl_st_writer_new();
    float *masks[64];
    int nd = 0, bad = 0;
    double dropped = 0, units = 0;
    for (int i = 0; i < ctx->n_nodes && nd < 64; i++) {
        pixl_tensor *n = ctx->nodes[i];
        if (!n->def || strcmp(n->def->name, "dropout2d")) continue;
        const pixl_dropout_params *dp = PIXL_PARAMS(n, pixl_dropout_params);
        const uint64_t key = *(const uint64_t *)n->aux;
        const int64_t NC = n->shape[0] * n->shape[1];
        float *m = masks[nd] = malloc(sizeof(float) * (size_t)NC);
        for (int64_t u = 0; u < NC; u++) {
            m[u] = pixl_uniform01(key, (uint64_t)u) < dp->p ? 0.0f : 1.0f / (1.0f - dp->p);
            dropped += m[u] == 0;
        }
        units += (double)NC;
        /* the mask must be what the forward applied: y = x * m per plane */
        const float *in = pixl_f32(n->src[0]), *out = pixl_f32(n);
        for (int64_t u = 0; u < NC; u++)
            for (int64_t k = 0; k < dp->inner; k++)
                bad += fabsf(out[u * dp->inner + k] - in[u * dp->inner + k] * m[u]) > 1e-6f * (1 + fabsf(in[u * dp->inner + k]));
        char nm[32];
        snprintf(nm, sizeof nm, "mask.%03d", nd++);
        int64_t ms[2] = {n->shape[0], n->shape[1]};
        pixl_st_writer_add(w, nm, PIXL_F32, 2, ms, m);
    }
    float lv = ((float *)pixl_tensor_data(L))[0];
    int64_t one[1] = {1};
    pixl_st_writer_add(w, "loss", PIXL_F32, 1, one, &lv);
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_kind(P, i) != PIXL_PARAM) continue;
        char nm[300];
        snprintf(nm, sizeof nm, "grad.%s", pixl_params_name(P, i));
        pixl_st_writer_add(w, nm, PIXL_F32, pixl_params_ndim(P, i), pixl_params_shape(P, i), pixl_params_grad(P, i));
    }
    int rc = pixl_st_writer_save(w, argv[2]);
    pixl_st_writer_free(w);
    printf("pixl: %d Dropout2d layers, %.4f of the (sample, channel) planes dropped, loss %.6f%s\n", nd,
           dropped / units, lv, bad ? ", MASK MISMATCH" : "");
    if (rc) fprintf(stderr, "%s\n", pixl_last_error());
    return rc || bad ? 1 : 0;
}
