/* threads.c — the thread count of pixl's OpenMP kernels. The process
 * default (pixl_set_num_threads, PIXL_NUM_THREADS, else all cores) is what
 * a new context, model or optimizer starts with; while a context runs (plan,
 * forward, backward) or an optimizer steps, the calling thread uses that
 * object's count (a thread-local override plus OpenMP's per-thread
 * nthreads-var), so two contexts in two threads do not interfere. The BLAS
 * library itself runs single-threaded, process-wide (see kernels/gemm.c). */
#include <ctype.h>
#include <errno.h>
#include <omp.h>
#include <stdatomic.h>

#include "pixl_impl.h"

#ifdef PIXL_OPENBLAS
void openblas_set_num_threads(int num_threads);
#endif

static atomic_int g_threads;              /* process default; 0 = not yet initialised */
static _Thread_local int t_threads;       /* count of the object running on this thread; 0 = none */

static void set_default(int n)
{
    atomic_store(&g_threads, n);
    omp_set_num_threads(n);
#ifdef PIXL_OPENBLAS
    /* pixl splits GEMMs over its own OpenMP threads (gemm.c) */
    openblas_set_num_threads(1);
#endif
}

/* PIXL_NUM_THREADS when it is a whole base-10 integer in [1, 4096], else 0.
 * An invalid value ("", "abc", "4x", "0", "99999") is ignored and the
 * default (all cores) is used: the library has no one to tell, but the pixl
 * command refuses such a value before running anything (tools/pixl.c). */
static int env_threads(void)
{
    const char *e = getenv("PIXL_NUM_THREADS");
    if (!e || !*e || isspace((unsigned char)*e)) return 0;
    char *end;
    errno = 0;
    long v = strtol(e, &end, 10);
    return !errno && end != e && !*end && v >= 1 && v <= 4096 ? (int)v : 0;
}

int pixl__default_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n) return n;
    n = omp_get_num_procs();
    int e = env_threads();
    if (e) n = e;
    if (n < 1) n = 1;
    set_default(n);
    return n;
}

int pixl_num_threads(void) { return t_threads > 0 ? t_threads : pixl__default_threads(); }

void pixl_set_num_threads(int n) { set_default(n < 1 ? 1 : n); }

int pixl__threads_enter(int n)
{
    int prev = t_threads, def = pixl__default_threads();
    t_threads = n > 0 ? n : def;
    omp_set_num_threads(t_threads);
    return prev;
}

void pixl__threads_leave(int prev)
{
    t_threads = prev;
    omp_set_num_threads(prev > 0 ? prev : pixl__default_threads());
}

const char *pixl_version(void) { return PIXL_VERSION_STRING; }
