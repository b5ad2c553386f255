/* gemm.c — single-precision GEMM through CBLAS (vendor chosen at build
 * time: OpenBLAS by default) and the naive reference it is tested against.
 *
 * Threading: pixl owns all threads (OpenMP). The BLAS library runs single-
 * threaded (threads.c), and a large GEMM is split here into fixed column (or
 * row) blocks shared out among the threads. Each element of C is reduced over
 * K by one call in one order, in the same block for any thread count, so the
 * bits do not depend on the thread count, and BLAS worker threads never
 * compete with OpenMP's for the cores. */
#include <cblas.h>
#include <omp.h>

#include "pixl_impl.h"

static void sgemm1(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, (int)M,
                (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void pixl__gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    /* Fixed blocks, whatever the thread count: BLAS kernels treat edge
     * tiles differently, so a block boundary that moved with the number of
     * threads would change the bits of the columns near it. */
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (flops < 4e6 || (M < 32 && N < 64)) {
        sgemm1(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int nt = omp_in_parallel() ? 1 : pixl_num_threads();
    if (N >= M) { /* column blocks of 256 */
        const int64_t blk = 256;
        int64_t nblk = (N + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t t = 0; t < nblk; t++) {
            int64_t j0 = t * blk, j1 = j0 + blk < N ? j0 + blk : N;
            sgemm1(transa, transb, M, j1 - j0, K, alpha, A, lda, transb ? B + j0 * ldb : B + j0, ldb, beta, C + j0,
                   ldc);
        }
    } else { /* row blocks of 128 */
        const int64_t blk = 128;
        int64_t nblk = (M + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t t = 0; t < nblk; t++) {
            int64_t i0 = t * blk, i1 = i0 + blk < M ? i0 + blk : M;
            sgemm1(transa, transb, i1 - i0, N, K, alpha, transa ? A + i0 : A + i0 * lda, lda, B, ldb, beta,
                   C + i0 * ldc, ldc);
        }
    }
}

void pixl__gemm_f32_naive(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
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
