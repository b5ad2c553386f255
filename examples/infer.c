/* infer.c — inference with the core and the models only: no image codecs,
 * no YAML, no data sets (link libpixl_models.a and libpixl_core.a, BLAS, cJSON and
 * OpenMP). The input is a float array the caller made (here a synthetic
 * gradient image); a checkpoint written by `pixl train` can be given
 * instead of the untrained model.
 *
 *   make examples && build/examples/infer [MODEL.safetensors]
 *
 * Prints the model, and the share of pixels per predicted class. */
#include <stdio.h>
#include <stdlib.h>

#include "pixl_models.h"

int main(int argc, char **argv)
{
    pixl_model *m = argc > 1 ? pixl_model_load(argv[1])
                             : pixl_model_create("enet", &(pixl_model_opts){.n_classes = 5}, 7);
    if (!m) {
        fprintf(stderr, "infer: %s\n", pixl_last_error());
        return 1;
    }
    const int H = 64, W = 96, K = pixl_model_n_classes(m);
    float *x = malloc(sizeof(float) * 3 * H * W);
    int32_t *labels = malloc(sizeof(int32_t) * H * W);
    long *count = calloc((size_t)K, sizeof *count);
    if (!x || !labels || !count) return 1;
    for (int c = 0; c < 3; c++) /* a normalised image: horizontal, vertical and diagonal ramps */
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                x[(c * H + i) * W + j] = c == 0 ? (float)j / W - 0.5f : c == 1 ? (float)i / H - 0.5f : (float)(i + j) / (H + W) - 0.5f;
    int rc = pixl_model_predict(m, x, 1, H, W, 0, NULL, labels);
    if (rc) {
        fprintf(stderr, "infer: %s\n", pixl_last_error());
    } else {
        for (int p = 0; p < H * W; p++) count[labels[p]]++;
        printf("%s: %d classes, %lld parameters; %dx%d input, pixels per class:", pixl_model_arch(m), K,
               (long long)pixl_params_total(pixl_model_params(m)), H, W);
        for (int k = 0; k < K; k++) printf(" %ld", count[k]);
        printf("\n");
    }
    free(x);
    free(labels);
    free(count);
    pixl_model_free(m);
    return rc ? 1 : 0;
}
