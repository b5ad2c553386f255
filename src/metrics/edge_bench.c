/* edge_bench.c — the BSDS boundary benchmark: edge non-maximum suppression,
 * morphological thinning, minimum-cost correspondence of boundary pixels and
 * the ODS / OIS / AP summaries.
 *
 * Protocol (as the BSDS500 benchmark and Dollar's edgesEvalImg/edgesEvalDir):
 *   1. NMS of the soft edge map E (pixl_edge_nms: the edgesNms recipe HED
 *      and RCF evaluate with).
 *   2. For each threshold t_k = k/(K+1), k = 1..K: B = E >= max(eps, t_k),
 *      thinned to one-pixel lines (pixl_edge_thin, bwmorph 'thin' Inf).
 *   3. For each human map G_g: a minimum-cost assignment of B's pixels to
 *      G_g's pixels (pixl_edge_correspond); a pair may match only within
 *      max_dist * image diagonal; an unmatched pixel costs outlier_cost *
 *      max_dist. cnt_r += matched pixels of G_g, sum_r += pixels of G_g;
 *      a pixel of B is correct when it matched some human: cnt_p counts
 *      them once, sum_p = pixels of B.
 *   4. ODS: R, P of the counts summed over images at each threshold, best F
 *      along the linear interpolation between neighbouring thresholds (100
 *      steps). OIS: each image's best threshold (no interpolation), counts
 *      summed over images at those thresholds. AP: precision interpolated
 *      linearly at recall 0, 0.01, .., 1 over the recall range reached, sum
 *      / 100.
 *
 * Correspondence. Costs are integers exactly as the benchmark's CSA input:
 * an edge of length d costs rint(100 d), leaving a pixel unmatched costs
 * ceil(100 * outlier_cost * max_dist_px), and a pair, matched instead of
 * leaving both pixels out, saves that outlier cost once (the benchmark pairs
 * the outlier nodes among themselves at the same cost). We minimise
 *     sum over matched pairs of (rint(100 d) - OW)
 * exactly: the bipartite graph (pixels within max_dist) is split into its
 * connected components and each is solved exactly by the Hungarian method
 * row by row: rows are the pixels of the map with fewer pixels; each row may
 * take a column within reach or stay unmatched (a private dummy column of
 * cost 0); each new row runs a sparse Dijkstra on reduced costs that stops
 * at the first free column, so searches stay local. Among several optimal
 * assignments the one found depends on the row order (raster order): the
 * number of pairs (cnt_r) practically never differs between them, cnt_p
 * (the union over humans) may differ by a few pixels from another exact
 * solver's (measured against pixl's earlier primal-dual solver: cnt_r
 * identical, cnt_p within 6 of ~10^4 pixels on BSDS val images). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pixl_impl.h"

#define MATCH_MULT 100.0

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
static int thin_list(uint8_t *b, int w, int h, int32_t *list, int n, int32_t *del)
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
    thin_list(bw, width, height, list, k, list + n);
    free(list);
    return PIXL_OK;
}

/* -------------------------------------------------------- correspondence */

typedef struct {
    int64_t key;
    int32_t node;
} heap_item;

typedef struct matcher {
    int w, h;
    /* neighbourhood offsets within max_dist, with integer costs */
    int n_off;
    int *off_dx, *off_dy, *off_cost;
    int64_t ow; /* outlier weight */
    /* per call */
    int32_t *idx_a, *idx_b;        /* pixel -> node (-1), w*h each */
    int32_t *pix_a, *pix_b;        /* node -> pixel */
    int32_t *adj_start, *adj_to;   /* CSR left -> right */
    int32_t *adj_cost;
    int cap_nodes_a, cap_nodes_b, cap_edges, cap_start;
    int32_t *parent;               /* union-find over nA + nB */
    int32_t *comp_l, *comp_r;      /* nodes grouped by component */
    int32_t *mate_l, *mate_r, *matecost_r;
    int64_t *pl, *pr, *dr;     /* row and column potentials, column distances */
    heap_item *heap;
    int heap_cap;
    int32_t *touched;
    int touched_cap;
    int64_t *vd, *dd;  /* row-by-row solver: dummy-column potentials and distances */
    int32_t *prev;     /* row a column was reached from */
    int cap_rows, cap_cols;
} matcher;

static void matcher_free(matcher *m)
{
    if (!m) return;
    free(m->off_dx), free(m->off_dy), free(m->off_cost);
    free(m->idx_a), free(m->idx_b), free(m->pix_a), free(m->pix_b);
    free(m->adj_start), free(m->adj_to), free(m->adj_cost), free(m->parent), free(m->comp_l), free(m->comp_r);
    free(m->mate_l), free(m->mate_r), free(m->matecost_r), free(m->pl), free(m->pr), free(m->dr);
    free(m->heap), free(m->touched), free(m->vd), free(m->dd), free(m->prev);
    free(m);
}

static matcher *matcher_new(int w, int h, double max_dist_px, double outlier_cost)
{
    matcher *m = pixl__calloc(1, sizeof *m);
    if (!m) return NULL;
    m->w = w, m->h = h;
    int r = (int)ceil(max_dist_px);
    int cap = (2 * r + 1) * (2 * r + 1);
    m->off_dx = pixl__malloc(sizeof(int) * cap);
    m->off_dy = pixl__malloc(sizeof(int) * cap);
    m->off_cost = pixl__malloc(sizeof(int) * cap);
    m->idx_a = pixl__malloc(sizeof(int32_t) * (size_t)w * h);
    m->idx_b = pixl__malloc(sizeof(int32_t) * (size_t)w * h);
    if (!m->off_dx || !m->off_dy || !m->off_cost || !m->idx_a || !m->idx_b) {
        matcher_free(m);
        return NULL;
    }
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            double d2 = (double)dx * dx + (double)dy * dy;
            if (d2 > max_dist_px * max_dist_px) continue;
            m->off_dx[m->n_off] = dx;
            m->off_dy[m->n_off] = dy;
            m->off_cost[m->n_off] = (int)rint(sqrt(d2) * MATCH_MULT);
            m->n_off++;
        }
    m->ow = (int64_t)ceil(outlier_cost * max_dist_px * MATCH_MULT);
    for (size_t p = 0; p < (size_t)w * h; p++) m->idx_a[p] = m->idx_b[p] = -1;
    return m;
}

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, elem * (size_t)nc);
    if (!q) return pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory (%d elements)", nc);
    *p = q;
    *cap = nc;
    return 0;
}

static int uf_find(int32_t *par, int x)
{
    int r = x;
    while (par[r] != r) r = par[r];
    while (par[x] != r) {
        int nx = par[x];
        par[x] = r;
        x = nx;
    }
    return r;
}

static void heap_push(heap_item *hp, int *n, int64_t key, int32_t node)
{
    int i = (*n)++;
    while (i > 0) {
        int pa = (i - 1) / 2;
        if (hp[pa].key < key || (hp[pa].key == key && hp[pa].node <= node)) break;
        hp[i] = hp[pa];
        i = pa;
    }
    hp[i].key = key;
    hp[i].node = node;
}

static heap_item heap_pop(heap_item *hp, int *n)
{
    heap_item top = hp[0], last = hp[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && (hp[c + 1].key < hp[c].key || (hp[c + 1].key == hp[c].key && hp[c + 1].node < hp[c].node)))
            c++;
        if (last.key < hp[c].key || (last.key == hp[c].key && last.node <= hp[c].node)) break;
        hp[i] = hp[c];
        i = c;
    }
    if (*n > 0) hp[i] = last;
    return top;
}

#define INF64 INT64_MAX

/* Solve one connected component, rows L[0..nl) (the smaller side's pixels)
 * and columns R[0..nr), by the Hungarian method row by row (sparse
 * Dijkstra on reduced costs, stopped at the first free column): row i may take
 * a real column at cost c = rint(100 d) - OW < 0 or its own dummy column
 * (unmatched) at cost 0. Rows are added one at a time; each search ends at
 * the nearest free column, so it stays local when free columns are near.
 * Potentials: u (rows, in pl), v (columns, in pr), vd (dummy columns).
 * Rows left on their dummy are unmatched (ml = -2). */
static int solve_rows(matcher *m, const int32_t *L, int nl, const int32_t *R, int nr)
{
    int32_t *ml = m->mate_l, *mr = m->mate_r, *mcr = m->matecost_r;
    int64_t *u = m->pl, *v = m->pr, *dr = m->dr, *vd = m->vd, *dd = m->dd;
    int32_t *prev = m->prev;
    int need = 2 * (nl + nr) + 16;
    /* free columns keep potential 0 (complementary slackness of the
     * rectangular problem); rows start at their cheapest option */
    for (int i = 0; i < nr; i++) v[R[i]] = 0, dr[R[i]] = INF64;
    for (int i = 0; i < nl; i++) {
        int r = L[i];
        u[r] = 0, vd[r] = 0, dd[r] = INF64;
        need += m->adj_start[r + 1] - m->adj_start[r];
        for (int e = m->adj_start[r]; e < m->adj_start[r + 1]; e++)
            if (m->adj_cost[e] - m->ow < u[r]) u[r] = m->adj_cost[e] - m->ow;
    }
    if (grow((void **)&m->heap, &m->heap_cap, need, sizeof(heap_item)) ||
        grow((void **)&m->touched, &m->touched_cap, 2 * (nl + nr) + 2, sizeof(int32_t)))
        return PIXL_ERR_NOMEM;
    int32_t *touched = m->touched;
    for (int ii = 0; ii < nl; ii++) {
        const int i0 = L[ii];
        int hn = 0, nt = 0;
        /* heap ids: real column j -> 2j, dummy column of row r -> 2r+1 */
        int64_t di = 0; /* distance of the row being expanded */
        int row = i0, end = -1;
        int64_t D = 0;
        for (;;) {
            /* expand `row` at distance di */
            for (int e = m->adj_start[row]; e < m->adj_start[row + 1]; e++) {
                int j = m->adj_to[e];
                if (ml[row] == j) continue;
                int64_t nd = di + (m->adj_cost[e] - m->ow) - u[row] - v[j];
                if (nd < dr[j]) {
                    if (dr[j] == INF64) touched[nt++] = 2 * j;
                    dr[j] = nd;
                    prev[j] = row;
                    heap_push(m->heap, &hn, nd, 2 * j);
                }
            }
            int64_t ndd = di - u[row] - vd[row];
            if (ndd < dd[row]) {
                if (dd[row] == INF64) touched[nt++] = 2 * row + 1;
                dd[row] = ndd;
                heap_push(m->heap, &hn, ndd, 2 * row + 1);
            }
            /* next column */
            heap_item it;
            for (;;) {
                it = heap_pop(m->heap, &hn);
                int x = it.node >> 1;
                if (it.key == (it.node & 1 ? dd[x] : dr[x])) break;
            }
            D = it.key;
            int x = it.node >> 1;
            if (it.node & 1) { /* the dummy of row x: always free, x is on the tree */
                end = it.node;
                break;
            }
            if (mr[x] < 0) {
                end = it.node;
                break;
            }
            row = mr[x];
            di = D;
            /* rows on the tree are recorded through their column (touched) */
        }
        /* potentials: columns v += min(d, D) - D; a row reached through
         * column j (or i0, at 0) gets u += D - min(d_j, D) */
        u[i0] += D;
        for (int t = 0; t < nt; t++) {
            int id = touched[t], x = id >> 1;
            if (id & 1) {
                if (dd[x] < D) vd[x] += dd[x] - D;
                dd[x] = INF64;
            } else {
                if (dr[x] < D) {
                    v[x] += dr[x] - D;
                    if (mr[x] >= 0) u[mr[x]] += D - dr[x];
                }
                dr[x] = INF64;
            }
        }
        /* augment: walk back from the free column */
        int rowc, col;
        if (end & 1) {
            rowc = end >> 1;
            col = ml[rowc];
            ml[rowc] = -2;
        } else {
            col = end >> 1;
            rowc = -1;
        }
        if (!(end & 1)) {
            /* real free column: the row that reached it takes it */
            int j = col;
            for (;;) {
                int r = prev[j];
                int old = ml[r];
                ml[r] = j;
                mr[j] = r;
                for (int e = m->adj_start[r]; e < m->adj_start[r + 1]; e++)
                    if (m->adj_to[e] == j) {
                        mcr[j] = (int32_t)(m->adj_cost[e] - m->ow);
                        break;
                    }
                if (r == i0) break;
                j = old;
            }
        } else if (rowc != i0) {
            /* row rowc moved to its dummy: its old column goes back along the path */
            int j = col;
            for (;;) {
                int r = prev[j];
                int old = ml[r];
                ml[r] = j;
                mr[j] = r;
                for (int e = m->adj_start[r]; e < m->adj_start[r + 1]; e++)
                    if (m->adj_to[e] == j) {
                        mcr[j] = (int32_t)(m->adj_cost[e] - m->ow);
                        break;
                    }
                if (r == i0) break;
                j = old;
            }
        }
    }
    for (int i = 0; i < nl; i++)
        if (ml[L[i]] == -2) ml[L[i]] = -1;
    return PIXL_OK;
}

/* Match the on-pixels of a (pred) to those of b (truth). ma/mb (optional,
 * w*h): 1 + index of the partner pixel, 0 when unmatched. Counts of matched
 * pixels returned in *na / *nb; *cost the total (pixels, unscaled). */
static int matcher_core(matcher *m, const uint8_t *a, const uint8_t *b, int32_t *ma, int32_t *mb, uint8_t *hit_a,
                        uint8_t *hit_b, int64_t *n_matched, double *cost, double max_dist_px, double outlier_cost)
{
    const int w = m->w, h = m->h;
    int nA = 0, nB = 0, nE = 0;
    int64_t tot_a = 0, tot_b = 0;
    /* left nodes: pixels of a with a pixel of b within reach; edges in raster order */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            if (b[p]) tot_b++;
            if (!a[p]) continue;
            tot_a++;
            int first = nE;
            for (int k = 0; k < m->n_off; k++) {
                int xx = x + m->off_dx[k], yy = y + m->off_dy[k];
                if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                size_t q = (size_t)yy * w + xx;
                if (!b[q]) continue;
                if (m->idx_b[q] < 0) {
                    if (grow((void **)&m->pix_b, &m->cap_nodes_b, nB + 1, sizeof(int32_t))) return PIXL_ERR_NOMEM;
                    m->idx_b[q] = nB;
                    m->pix_b[nB++] = (int32_t)q;
                }
                if (grow((void **)&m->adj_to, &m->cap_edges, nE + 1, sizeof(int32_t))) return PIXL_ERR_NOMEM;
                m->adj_to[nE++] = m->idx_b[q];
            }
            if (nE > first) {
                if (grow((void **)&m->pix_a, &m->cap_nodes_a, nA + 1, sizeof(int32_t)) ||
                    grow((void **)&m->adj_start, &m->cap_start, nA + 2, sizeof(int32_t)))
                    return PIXL_ERR_NOMEM; /* the matcher is discarded by every caller on failure */
                m->idx_a[p] = nA;
                m->pix_a[nA] = (int32_t)p;
                m->adj_start[nA] = first;
                nA++;
            }
        }
    int rc = PIXL_OK;
    int64_t matched = 0;
    double total = 0;
    if (nA > 0) {
        m->adj_start[nA] = nE;
        size_t nn = (size_t)nA + nB;
        m->adj_cost = realloc(m->adj_cost, sizeof(int32_t) * (size_t)(nE > 0 ? nE : 1));
        m->parent = realloc(m->parent, sizeof(int32_t) * nn);
        m->comp_l = realloc(m->comp_l, sizeof(int32_t) * (nn + 1));
        m->comp_r = realloc(m->comp_r, sizeof(int32_t) * (nn + 1));
        m->mate_l = realloc(m->mate_l, sizeof(int32_t) * (size_t)nA);
        m->mate_r = realloc(m->mate_r, sizeof(int32_t) * (size_t)nB);
        m->matecost_r = realloc(m->matecost_r, sizeof(int32_t) * (size_t)nB);
        m->pl = realloc(m->pl, sizeof(int64_t) * (size_t)nA);
        m->pr = realloc(m->pr, sizeof(int64_t) * (size_t)nB);
        m->dr = realloc(m->dr, sizeof(int64_t) * (size_t)nB);
        m->vd = realloc(m->vd, sizeof(int64_t) * (size_t)nA);
        m->dd = realloc(m->dd, sizeof(int64_t) * (size_t)nA);
        m->prev = realloc(m->prev, sizeof(int32_t) * (size_t)nB);
        if (!m->adj_cost || !m->parent || !m->comp_l || !m->comp_r || !m->mate_l || !m->mate_r || !m->matecost_r ||
            !m->pl || !m->pr || !m->dr || !m->vd ||
            !m->dd || !m->prev) {
            rc = pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory (%d x %d pixels)", nA, nB);
            goto cleanup;
        }
        /* edge costs */
        for (int u = 0; u < nA; u++) {
            int p = m->pix_a[u], x = p % w, y = p / w;
            for (int e = m->adj_start[u]; e < m->adj_start[u + 1]; e++) {
                int q = m->pix_b[m->adj_to[e]];
                int dx = q % w - x, dy = q / w - y;
                m->adj_cost[e] = (int32_t)rint(sqrt((double)dx * dx + (double)dy * dy) * MATCH_MULT);
            }
        }
        /* connected components */
        for (size_t i = 0; i < nn; i++) m->parent[i] = (int32_t)i;
        for (int u = 0; u < nA; u++)
            for (int e = m->adj_start[u]; e < m->adj_start[u + 1]; e++) {
                int ra = uf_find(m->parent, u), rb = uf_find(m->parent, nA + m->adj_to[e]);
                if (ra != rb) m->parent[ra > rb ? ra : rb] = ra < rb ? ra : rb;
            }
        /* group: component id = root; comp_l/comp_r hold nodes sorted by root (stable) */
        int32_t *cnt = calloc(nn + 1, sizeof(int32_t));
        int32_t *cntr = calloc(nn + 1, sizeof(int32_t));
        if (!cnt || !cntr) {
            free(cnt), free(cntr);
            rc = pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory");
            goto cleanup;
        }
        for (int u = 0; u < nA; u++) cnt[uf_find(m->parent, u) + 1]++;
        for (int v = 0; v < nB; v++) cntr[uf_find(m->parent, nA + v) + 1]++;
        for (size_t i = 0; i < nn; i++) cnt[i + 1] += cnt[i], cntr[i + 1] += cntr[i];
        int32_t *startl = malloc(sizeof(int32_t) * (nn + 1)), *startr = malloc(sizeof(int32_t) * (nn + 1));
        if (!startl || !startr) {
            free(cnt), free(cntr), free(startl), free(startr);
            rc = pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory");
            goto cleanup;
        }
        memcpy(startl, cnt, sizeof(int32_t) * (nn + 1));
        memcpy(startr, cntr, sizeof(int32_t) * (nn + 1));
        for (int u = 0; u < nA; u++) m->comp_l[cnt[uf_find(m->parent, u)]++] = u;
        for (int v = 0; v < nB; v++) m->comp_r[cntr[uf_find(m->parent, nA + v)]++] = v;
        for (int u = 0; u < nA; u++) m->mate_l[u] = -1;
        for (int v = 0; v < nB; v++) m->mate_r[v] = -1;
        for (size_t r = 0; r < nn && !rc; r++) {
            int nl = startl[r + 1] - startl[r], nr = startr[r + 1] - startr[r];
            if (nl == 0 || nr == 0) continue;
            rc = solve_rows(m, m->comp_l + startl[r], nl, m->comp_r + startr[r], nr);
        }
        free(cnt), free(cntr), free(startl), free(startr);
        if (rc) goto cleanup;
        for (int u = 0; u < nA; u++) {
            int v = m->mate_l[u];
            if (v < 0) continue;
            int p = m->pix_a[u], q = m->pix_b[v];
            matched++;
            int dx = q % w - p % w, dy = q / w - p / w;
            total += sqrt((double)dx * dx + (double)dy * dy);
            if (ma) ma[p] = q + 1;
            if (mb) mb[q] = p + 1;
            if (hit_a) hit_a[p] = 1;
            if (hit_b) hit_b[q] = 1;
        }
    }
    if (n_matched) *n_matched = matched;
    if (cost) *cost = total + outlier_cost * max_dist_px * (double)(tot_a + tot_b - 2 * matched);
cleanup:
    for (int u = 0; u < nA; u++) m->idx_a[m->pix_a[u]] = -1;
    for (int v = 0; v < nB; v++) m->idx_b[m->pix_b[v]] = -1;
    return rc;
}

/* The problem is symmetric; the searches start from the free nodes of the
 * left side, so the side with fewer pixels is made the left one (an excess
 * of unmatchable left pixels would otherwise be rescanned every phase). */
static int matcher_run(matcher *m, const uint8_t *a, const uint8_t *b, int32_t *ma, int32_t *mb, uint8_t *hit_a,
                       int64_t *n_matched, double *cost, double max_dist_px, double outlier_cost)
{
    int64_t ca = 0, cb = 0;
    const size_t n = (size_t)m->w * m->h;
    for (size_t p = 0; p < n; p++) ca += a[p] != 0, cb += b[p] != 0;
    if (cb < ca) return matcher_core(m, b, a, mb, ma, NULL, hit_a, n_matched, cost, max_dist_px, outlier_cost);
    return matcher_core(m, a, b, ma, mb, hit_a, NULL, n_matched, cost, max_dist_px, outlier_cost);
}

int pixl_edge_correspond(const uint8_t *a, const uint8_t *b, int width, int height, double max_dist_px,
                         double outlier_cost, int32_t *match_a, int32_t *match_b, double *cost)
{
    if (!a || !b || width < 1 || height < 1 || !(max_dist_px >= 0) || max_dist_px > 1000 ||
        !(outlier_cost > 1))
        return pixl_set_error(PIXL_ERR_ARG,
                              "pixl_edge_correspond: bad arguments (%dx%d maps, max_dist %g px, outlier cost %g)",
                              width, height, max_dist_px, outlier_cost);
    matcher *m = matcher_new(width, height, max_dist_px, outlier_cost);
    if (!m) return PIXL_ERR_NOMEM;
    size_t n = (size_t)width * height;
    if (match_a) memset(match_a, 0, sizeof(int32_t) * n);
    if (match_b) memset(match_b, 0, sizeof(int32_t) * n);
    int rc = matcher_run(m, a, b, match_a, match_b, NULL, NULL, cost, max_dist_px, outlier_cost);
    matcher_free(m);
    return rc;
}

/* ------------------------------------------------------------ benchmark */

static void resolve_opts(const pixl_edge_bench_opts *o, int *K, double *md, double *oc, int *nms, int *thin)
{
    *K = o && o->n_thresholds ? o->n_thresholds : 99;
    *md = o && o->max_dist > 0 ? o->max_dist : 0.0075;
    *oc = o && o->outlier_cost > 0 ? o->outlier_cost : 100;
    *nms = !(o && o->no_nms);
    *thin = !(o && o->no_thin);
}

static int check_sample(const pixl_edge_sample *s, int i)
{
    if (!s->pred || !s->gt || s->width < 1 || s->height < 1 || s->n_gt < 1 || s->width > PIXL_IMAGE_MAX_DIM ||
        s->height > PIXL_IMAGE_MAX_DIM)
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: sample %d is %dx%d with %d human map(s)%s", i,
                              s->width, s->height, s->n_gt, !s->pred || !s->gt ? " and a NULL map" : "");
    return PIXL_OK;
}

/* counts of one image at thresholds thr[k0..k1) from its (NMS'd) map E */
static int eval_thresholds(const pixl_edge_sample *s, const float *E, const double *thr, int k0, int k1, double md_frac,
                           double oc, int thin, pixl_edge_counts *out)
{
    const int w = s->width, h = s->height;
    const size_t n = (size_t)w * h;
    double md = md_frac * sqrt((double)w * w + (double)h * h);
    matcher *m = matcher_new(w, h, md, oc);
    uint8_t *B = pixl__malloc(n * 2);
    int32_t *list = pixl__malloc(sizeof(int32_t) * n * 2);
    int rc = PIXL_OK;
    if (!m || !B || !list) rc = PIXL_ERR_NOMEM;
    uint8_t *hit = B ? B + n : NULL;
    int64_t *gt_count = rc ? NULL : calloc((size_t)s->n_gt, sizeof(int64_t));
    if (!rc && !gt_count) rc = pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory");
    for (int g = 0; !rc && g < s->n_gt; g++) {
        const uint8_t *G = s->gt + (size_t)g * n;
        for (size_t p = 0; p < n; p++) gt_count[g] += G[p] != 0;
    }
    for (int k = k0; !rc && k < k1; k++) {
        double t = thr[k] > 2.220446049250313e-16 ? thr[k] : 2.220446049250313e-16;
        int cnt = 0;
        for (size_t p = 0; p < n; p++) {
            B[p] = (double)E[p] >= t;
            if (B[p]) list[cnt++] = (int32_t)p;
            hit[p] = 0;
        }
        if (thin && cnt) cnt = thin_list(B, w, h, list, cnt, list + n);
        pixl_edge_counts c = {0, 0, 0, cnt};
        for (int g = 0; !rc && g < s->n_gt; g++) {
            int64_t mt = 0;
            if (cnt) rc = matcher_run(m, B, s->gt + (size_t)g * n, NULL, NULL, hit, &mt, NULL, md, oc);
            c.cnt_r += mt;
            c.sum_r += gt_count[g];
        }
        for (int i = 0; i < cnt; i++) c.cnt_p += hit[list[i]];
        out[k] = c;
    }
    free(gt_count);
    free(B), free(list);
    matcher_free(m);
    return rc;
}

int pixl_edge_thresholds(int n, double *thr)
{
    if (n < 1 || n > PIXL_EDGE_MAX_THRESHOLDS || !thr)
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: %d thresholds (1..%d)", n, PIXL_EDGE_MAX_THRESHOLDS);
    for (int k = 0; k < n; k++) thr[k] = (double)(k + 1) / (n + 1);
    return PIXL_OK;
}

int pixl_edge_eval_image(const pixl_edge_sample *s, const pixl_edge_bench_opts *o, pixl_edge_counts *counts)
{
    if (!s || !counts) return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_eval_image: NULL argument");
    int K, nms, thin;
    double md, oc;
    resolve_opts(o, &K, &md, &oc, &nms, &thin);
    double thr[PIXL_EDGE_MAX_THRESHOLDS];
    int rc = pixl_edge_thresholds(K, thr);
    if (rc || (rc = check_sample(s, 0))) return rc;
    size_t n = (size_t)s->width * s->height;
    float *E = pixl__malloc(sizeof(float) * n);
    if (!E) return PIXL_ERR_NOMEM;
    if (nms) rc = pixl_edge_nms(s->pred, s->width, s->height, E);
    else memcpy(E, s->pred, sizeof(float) * n);
    if (!rc) rc = eval_thresholds(s, E, thr, 0, K, md, oc, thin, counts);
    free(E);
    return rc;
}

static double fmeas(double p, double r) { return 2 * p * r / (p + r > 2.220446049250313e-16 ? p + r : 2.220446049250313e-16); }
static double ratio(int64_t a, int64_t b) { return (double)a / (b > 0 ? (double)b : 2.220446049250313e-16); }

int pixl_edge_scores(const pixl_edge_counts *counts, int n_images, int n_thresholds, pixl_edge_bench_result *res)
{
    if (!counts || !res || n_images < 1 || n_thresholds < 1 || n_thresholds > PIXL_EDGE_MAX_THRESHOLDS)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_scores: %d images, %d thresholds (1..%d)%s", n_images,
                              n_thresholds, PIXL_EDGE_MAX_THRESHOLDS, !counts || !res ? ", NULL pointer" : "");
    const int K = n_thresholds;
    double seconds = res->seconds;
    memset(res, 0, sizeof *res);
    res->seconds = seconds;
    res->n_images = n_images;
    res->n_thresholds = K;
    pixl_edge_thresholds(K, res->thresholds);
    pixl_edge_counts ois = {0, 0, 0, 0};
    for (int i = 0; i < n_images; i++) {
        const pixl_edge_counts *c = counts + (size_t)i * K;
        int best = 0;
        double bf = -1;
        for (int k = 0; k < K; k++) {
            res->total[k].cnt_r += c[k].cnt_r, res->total[k].sum_r += c[k].sum_r;
            res->total[k].cnt_p += c[k].cnt_p, res->total[k].sum_p += c[k].sum_p;
            double f = fmeas(ratio(c[k].cnt_p, c[k].sum_p), ratio(c[k].cnt_r, c[k].sum_r));
            if (f > bf) bf = f, best = k;
        }
        ois.cnt_r += c[best].cnt_r, ois.sum_r += c[best].sum_r;
        ois.cnt_p += c[best].cnt_p, ois.sum_p += c[best].sum_p;
    }
    res->ois_r = ratio(ois.cnt_r, ois.sum_r);
    res->ois_p = ratio(ois.cnt_p, ois.sum_p);
    res->ois_f = fmeas(res->ois_p, res->ois_r);
    double R[PIXL_EDGE_MAX_THRESHOLDS], P[PIXL_EDGE_MAX_THRESHOLDS];
    for (int k = 0; k < K; k++) {
        R[k] = ratio(res->total[k].cnt_r, res->total[k].sum_r);
        P[k] = ratio(res->total[k].cnt_p, res->total[k].sum_p);
    }
    /* ODS: best F along the segments between neighbouring thresholds */
    if (K == 1) {
        res->ods_r = R[0], res->ods_p = P[0], res->ods_t = res->thresholds[0], res->ods_f = fmeas(P[0], R[0]);
    } else {
        double bf = -1;
        for (int j = 1; j < K; j++)
            for (int i = 0; i < 100; i++) {
                double a = i / 99.0, b = 1 - a;
                double r = R[j] * a + R[j - 1] * b, p = P[j] * a + P[j - 1] * b;
                double t = res->thresholds[j] * a + res->thresholds[j - 1] * b;
                double f = fmeas(p, r);
                if (f > bf) bf = f, res->ods_f = f, res->ods_r = r, res->ods_p = p, res->ods_t = t;
            }
    }
    /* AP: precision at recall 0:0.01:1 by linear interpolation over the
     * distinct recalls (for repeated recalls the highest threshold's
     * precision, as MATLAB's legacy unique), NaN outside the range dropped */
    double ur[PIXL_EDGE_MAX_THRESHOLDS], up[PIXL_EDGE_MAX_THRESHOLDS];
    int nu = 0;
    for (int k = K - 1; k >= 0; k--) { /* R is non-increasing in k: walk upward in recall */
        if (nu > 0 && R[k] == ur[nu - 1]) continue; /* keep the highest threshold of a repeated recall */
        ur[nu] = R[k], up[nu] = P[k], nu++;
    }
    /* sort by recall (insertion; nearly sorted already) */
    for (int i = 1; i < nu; i++) {
        double r = ur[i], p = up[i];
        int j = i - 1;
        while (j >= 0 && ur[j] > r) ur[j + 1] = ur[j], up[j + 1] = up[j], j--;
        ur[j + 1] = r, up[j + 1] = p;
    }
    double ap = 0;
    if (nu > 1)
        for (int i = 0; i <= 100; i++) {
            double r = i / 100.0;
            if (r < ur[0] || r > ur[nu - 1]) continue;
            int j = 0;
            while (j < nu - 2 && ur[j + 1] < r) j++;
            double p = ur[j + 1] > ur[j] ? up[j] + (up[j + 1] - up[j]) * (r - ur[j]) / (ur[j + 1] - ur[j]) : up[j];
            ap += p;
        }
    res->ap = ap / 100;
    return PIXL_OK;
}

int pixl_edge_benchmark(const pixl_edge_sample *samples, int n, const pixl_edge_bench_opts *o,
                        pixl_edge_bench_result *res)
{
    if (!samples || !res || n < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_benchmark: %d samples%s", n,
                              !samples || !res ? ", NULL pointer" : "");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int K, nms, thin;
    double md, oc;
    resolve_opts(o, &K, &md, &oc, &nms, &thin);
    double thr[PIXL_EDGE_MAX_THRESHOLDS];
    int rc = pixl_edge_thresholds(K, thr);
    for (int i = 0; !rc && i < n; i++) rc = check_sample(&samples[i], i);
    if (rc) return rc;
    float **E = calloc((size_t)n, sizeof(float *));
    pixl_edge_counts *counts = calloc((size_t)n * K, sizeof *counts);
    if (!E || !counts) {
        free(E), free(counts);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
    }
    int nt = pixl_num_threads();
    char first_err[512] = "";
    int *status = calloc((size_t)n * K + n, sizeof(int));
    if (!status) {
        free(E), free(counts);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
    }
    /* NMS per image */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        size_t np = (size_t)samples[i].width * samples[i].height;
        E[i] = malloc(sizeof(float) * np);
        if (!E[i]) status[i] = pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
        else if (nms) status[i] = pixl_edge_nms(samples[i].pred, samples[i].width, samples[i].height, E[i]);
        else memcpy(E[i], samples[i].pred, sizeof(float) * np);
        if (status[i]) {
#pragma omp critical(pixl_edge_bench_err)
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", pixl_last_error());
        }
    }
    for (int i = 0; !rc && i < n; i++) rc = status[i];
    /* one task per (image, block of thresholds); each writes its own slots */
    const int blk = 4;
    const int nb = (K + blk - 1) / blk;
    if (!rc) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int task = 0; task < n * nb; task++) {
            int i = task / nb, b = task % nb;
            int k0 = b * blk, k1 = k0 + blk < K ? k0 + blk : K;
            status[n + task] = eval_thresholds(&samples[i], E[i], thr, k0, k1, md, oc, thin, counts + (size_t)i * K);
            if (status[n + task]) {
#pragma omp critical(pixl_edge_bench_err)
                if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", pixl_last_error());
            }
        }
        for (int t = 0; !rc && t < n * nb; t++) rc = status[n + t];
    }
    if (rc) /* the message was recorded on a worker thread */
        pixl_set_error(rc, "pixl_edge_benchmark: %s", first_err[0] ? first_err : pixl_status_name(rc));
    for (int i = 0; i < n; i++) free(E[i]);
    free(E), free(status);
    if (!rc) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        rc = pixl_edge_scores(counts, n, K, res);
    }
    free(counts);
    return rc;
}

/* the scores; with_counts adds the run time and the per-threshold counts */
static char *scores_json(const pixl_edge_bench_result *r, int with_counts, const char *what)
{
    if (!r) {
        pixl_set_error(PIXL_ERR_ARG, "%s: NULL result", what);
        return NULL;
    }
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "n_images", r->n_images);
    pixl_json_int(&j, "n_thresholds", r->n_thresholds);
    pixl_json_num(&j, "ods_f", r->ods_f);
    pixl_json_num(&j, "ods_p", r->ods_p);
    pixl_json_num(&j, "ods_r", r->ods_r);
    pixl_json_num(&j, "ods_t", r->ods_t);
    pixl_json_num(&j, "ois_f", r->ois_f);
    pixl_json_num(&j, "ois_p", r->ois_p);
    pixl_json_num(&j, "ois_r", r->ois_r);
    pixl_json_num(&j, "ap", r->ap);
    if (with_counts) {
        pixl_json_num(&j, "seconds", r->seconds);
        pixl_json_begin_array(&j, "thresholds");
        for (int k = 0; k < r->n_thresholds; k++) {
            pixl_json_begin_object(&j, NULL);
            pixl_json_num(&j, "t", r->thresholds[k]);
            pixl_json_int(&j, "cnt_r", r->total[k].cnt_r);
            pixl_json_int(&j, "sum_r", r->total[k].sum_r);
            pixl_json_int(&j, "cnt_p", r->total[k].cnt_p);
            pixl_json_int(&j, "sum_p", r->total[k].sum_p);
            pixl_json_end_object(&j);
        }
        pixl_json_end_array(&j);
    }
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, what);
}

char *pixl_edge_scores_json(const pixl_edge_bench_result *r) { return scores_json(r, 0, "pixl_edge_scores_json"); }
char *pixl_edge_bench_json(const pixl_edge_bench_result *r) { return scores_json(r, 1, "pixl_edge_bench_json"); }
