/* enet_init_stats.c — mean, standard deviation and largest magnitude of
 * every tensor of a freshly initialised pixl ENet (11 classes), one line
 * per tensor, for scripts/check/enet_vs_anchor.sh (compared there with a
 * PyTorch initialisation of ../shared/anchors/seg_models.py).
 *
 *   enet_init_stats [SEED] > stats.txt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pixl.h"

int main(int argc, char **argv)
{
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, argc > 1 ? strtoull(argv[1], NULL, 10) : 7);
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s4[4] = {1, 3, 176, 240};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, s4);
    if (!pixl_model_build(ctx, "enet", x, &(pixl_model_opts){.n_classes = 11})) {
        fprintf(stderr, "%s\n", pixl_ctx_error(ctx));
        return 1;
    }
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        const float *d = pixl_params_data(P, i);
        const int64_t n = pixl_params_numel(P, i);
        double s = 0, q = 0, mx = 0;
        for (int64_t k = 0; k < n; k++) {
            s += d[k];
            q += (double)d[k] * d[k];
            mx = fabs(d[k]) > mx ? fabs(d[k]) : mx;
        }
        printf("%s %lld %.6g %.6g %.6g\n", pixl_params_name(P, i), (long long)n, s / n, sqrt(q / n - (s / n) * (s / n)), mx);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    return 0;
}
