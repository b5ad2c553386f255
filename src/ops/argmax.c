/* argmax.c — pixl_argmax_channels: the channel argmax of logits (N,K,H,W)
 * into labels (N,H,W), used by models (pixl_model_predict) and metrics.
 * Ties take the first maximum; a NaN wins (torch.argmax / numpy.argmax).
 * Each pixel is independent, so the result is the same for any thread count. */
#include <math.h>

#include "pixl_impl.h"

int pixl_argmax_channels(const float *logits, int64_t n, int64_t k, int64_t h, int64_t w, int32_t *out)
{
    if (!logits || !out) return pixl_set_error(PIXL_ERR_ARG, "pixl_argmax_channels: NULL argument");
    if (n < 0 || k < 1 || h < 0 || w < 0 || k > INT32_MAX)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_argmax_channels: bad shape (%lld, %lld, %lld, %lld)", (long long)n,
                              (long long)k, (long long)h, (long long)w);
    const int64_t hw = h * w, total = n * hw;
#pragma omp parallel for num_threads(pixl_num_threads()) schedule(static) if (total > 16384)
    for (int64_t px = 0; px < total; px++) {
        int64_t b = px / hw, q = px % hw;
        const float *x = logits + b * k * hw + q;
        float best = x[0];
        int32_t bi = 0;
        if (!isnan(best)) {
            for (int64_t c = 1; c < k; c++) {
                float v = x[c * hw];
                if (isnan(v)) { /* NaN wins, as in torch.argmax and numpy.argmax */
                    bi = (int32_t)c;
                    break;
                }
                if (v > best) best = v, bi = (int32_t)c; /* ties: the first maximum */
            }
        }
        out[px] = bi;
    }
    return PIXL_OK;
}
