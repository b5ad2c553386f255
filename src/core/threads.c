/* threads.c — the thread count of pixl's OpenMP kernels; the BLAS library
 * itself runs single-threaded (see kernels/gemm.c). */
#include <omp.h>

#include "pixl_impl.h"

#ifdef PIXL_OPENBLAS
void openblas_set_num_threads(int num_threads);
#endif

static int g_threads; /* 0 = not yet initialised */

static void apply(int n)
{
    g_threads = n;
    omp_set_num_threads(n);
#ifdef PIXL_OPENBLAS
    /* pixl splits GEMMs over its own OpenMP threads (gemm.c) */
    openblas_set_num_threads(1);
#endif
}

int pixl_num_threads(void)
{
    if (!g_threads) {
        int n = omp_get_num_procs();
        const char *e = getenv("PIXL_NUM_THREADS");
        if (e && atoi(e) > 0) n = atoi(e);
        if (n < 1) n = 1;
        apply(n);
    }
    return g_threads;
}

void pixl_set_num_threads(int n) { apply(n < 1 ? 1 : n); }

const char *pixl_version(void) { return PIXL_VERSION_STRING; }
