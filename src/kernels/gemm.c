/* gemm.c — single-precision GEMM through CBLAS (vendor chosen at build
 * time: OpenBLAS by default) and the naive reference it is tested against.
 *
 * Threading: pixl owns all threads (OpenMP). The BLAS library runs single-
 * threaded (threads.c), and a large GEMM called outside a parallel region is
 * split here into column (or row) blocks, one per thread. Each element of C is
 * still reduced over K by one call in one order, so the result does not
 * depend on the thread count, and BLAS worker threads never compete with
 * OpenMP's for the cores. */
#include <cblas.h>
#include <omp.h>

#include "pixl_impl.h"

static void sgemm1(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, (int)M,
                (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void pixl_gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    int nt = omp_in_parallel() ? 1 : pixl_num_threads();
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (nt <= 1 || flops < 4e6 || (M < 32 && N < 64)) {
        sgemm1(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (N >= M) { /* column blocks, multiples of 16 */
        int64_t blk = ((N + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++) {
            int64_t j0 = t * blk, j1 = j0 + blk < N ? j0 + blk : N;
            if (j0 < j1)
                sgemm1(transa, transb, M, j1 - j0, K, alpha, A, lda, transb ? B + j0 * ldb : B + j0, ldb, beta,
                       C + j0, ldc);
        }
    } else { /* row blocks, multiples of 8 */
        int64_t blk = ((M + nt - 1) / nt + 7) / 8 * 8;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++) {
            int64_t i0 = t * blk, i1 = i0 + blk < M ? i0 + blk : M;
            if (i0 < i1)
                sgemm1(transa, transb, i1 - i0, N, K, alpha, transa ? A + i0 : A + i0 * lda, lda, B, ldb, beta,
                       C + i0 * ldc, ldc);
        }
    }
}

void pixl_gemm_f32_naive(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                float a = transa ? A[k * lda + i] : A[i * lda + k];
                float b = transb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)a * b;
            }
            C[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j]));
        }
}
