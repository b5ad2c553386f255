/* test_gemm.c — pixl__gemm_f32 (CBLAS, split over pixl's threads) against
 * the naive reference, every transpose combination, odd shapes, strided
 * leading dimensions, beta 0 and 1, and the same bits on 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "pixl_impl.h"
#include "test.h"

static void one_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float beta, unsigned seed)
{
    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    float *A = malloc(sizeof(float) * (size_t)na), *B = malloc(sizeof(float) * (size_t)nb);
    float *C0 = malloc(sizeof(float) * (size_t)nc), *C1 = malloc(sizeof(float) * (size_t)nc),
          *C2 = malloc(sizeof(float) * (size_t)nc);
    pixl_test_fill_uniform(A, (long)na, -1, 1, seed);
    pixl_test_fill_uniform(B, (long)nb, -1, 1, seed + 1);
    pixl_test_fill_uniform(C0, (long)nc, -1, 1, seed + 2);
    memcpy(C1, C0, sizeof(float) * (size_t)nc);
    memcpy(C2, C0, sizeof(float) * (size_t)nc);
    pixl__gemm_f32_naive(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C0, ldc);
    pixl_set_num_threads(1);
    pixl__gemm_f32(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C1, ldc);
    pixl_set_num_threads(2);
    pixl__gemm_f32(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C2, ldc);
    char what[96];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d %lldx%lldx%lld beta=%g", ta, tb, (long long)M, (long long)N,
             (long long)K, beta);
    CHECK_ALLCLOSE(what, C1, C0, (long)nc, 1e-5, 1e-5 * (double)K);
    CHECK_MSG(memcmp(C1, C2, sizeof(float) * (size_t)nc) == 0, "%s: 1 and 2 threads differ", what);
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}

PIXL_TEST(gemm_matches_naive_all_transposes)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 300, 27}, {300, 40, 90},
                                        {129, 257, 64}};
    unsigned seed = 1;
    for (int s = 0; s < 6; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int b = 0; b < 2; b++)
                    one_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], b ? 1.0f : 0.0f, seed += 3);
    pixl_set_num_threads(2);
}

PIXL_TEST(gemm_k_zero_scales_c)
{
    float C[4] = {1, 2, 3, 4}, A[1] = {0}, B[1] = {0};
    pixl__gemm_f32(0, 0, 2, 2, 0, 1.0f, A, 1, B, 2, 0.5f, C, 2);
    CHECK(C[0] == 0.5f && C[3] == 2.0f);
    pixl__gemm_f32(0, 0, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, C, 2);
    CHECK(C[0] == 0.0f && C[3] == 0.0f);
}
