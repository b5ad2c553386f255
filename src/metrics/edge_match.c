/* edge_match.c — the BSDS benchmark's minimum-cost correspondence of
 * boundary pixels (pixl_edge_correspond; edge_bench.c has the protocol).
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

#include "metrics/edge_impl.h"

#define MATCH_MULT 100.0 /* costs: rint(100 d), as the benchmark's CSA input */

/* -------------------------------------------------------- correspondence */

typedef struct {
    int64_t key;
    int32_t node;
} heap_item;

struct pixl__edge_matcher {
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
};

void pixl__edge_matcher_free(pixl__edge_matcher *m)
{
    if (!m) return;
    free(m->off_dx), free(m->off_dy), free(m->off_cost);
    free(m->idx_a), free(m->idx_b), free(m->pix_a), free(m->pix_b);
    free(m->adj_start), free(m->adj_to), free(m->adj_cost), free(m->parent), free(m->comp_l), free(m->comp_r);
    free(m->mate_l), free(m->mate_r), free(m->matecost_r), free(m->pl), free(m->pr), free(m->dr);
    free(m->heap), free(m->touched), free(m->vd), free(m->dd), free(m->prev);
    free(m);
}

pixl__edge_matcher *pixl__edge_matcher_new(int w, int h, double max_dist_px, double outlier_cost)
{
    if (!(max_dist_px >= 0 && max_dist_px <= 1000)) { /* the neighbourhood's index arithmetic is int */
        pixl_set_error(PIXL_ERR_ARG, "edge matcher: tolerance %g pixels outside [0, 1000]", max_dist_px);
        return NULL;
    }
    pixl__edge_matcher *m = pixl__calloc(1, sizeof *m);
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
        pixl__edge_matcher_free(m);
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
/* flip the alternating path that ends at column col back to row i0: each
 * row on it takes the column it reached, with that edge's reduced cost */
static void augment(pixl__edge_matcher *m, int col, int i0)
{
    int32_t *ml = m->mate_l, *mr = m->mate_r, *mcr = m->matecost_r, *prev = m->prev;
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

static int solve_rows(pixl__edge_matcher *m, const int32_t *L, int nl, const int32_t *R, int nr)
{
    int32_t *ml = m->mate_l, *mr = m->mate_r;
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
        /* a real free column: the row that reached it takes it; or row rowc
         * moved to its dummy: its old column goes back along the path */
        if (!(end & 1) || rowc != i0) augment(m, col, i0);
    }
    for (int i = 0; i < nl; i++)
        if (ml[L[i]] == -2) ml[L[i]] = -1;
    return PIXL_OK;
}

/* Match the on-pixels of a (pred) to those of b (truth). ma/mb (optional,
 * w*h): 1 + index of the partner pixel, 0 when unmatched. Counts of matched
 * pixels returned in *na / *nb; *cost the total (pixels, unscaled). */
static int matcher_core(pixl__edge_matcher *m, const uint8_t *a, const uint8_t *b, int32_t *ma, int32_t *mb, uint8_t *hit_a,
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
int pixl__edge_matcher_run(pixl__edge_matcher *m, const uint8_t *a, const uint8_t *b, int32_t *ma, int32_t *mb,
                           uint8_t *hit_a, int64_t *n_matched, double *cost, double max_dist_px, double outlier_cost)
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
    pixl__edge_matcher *m = pixl__edge_matcher_new(width, height, max_dist_px, outlier_cost);
    if (!m) return PIXL_ERR_NOMEM;
    size_t n = (size_t)width * height;
    if (match_a) memset(match_a, 0, sizeof(int32_t) * n);
    if (match_b) memset(match_b, 0, sizeof(int32_t) * n);
    int rc = pixl__edge_matcher_run(m, a, b, match_a, match_b, NULL, NULL, cost, max_dist_px, outlier_cost);
    pixl__edge_matcher_free(m);
    return rc;
}

