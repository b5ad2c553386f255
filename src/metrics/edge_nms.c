/* edge_nms.c — the BSDS benchmark's image operations (edge_bench.c has the
 * protocol): edge non-maximum suppression as the edgesNms recipe HED and
 * RCF evaluate with (pixl_edge_nms), and morphological thinning to
 * one-pixel lines as bwmorph 'thin' (pixl_edge_thin). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/edge_impl.h"


/* ------------------------------------------------------------------ NMS */

/* Triangle filter of radius r along rows and columns with symmetric padding
 * (x[-1-i] = x[i]), as Dollar's convTri: r = 1 -> [1 2 1]/4, r = 4 ->
 * [1 2 3 4 5 4 3 2 1]/25. */
static void conv_tri(const float *in, float *out, float *tmp, int w, int h, int r)
{
    float f[2 * 16 + 1];
    float norm = (float)((r + 1) * (r + 1));
    for (int i = -r; i <= r; i++) f[i + r] = (float)(r + 1 - abs(i)) / norm;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int i = -r; i <= r; i++) {
                int xx = x + i;
                while (xx < 0 || xx >= w) xx = xx < 0 ? -1 - xx : 2 * w - 1 - xx;
                s += f[i + r] * in[(size_t)y * w + xx];
            }
            tmp[(size_t)y * w + x] = s;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int i = -r; i <= r; i++) {
                int yy = y + i;
                while (yy < 0 || yy >= h) yy = yy < 0 ? -1 - yy : 2 * h - 1 - yy;
                s += f[i + r] * tmp[(size_t)yy * w + x];
            }
            out[(size_t)y * w + x] = s;
        }
}

/* MATLAB's gradient: central differences inside, one-sided at the borders. */
static void gradient2(const float *in, float *gx, float *gy, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            if (gx) {
                if (w == 1) gx[p] = 0;
                else if (x == 0) gx[p] = in[p + 1] - in[p];
                else if (x == w - 1) gx[p] = in[p] - in[p - 1];
                else gx[p] = 0.5f * (in[p + 1] - in[p - 1]);
            }
            if (gy) {
                if (h == 1) gy[p] = 0;
                else if (y == 0) gy[p] = in[p + w] - in[p];
                else if (y == h - 1) gy[p] = in[p] - in[p - w];
                else gy[p] = 0.5f * (in[p + w] - in[p - w]);
            }
        }
}

static float interp_clamped(const float *E, int w, int h, float x, float y)
{
    x = x < 0 ? 0 : x > w - 1.001f ? w - 1.001f : x;
    y = y < 0 ? 0 : y > h - 1.001f ? h - 1.001f : y;
    int x0 = (int)x, y0 = (int)y, x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float dx0 = x - x0, dy0 = y - y0, dx1 = 1 - dx0, dy1 = 1 - dy0;
    return E[(size_t)y0 * w + x0] * dx1 * dy1 + E[(size_t)y0 * w + x1] * dx0 * dy1 +
           E[(size_t)y1 * w + x0] * dx1 * dy0 + E[(size_t)y1 * w + x1] * dx0 * dy0;
}

int pixl_edge_nms(const float *edges, int width, int height, float *out)
{
    if (!edges || !out || width < 1 || height < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_nms: bad arguments (%dx%d map, %s)", width, height,
                              !edges || !out ? "NULL pointer" : "empty");
    const int w = width, h = height;
    const size_t n = (size_t)w * h;
    float *buf = pixl__malloc(sizeof(float) * n * 6);
    if (!buf) return PIXL_ERR_NOMEM;
    float *E = buf, *S = buf + n, *T = buf + 2 * n, *Ox = buf + 3 * n, *Oy = buf + 4 * n, *O = buf + 5 * n;
    for (size_t p = 0; p < n; p++) T[p] = edges[p];
    conv_tri(T, E, S, w, h, 1);               /* E = convTri(E, 1) */
    conv_tri(E, S, T, w, h, 4);               /* S = convTri(E, 4) */
    gradient2(S, Ox, Oy, w, h);               /* [Ox, Oy] = gradient2(S) */
    gradient2(Ox, T, NULL, w, h);             /* Oxx */
    gradient2(Oy, S, O, w, h);                /* Oxy (S), Oyy (O) */
    for (size_t p = 0; p < n; p++) {
        float oxx = T[p], oxy = S[p], oyy = O[p];
        float sg = oxy < 0 ? 1.f : oxy > 0 ? -1.f : 0.f; /* sign(-Oxy) */
        double a = atan((double)(oyy * sg) / ((double)oxx + 1e-5));
        a = fmod(a, M_PI);
        if (a < 0) a += M_PI;
        O[p] = (float)a;
    }
    /* suppress pixels weaker than an interpolated neighbour at distance 1
     * along the orientation (with a 1% margin) */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            float e = E[p];
            out[p] = e;
            if (!(e != 0)) continue;
            e *= 1.01f;
            float co = cosf(O[p]), si = sinf(O[p]);
            for (int d = -1; d <= 1; d += 2) {
                float e0 = interp_clamped(E, w, h, x + d * co, y + d * si);
                if (e < e0) {
                    out[p] = 0;
                    break;
                }
            }
        }
    /* fade out the 5 pixels next to the image border */
    int s = 5;
    if (s > w / 2) s = w / 2;
    if (s > h / 2) s = h / 2;
    for (int x = 0; x < s; x++)
        for (int y = 0; y < h; y++) {
            out[(size_t)y * w + x] *= (float)x / s;
            out[(size_t)y * w + (w - 1 - x)] *= (float)x / s;
        }
    for (int y = 0; y < s; y++)
        for (int x = 0; x < w; x++) {
            out[(size_t)y * w + x] *= (float)y / s;
            out[(size_t)(h - 1 - y) * w + x] *= (float)y / s;
        }
    free(buf);
    return PIXL_OK;
}

/* ------------------------------------------------------------- thinning */

/* Deletion tables of the two sub-iterations of bwmorph 'thin' (Lam, Lee and
 * Suen's parallel algorithm as MATLAB documents it). Bit i-1 of the index is
 * neighbour x_i: x1 east, then counter-clockwise (x2 north-east, x3 north,
 * x4 north-west, x5 west, x6 south-west, x7 south, x8 south-east). */
static unsigned char thin_lut[2][256];
static int thin_lut_ready;

static void thin_lut_init(void)
{
    for (int m = 0; m < 256; m++) {
        int x[10];
        for (int i = 1; i <= 8; i++) x[i] = (m >> (i - 1)) & 1;
        x[9] = x[1];
        int xh = 0, n1 = 0, n2 = 0;
        for (int i = 1; i <= 4; i++) {
            xh += !x[2 * i - 1] && (x[2 * i] || x[2 * i + 1]);
            n1 += x[2 * i - 1] || x[2 * i];
            n2 += x[2 * i] || x[2 * i + 1];
        }
        int mn = n1 < n2 ? n1 : n2;
        int g12 = xh == 1 && mn >= 2 && mn <= 3;
        int g3 = ((x[2] || x[3] || !x[8]) && x[1]) == 0;
        int g3b = ((x[6] || x[7] || !x[4]) && x[5]) == 0;
        thin_lut[0][m] = (unsigned char)(g12 && g3);
        thin_lut[1][m] = (unsigned char)(g12 && g3b);
    }
    __atomic_store_n(&thin_lut_ready, 1, __ATOMIC_RELEASE);
}

static inline int nb_code(const uint8_t *b, int w, int h, int x, int y)
{
    static const int dx[8] = {1, 1, 0, -1, -1, -1, 0, 1}, dy[8] = {0, -1, -1, -1, 0, 1, 1, 1};
    int m = 0;
    if (x > 0 && y > 0 && x < w - 1 && y < h - 1) {
        for (int i = 0; i < 8; i++) m |= (b[(size_t)(y + dy[i]) * w + x + dx[i]] != 0) << i;
        return m;
    }
    for (int i = 0; i < 8; i++) {
        int xx = x + dx[i], yy = y + dy[i];
        if (xx >= 0 && yy >= 0 && xx < w && yy < h) m |= (b[(size_t)yy * w + xx] != 0) << i;
    }
    return m;
}

/* thin in place; `list` holds the n foreground pixel indices (updated) */
int pixl__edge_thin_list(uint8_t *b, int w, int h, int32_t *list, int n, int32_t *del)
{
    if (!__atomic_load_n(&thin_lut_ready, __ATOMIC_ACQUIRE)) {
#pragma omp critical(pixl_thin_lut)
        if (!thin_lut_ready) thin_lut_init();
    }
    for (;;) {
        int changed = 0;
        for (int sub = 0; sub < 2; sub++) {
            int nd = 0;
            for (int i = 0; i < n; i++) {
                int p = list[i], x = p % w, y = p / w;
                if (thin_lut[sub][nb_code(b, w, h, x, y)]) del[nd++] = p;
            }
            for (int i = 0; i < nd; i++) b[del[i]] = 0;
            if (nd) {
                changed = 1;
                int k = 0;
                for (int i = 0; i < n; i++)
                    if (b[list[i]]) list[k++] = list[i];
                n = k;
            }
        }
        if (!changed) break;
    }
    return n;
}

int pixl_edge_thin(uint8_t *bw, int width, int height)
{
    if (!bw || width < 1 || height < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_thin: bad arguments (%dx%d map%s)", width, height,
                              bw ? "" : ", NULL pointer");
    size_t n = (size_t)width * height;
    int32_t *list = pixl__malloc(sizeof(int32_t) * n * 2);
    if (!list) return PIXL_ERR_NOMEM;
    int k = 0;
    for (size_t p = 0; p < n; p++)
        if (bw[p]) bw[p] = 1, list[k++] = (int32_t)p;
    pixl__edge_thin_list(bw, width, height, list, k, list + n);
    free(list);
    return PIXL_OK;
}

