/* im2col.h — private to the convolution family (src/ops/conv.c,
 * src/kernels/im2col.c, tests/test_conv.c): convolution geometry,
 * im2col / col2im, the direct kernels and the naive references.
 *
 * BIG AND SMALL SIDES
 * conv2d and conv_transpose2d are the same linear map read in the two
 * directions. Name the sides of a convolution:
 *   big   (N, Cb, H,  W)   conv2d input  / conv_transpose2d output
 *   small (N, Cs, OH, OW)  conv2d output / conv_transpose2d input
 *   w     (Cs, Cb/G, KH, KW)  — the PyTorch layout of BOTH modules
 * and the three primitives every kernel below implements:
 *   fwd:        small[n,cs,o]  = sum_{cb in group, k} w[cs,cb,k] big[n,cb,o*s-p+k*d]
 *   bwd_data:   big[n,cb,i]   += sum_{cs in group, k: i=o*s-p+k*d} w[cs,cb,k] small[n,cs,o]
 *   bwd_weight: dw[cs,cb,k]   += sum_{n,o} small[n,cs,o] big[n,cb,o*s-p+k*d]
 * conv2d forward = fwd, its dx = bwd_data, its dw = bwd_weight;
 * conv_transpose2d forward = bwd_data, its dx = fwd, its dw = bwd_weight
 * with small = its input and big = its output gradient. */
#ifndef PIXL_IM2COL_H
#define PIXL_IM2COL_H

#include <stddef.h>
#include <stdint.h>

typedef struct pixl_conv_shape {
    int64_t N;
    int64_t Cb, H, W;   /* big side */
    int64_t Cs, OH, OW; /* small side */
    int KH, KW;
    int sh, sw, ph, pw, dh, dw;
    int G;              /* groups: Cb % G == 0 and Cs % G == 0 */
} pixl_conv_shape;

/* ---------------------------------------------------------- im2col */
/* For ONE group of one image: big plane block `big` (Cg, H, W) and small
 * rows [r0, r0+nr):
 *   col (Cg*KH*KW, nr*OW): col[(c*KH+kh)*KW+kw][r*OW+ow] =
 *       big[c][(r0+r)*sh-ph+kh*dh][ow*sw-pw+kw*dw]  (0 outside the plane)
 * Parallel over the rows of col (OpenMP, pixl_num_threads()). */
void pixl__im2col(const pixl_conv_shape *s, int64_t Cg, const float *big, int64_t r0, int64_t nr, float *col);
/* The adjoint: big[c][ih][iw] += col entries mapping there. Parallel over
 * channels; each element is summed in (kh, kw, r, ow) order: deterministic. */
void pixl__col2im_add(const pixl_conv_shape *s, int64_t Cg, const float *col, int64_t r0, int64_t nr, float *big);

/* ------------------------------------------- direct kernels (Cb/G == 1) */
/* Depthwise-style convolutions (each small channel reads one big channel),
 * where im2col + gemm wastes its time copying. `accumulate` 0 overwrites. */
void pixl__conv_dw_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate);
void pixl__conv_dw_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big);
void pixl__conv_dw_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw);

/* ------------------------------------------ fast kernels (Cb/G > 1) */
/* Implicit gemm on a padded, stride-phased copy of the input with an
 * AVX-512 register-blocked micro-kernel (portable loops elsewhere: then
 * pixl__conv_fast_enabled() is 0 and conv.c uses them for weight gradients
 * only). `work` holds the *_floats() floats of scratch (64-byte aligned).
 * Threads split output tiles; reductions are serial: thread-count exact. */
int pixl__conv_fast_enabled(void);
size_t pixl__conv_fast_fwd_floats(const pixl_conv_shape *s);
void pixl__conv_fast_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate,
                        float *work);
/* The epilogue of a fused convolution (EVAL graphs, core/fuse.c): to every
 * output element v of channel c, in this order and each when given:
 *   v += bias[c];  v = v * scale[c] + shift[c];  act1;  v += res;  act2
 * act: 0 none, 1 ReLU (v > 0 ? v : 0), 2 clamp to [lo, hi] (hardtanh) — the
 * formulas of the unfused ops, so that the bits are theirs. res has the
 * output's layout (N, Cs, OH, OW). */
typedef struct pixl_conv_epi {
    const float *bias, *scale, *shift, *res;
    int act1, act2;
    float lo1, hi1, lo2, hi2;
} pixl_conv_epi;
/* rows c0 .. c0+m-1 (channels) of n columns, row r at dst + r*ld (res likewise) */
void pixl__conv_epi_apply(const pixl_conv_epi *e, int64_t c0, int m, float *dst, const float *res, int64_t ld,
                          int64_t n);
/* pixl__conv_fast_fwd (overwriting) with the epilogue applied to each output tile */
void pixl__conv_fast_fwd_epi(const pixl_conv_shape *s, const float *big, const float *w, float *small, float *work,
                             const pixl_conv_epi *e);
/* stride 1 only (returns -1 otherwise); big += */
size_t pixl__conv_fast_bwd_data_floats(const pixl_conv_shape *s);
int pixl__conv_fast_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big, float *work);
/* any stride: col = w^T dy per block of `rows` small rows, then col2im; big += */
size_t pixl__conv_fast_bwd_data_strided_floats(const pixl_conv_shape *s, int64_t rows);
void pixl__conv_fast_bwd_data_strided(const pixl_conv_shape *s, const float *small, const float *w, float *big,
                                     int64_t rows, float *work);
/* dw += */
size_t pixl__conv_fast_bwd_weight_floats(const pixl_conv_shape *s);
void pixl__conv_fast_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw,
                               float *work);

/* conv2d forward without bias (conv.c; any path it would take), for other
 * ops of the family: small = fwd(big), work = pixl__conv2d_fwd_floats(s)
 * floats (64-byte aligned). */
size_t pixl__conv2d_fwd_floats(const pixl_conv_shape *s);
void pixl__conv2d_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, float *work);

/* C (M, n) = A (M, K) . B, B[k][j] = B[boff[k] + j], with the forward's
 * micro-kernel: A packed once by pixl__conv_pack_a into
 * pixl__conv_packed_a_floats(M, K) floats (parallel: call it outside OpenMP
 * regions); pixl__conv_packed_gemm is serial (one task of a parallel loop). */
size_t pixl__conv_packed_a_floats(int64_t M, int64_t K);
void pixl__conv_pack_a(const float *A, int64_t M, int64_t K, float *Ap);
void pixl__conv_packed_gemm(int64_t M, int64_t K, const float *Ap, const float *B, const int64_t *boff, int64_t n,
                           float *C, int64_t ldc);

/* The longest reduction (C*KH*KW) the implicit-gemm forward runs in one
 * pass; longer ones are cut into chunks (pixl__conv_fast_fwd) or, for the
 * PAC forward, left to the column path. */
#define PIXL_CONV_KC_MAX 4608

/* PAC forward (ordinary geometry, G = 1, C*KH*KW <= PIXL_CONV_KC_MAX): small (N, Cs, OH, OW) = the
 * convolution of big with w where tap (c, kh, kw) at output pixel (oh, ow)
 * is scaled by kernel (N, kernel_channels, KH*KW, OH, OW) (kernel_channels
 * 1 or Cb); no column block, the scaled tap is formed in registers. AVX-512
 * micro-kernel (portable loops elsewhere). Overwrites small. */
size_t pixl__pac_fast_fwd_floats(const pixl_conv_shape *s);
void pixl__pac_fast_fwd(const pixl_conv_shape *s, const float *big, const float *kernel, int kernel_channels,
                       const float *w, float *small, float *work);

/* ------------------------------------------------- naive references */
/* Direct 7-loop convolutions with double accumulation, for tests. They
 * OVERWRITE their outputs; NULL outputs are skipped; b may be NULL. */
/* x = big, y = small */
void pixl__conv2d_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *b, float *y);
void pixl__conv2d_bwd_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db);
/* x = small, y = big */
void pixl__conv_transpose2d_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *b, float *y);
void pixl__conv_transpose2d_bwd_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *dy,
                                     float *dx, float *dw, float *db);

#endif
