/* error.c — thread-local error record, status names, checked allocation. */
#include "pixl_impl.h"

static _Thread_local char g_msg[2048];
static _Thread_local int g_code;

int pixl_set_error(int code, const char *fmt, ...)
{
    char msg[sizeof g_msg]; /* the arguments may include pixl_last_error() itself */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(g_msg, msg, sizeof g_msg);
    g_code = code;
    return code;
}

const char *pixl_last_error(void) { return g_msg; }
int pixl_last_status(void) { return g_code; }
void pixl_clear_error(void)
{
    g_msg[0] = 0;
    g_code = PIXL_OK;
}

const char *pixl_status_name(int s)
{
    switch (s) {
    case PIXL_OK: return "ok";
    case PIXL_ERR_ARG: return "invalid argument";
    case PIXL_ERR_SHAPE: return "shape mismatch";
    case PIXL_ERR_NOMEM: return "out of memory";
    case PIXL_ERR_IO: return "I/O error";
    case PIXL_ERR_FORMAT: return "bad format";
    case PIXL_ERR_NOT_FOUND: return "not found";
    case PIXL_ERR_STATE: return "bad state";
    case PIXL_ERR_UNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

void pixl__ctx_fail(pixl_ctx *ctx, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pixl_set_error(code, "%s", buf);
    if (ctx && !ctx->error_code) {
        snprintf(ctx->error, sizeof ctx->error, "%s", buf);
        ctx->error_code = code;
    }
}

/* ------------------------------------------------ allocation with fault injection */
static long g_fail_countdown; /* 0 = off; k = the k-th allocation fails */

void pixl__fail_alloc_after(long k) { g_fail_countdown = k; }

static bool should_fail(void)
{
    if (g_fail_countdown <= 0) return false;
    if (--g_fail_countdown == 0) return true;
    return false;
}

bool pixl__mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return true;
    *out = a * b;
    return false;
}

void *pixl__malloc(size_t n)
{
    if (should_fail()) {
        pixl_set_error(PIXL_ERR_NOMEM, "out of memory (injected failure) allocating %zu bytes", n);
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (!p) pixl_set_error(PIXL_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *pixl__calloc(size_t n, size_t size)
{
    size_t tot;
    if (pixl__mul_overflows(n, size, &tot)) {
        pixl_set_error(PIXL_ERR_NOMEM, "size overflow allocating %zu x %zu bytes", n, size);
        return NULL;
    }
    void *p = pixl__malloc(tot);
    if (p) memset(p, 0, tot);
    return p;
}

void pixl__free(void *p) { free(p); }

char *pixl__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pixl__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

