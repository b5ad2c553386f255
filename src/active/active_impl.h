/* active_impl.h — private helpers shared by PixelPick's query files
 * (src/active/): argument checks and the per-pixel entropy. */
#ifndef PIXL_ACTIVE_IMPL_H
#define PIXL_ACTIVE_IMPL_H

#include "pixl_impl.h"

/* h, w >= 1 and h * w fits the int32 pixel indices; `fn` names the caller */
int pixl__query_check_size(const char *fn, int h, int w);
/* a (k, h, w) probability map: not NULL, k >= 2, every value in [0, 1 + 1e-4];
 * `what` names the map in the message ("prob", "probs[3]") */
int pixl__query_check_prob(const char *fn, const char *what, const float *p, int k, int h, int w);
/* -sum_c p_c ln p_c over the k values p[0], p[stride], ... (0 ln 0 = 0), in double */
double pixl__query_entropy(const float *p, int64_t stride, int k);

#endif
