/* gated_conv.c — the gated 3x3 convolution of pixel-wise attentional gating
 * (PAG) at inference, computed only where the gate is on:
 *
 *   z[n,o,y,x] = gate[n,ch,y,x] == 1 ? act(scale[o] * (conv3x3(x)[n,o,y,x] + b[o]) + shift[o])
 *                                    : pass[n,o,y,x]          (pass = x when not given)
 *
 * act = ReLU or the identity; scale and shift are the affine given, or an
 * eval-mode BatchNorm folded at each forward exactly as batch_norm2d folds
 * its own (scale = w / sqrt(var + eps), shift = b - mean * scale, in double,
 * rounded to float), so the active pixels equal conv2d (+ bias) ->
 * batch_norm2d -> relu.
 *
 * THE LAYOUT. Pixel (y, x) of a plane is flat position q = y*W + x; tap
 * (c, kh, kw) of an interior pixel is the input at q + off[c,kh,kw], the
 * same offset for every pixel, so consecutive positions are lanes of one
 * vector of an implicit gemm that reads the input in place. A WINDOW is 8
 * such positions [q, q+8), possibly running from the end of a row into the
 * next; two windows make a 16-lane vector. Lanes that are not active pixels
 * are computed and thrown away. A BORDER window (a lane with a tap outside
 * the image, or one that would read past the planes' end) loads each tap
 * into its valid lanes only (zero elsewhere, as conv2d's padding).
 * Short runs of active pixels among inactive ones are instead COMPACTED:
 * their taps are gathered (zero outside the image) into a column block of
 * 48 lanes shared by several runs.
 *
 * THE PLAN (per image, from the gate alone, serial, O(pixels / 64 +
 * windows + runs)): the active pixels as a bitmap; from the first uncovered
 * active q either a window, or, when the window would hold few active pixels
 * in several runs, the run at q is compacted. The choice weighs the lanes a
 * window wastes against the gather a run costs (about 120 / C_out pixels of
 * work: with few output channels a window is nearly always cheaper). The
 * border windows are put after the others, in their own register tiles.
 *
 * THE KERNEL: an 8-row (output channels) x 3-vector (6 windows, 48 pixels)
 * AVX-512 register tile over the whole reduction K = C*9 in the order
 * k = 0..K-1, the epilogue (bias, affine, ReLU) in registers and masked
 * stores of the active lanes. Windows broadcast the weights from panels
 * (8 output channels x K) packed once per forward when the plan has
 * windows; column blocks read them straight from their (C_out, K) rows
 * (eight sequential streams), so that a small active fraction, all
 * compacted, packs nothing. Every output element is one chain of fused
 * multiply-adds over k in the same order whatever window, column block or
 * thread computes it (the same chain as the conv2d forward's AVX-512
 * micro-kernel): the bits do not depend on the thread count. Inactive pixels
 * are copies of pass, run by run; an image with no active pixel is a copy,
 * one with no inactive pixel copies nothing.
 *
 * One parallel region per forward: the calling thread reads the gate and
 * plans the image; then the panels are packed (at the first image with
 * windows); then the copies of pass; then the tasks (dynamic schedule):
 * column blocks (each over all output channels, K in chunks of KC_COMPACT
 * through a per-thread result block), then (chunk of tiles about an image
 * row long, 8-channel panel) pairs.
 *
 * Forward only: the builder refuses inputs that need a gradient. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define GMR 8               /* output channels per register tile */
#define GNV 3               /* vectors (16 pixels) per register tile */
#define GNL (16 * GNV)      /* pixels per register tile / column block */
#define GNH (2 * GNV)       /* windows (8 pixels) per register tile */
#define KC_COMPACT 1152     /* reduction rows of a column block gathered at once */
/* compaction weight: a window is taken when its active pixels plus
 * COMPACT_COST / C_out per run it holds reach 8 (see plan_image) */
#define COMPACT_COST 128
#define PAR_MIN 16384

typedef struct gated_p {
    int64_t N, C, CO, H, W, KG; /* KG: gate channels */
    int channel, dil, relu;
    int has_pass, has_bias, has_bnw, has_bnb, has_bnm, has_bnv;
    float eps;
    const char *gate_label;     /* "gate" or "mask" in errors */
} gated_p;

/* a window of 8 pixels: flat position q, lanes m to store (active pixels); a border window (a tap
 * of a lane outside the image, or reads past the planes' end) loads tap t into lanes mk[t] only */
typedef struct gwin {
    int32_t q;
    uint8_t m, border;
    uint8_t mk[9];
} gwin;
/* a compacted run: flat position q, lane in its column block, length (<= 16) */
typedef struct gfrag {
    int32_t q;
    uint16_t lane, len;
} gfrag;
/* one vector of a column block, per tap t: lanes m[t] = x[off + l + tap offset] (the others 0) */
typedef struct gpiece {
    int32_t off;
    uint16_t m[9];
} gpiece;
/* a run of inactive pixels */
typedef struct grun {
    int32_t q, len;
} grun;

#define FLR(n) ((size_t)(((int64_t)(n) + 15) / 16 * 16)) /* floats, rounded to 64 bytes */

static int64_t rup(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

typedef struct layout {
    int64_t K, KCC, COp, HW, nwords, maxfrag, maxct;
    size_t ap, off, coff, ep, bma, bmi, win, bwin, frag, ctile, run, slot; /* in floats */
    size_t slot_floats, total;
} layout;

static layout layout_of(const gated_p *p, int slots)
{
    layout L;
    L.K = p->C * 9, L.HW = p->H * p->W;
    L.KCC = L.K < KC_COMPACT ? L.K : KC_COMPACT;
    L.COp = rup(p->CO, GMR);
    L.nwords = (L.HW + 63) / 64 + 2;
    L.maxfrag = 2 * L.HW + 4;
    L.maxct = L.HW / GNL + 2;
    size_t o = 0;
    L.ap = o, o += FLR(L.COp * L.K);
    L.off = o, o += FLR(2 * L.K);
    L.coff = o, o += FLR(2 * L.KCC);
    L.ep = o, o += FLR(3 * L.COp);
    L.bma = o, o += FLR(2 * L.nwords);
    L.bmi = o, o += FLR(2 * L.nwords);
    L.win = o, o += FLR(sizeof(gwin) / sizeof(float) * (L.HW + 1));
    L.bwin = o, o += FLR(sizeof(gwin) / sizeof(float) * (L.HW + 1));
    L.frag = o, o += FLR(2 * L.maxfrag);
    L.ctile = o, o += FLR(L.maxct + 1);
    L.run = o, o += FLR(2 * (L.HW + 2));
    L.slot_floats = FLR(L.KCC * GNL) + FLR(L.COp * GNL) + FLR(6 * (GNL + GNV));
    L.slot = o, o += (size_t)slots * L.slot_floats;
    L.total = o;
    return L;
}

static int ctx_slots(const pixl_tensor *n)
{
    int s = pixl__ctx_threads(n->ctx);
    return s < 1 ? 1 : s;
}

static size_t gated_work_bytes(const pixl_tensor *n)
{
    return layout_of(PIXL_PARAMS(n, gated_p), ctx_slots(n)).total * sizeof(float);
}

/* ------------------------------------------------------------ bitmap */

static inline uint32_t bits16(const uint64_t *bm, int64_t q)
{
    int64_t w = q >> 6;
    int s = (int)(q & 63);
    uint64_t v = bm[w] >> s;
    if (s) v |= bm[w + 1] << (64 - s);
    return (uint32_t)(v & 0xFFFF);
}

static inline void or_bits(uint64_t *bm, int64_t q, uint32_t m)
{
    int s = (int)(q & 63);
    bm[q >> 6] |= (uint64_t)m << s;
    if (s > 48) bm[(q >> 6) + 1] |= (uint64_t)m >> (64 - s);
}

/* first position in [pos, end) whose bit is `one`, or end */
static inline int64_t next_bit(const uint64_t *bm, int64_t pos, int64_t end, int one)
{
    while (pos < end) {
        int64_t w = pos >> 6;
        uint64_t v = one ? bm[w] : ~bm[w];
        v &= ~0ULL << (pos & 63);
        if (v) {
            int64_t q = (w << 6) + __builtin_ctzll(v);
            return q < end ? q : end;
        }
        pos = (w + 1) << 6;
    }
    return end;
}

/* ------------------------------------------------------------ kernel */

typedef struct gepi {
    const float *b, *sc, *sh; /* the panel's first channel; NULL: skipped */
    int relu;
} gepi;

#if defined(__AVX512F__)
#include <immintrin.h>

#define GA_ALL(X)                                                                                              \
    X(0, 0) X(0, 1) X(0, 2) X(1, 0) X(1, 1) X(1, 2) X(2, 0) X(2, 1) X(2, 2) X(3, 0) X(3, 1) X(3, 2) X(4, 0)    \
        X(4, 1) X(4, 2) X(5, 0) X(5, 1) X(5, 2) X(6, 0) X(6, 1) X(6, 2) X(7, 0) X(7, 1) X(7, 2)
#define GA_DECL(i, v) __m512 c##i##v = _mm512_setzero_ps();
#define GA_LOAD(i, v)                                                                                          \
    if (mr > i && nv > v) c##i##v = _mm512_loadu_ps(res + i * GNL + 16 * v);
#define GA_STORE(i, v)                                                                                         \
    if (mr > i && nv > v) _mm512_storeu_ps(res + i * GNL + 16 * v, c##i##v);
#define GA_EPI(i, v)                                                                                           \
    if (mr > i && nv > v) c##i##v = epi_v(c##i##v, e, i);
/* vector v: 8 lanes from half 2v, 8 from half 2v+1 */
#define GB_LOAD(v)                                                                                             \
    if (nv > v)                                                                                                \
        b##v = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p[2 * v] + o)),                      \
                                  _mm256_loadu_ps(p[2 * v + 1] + o), 1);
/* masked: lanes 0-7 from half 2v (mask m[2v]), lanes 8-15 from half 2v+1 (mask m[2v+1], bits 8-15) */
#define GB_MLOAD(v)                                                                                            \
    if (nv > v)                                                                                                \
        b##v = _mm512_insertf32x8(                                                                             \
            _mm512_castps256_ps512(_mm256_maskz_loadu_ps((__mmask8)m[2 * v], p[2 * v] + o)),                   \
            _mm256_maskz_loadu_ps((__mmask8)(m[2 * v + 1] >> 8), p[2 * v + 1] + o), 1);
#define GROW(i)                                                                                                \
    if (mr > i) {                                                                                              \
        __m512 ai = _mm512_set1_ps(a[i * as]);                                                                      \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                            \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                \
        if (nv > 2) c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                \
    }
#define GZ_ROW(i, v, h)                                                                                        \
    if (mr > i) {                                                                                              \
        __m256 r = h ? _mm512_extractf32x8_ps(c##i##v, 1) : _mm512_castps512_ps256(c##i##v);                   \
        if (m == 0xFF) _mm256_storeu_ps(zb + i * HW, r);                                                       \
        else _mm256_mask_storeu_ps(zb + i * HW, m, r);                                                         \
    }
#define GZ_HALF(v, h)                                                                                          \
    if (2 * v + h < nh) {                                                                                      \
        float *zb = z + win[2 * v + h].q;                                                                      \
        const __mmask8 m = (__mmask8)win[2 * v + h].m;                                                         \
        GZ_ROW(0, v, h) GZ_ROW(1, v, h) GZ_ROW(2, v, h) GZ_ROW(3, v, h) GZ_ROW(4, v, h) GZ_ROW(5, v, h)        \
        GZ_ROW(6, v, h) GZ_ROW(7, v, h)                                                                        \
    }
#define GZ_STORE(v) if (nv > v) { GZ_HALF(v, 0) GZ_HALF(v, 1) }

/* act(((v + b) * sc) + sh): the order of conv2d's bias, batch_norm2d's x*sc + sh and relu */
static inline __m512 epi_v(__m512 v, const gepi *e, int i)
{
    if (e->b) v = _mm512_add_ps(v, _mm512_set1_ps(e->b[i]));
    if (e->sc) v = _mm512_mul_ps(v, _mm512_set1_ps(e->sc[i]));
    if (e->sh) v = _mm512_add_ps(v, _mm512_set1_ps(e->sh[i]));
    if (e->relu) v = _mm512_max_ps(v, _mm512_setzero_ps()); /* max(v, +0): 0 for NaN and -0, as v > 0 ? v : 0 */
    return v;
}

/* acc[i][l] = (beta ? res[i][l] : 0) + sum_k A[i*lda + k] * base[h][off[k] + l%8]  (h = l / 8, nh halves,
 * nv = ceil(nh/2) vectors), then
 *   mode 0: res = acc;   mode 1: res = epilogue(acc);
 *   mode 2: epilogue, then lanes win[h].m of z + win[h].q (plane i at z + i*HW);
 *   masked (mode 2 only, K a multiple of 9): tap k loads the lanes of mt[(k % 9) * GNH + h] only (0 elsewhere;
 *   half h = 2v+1 has its lanes in bits 8-15) */
static inline __attribute__((always_inline)) void ukern(const int mr, const int nv, int nh, int64_t K,
                                                        const float *Ap, int64_t lda, const float *const *base,
                                                        const int64_t *off, int beta, int mode,
                                                        const uint16_t *mt, int contig, float *res, const gepi *e, float *z,
                                                        const gwin *win, int64_t HW)
{
    GA_ALL(GA_DECL)
    if (beta) {
        GA_ALL(GA_LOAD)
    }
    const float *p[GNH];
    for (int h = 0; h < GNH; h++) p[h] = base[h < nh ? h : nh - 1];
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0;
    if (contig) /* a column block: vector v is 16 consecutive floats at base[0] + 16 v */
        for (int64_t k = 0; k < K; k++) {
            const float *a = Ap + k, *pb = p[0] + off[k];
            const int64_t as = lda;
            b0 = _mm512_loadu_ps(pb);
            if (nv > 1) b1 = _mm512_loadu_ps(pb + 16);
            if (nv > 2) b2 = _mm512_loadu_ps(pb + 32);
            GROW(0) GROW(1) GROW(2) GROW(3) GROW(4) GROW(5) GROW(6) GROW(7)
        }
    else if (mt) {
        for (int64_t k9 = 0; k9 < K; k9 += 9)
            for (int t = 0; t < 9; t++) {
                const int64_t o = off[k9 + t];
                const float *a = Ap + (k9 + t) * GMR;
                const int as = 1;
                const uint16_t *m = mt + t * GNH;
                GB_MLOAD(0) GB_MLOAD(1) GB_MLOAD(2)
                GROW(0) GROW(1) GROW(2) GROW(3) GROW(4) GROW(5) GROW(6) GROW(7)
            }
    } else
        for (int64_t k = 0; k < K; k++) {
            const int64_t o = off[k];
            const float *a = Ap + k * GMR;
            const int as = 1;
            GB_LOAD(0) GB_LOAD(1) GB_LOAD(2)
            GROW(0) GROW(1) GROW(2) GROW(3) GROW(4) GROW(5) GROW(6) GROW(7)
        }
    if (mode == 0) {
        GA_ALL(GA_STORE)
        return;
    }
    GA_ALL(GA_EPI)
    if (mode == 1) {
        GA_ALL(GA_STORE)
        return;
    }
    GZ_STORE(0) GZ_STORE(1) GZ_STORE(2)
}

static void kern(int mr, int nh, int64_t K, const float *Ap, int64_t lda, const float *const *base, const int64_t *off, int beta,
                 int mode, const uint16_t *mt, int contig, float *res, const gepi *e, float *z, const gwin *win, int64_t HW)
{
    switch (mr * 4 + (nh + 1) / 2) {
#define X(M_, V_)                                                                                              \
    case M_ * 4 + V_: ukern(M_, V_, nh, K, Ap, lda, base, off, beta, mode, mt, contig, res, e, z, win, HW); break;
        X(1, 1) X(1, 2) X(1, 3) X(2, 1) X(2, 2) X(2, 3) X(3, 1) X(3, 2) X(3, 3) X(4, 1) X(4, 2) X(4, 3)
        X(5, 1) X(5, 2) X(5, 3) X(6, 1) X(6, 2) X(6, 3) X(7, 1) X(7, 2) X(7, 3) X(8, 1) X(8, 2) X(8, 3)
#undef X
    default: break;
    }
}

/* one row of a column block (nv vectors): vector v = its pieces [np[v], np[v+1]), lanes m[tap] of
 * src + off (masked loads: lanes outside stay 0) */
static inline void gather_row(float *row, const float *src, int tap, const gpiece *pc, const int *np, int nv)
{
    for (int v = 0; v < nv; v++) {
        __m512 a = _mm512_setzero_ps();
        for (int i = np[v]; i < np[v + 1]; i++)
            if (pc[i].m[tap]) a = _mm512_mask_loadu_ps(a, (__mmask16)pc[i].m[tap], src + pc[i].off);
        _mm512_store_ps(row + 16 * v, a);
    }
}

/* dst[i] = src[i], i < n: 16 at a time, the tail masked (short runs: no call) */
static inline void copy_run(float *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
}

/* z[zo + l] = r[l] for the lanes of a run (l < n <= 16) */
static inline void store_run(float *z, const float *r, int n)
{
    __mmask16 m = (__mmask16)((1u << n) - 1);
    _mm512_mask_storeu_ps(z, m, _mm512_maskz_loadu_ps(m, r));
}

#else /* portable: the same operations in the same order, one element at a time */

static inline float epi_s(float v, const gepi *e, int i)
{
    if (e->b) v += e->b[i];
    if (e->sc) v *= e->sc[i];
    if (e->sh) v += e->sh[i];
    if (e->relu) v = v > 0.0f ? v : 0.0f;
    return v;
}

static void kern(int mr, int nh, int64_t K, const float *Ap, int64_t lda, const float *const *base, const int64_t *off,
                 int beta, int mode, const uint16_t *mt, int contig, float *res, const gepi *e, float *z,
                 const gwin *win, int64_t HW)
{
    (void)contig; /* base[h] + off[k] + l%8 is the same float either way */
    for (int i = 0; i < mr; i++)
        for (int l = 0; l < 8 * nh; l++) {
            const gwin *wv = mode == 2 ? win + l / 8 : NULL;
            if (wv && !(wv->m >> (l % 8) & 1)) continue; /* a lane not stored: its taps may be anywhere */
            const float *p = base[l / 8] + l % 8;
            float acc = beta ? res[i * GNL + l] : 0.0f;
            for (int64_t k = 0; k < K; k++) {
                int h = l / 8, bit = h % 2 ? 8 + l % 8 : l % 8;
                float xv = mt && !(mt[(k % 9) * GNH + h] >> bit & 1) ? 0.0f : p[off[k]];
                acc += Ap[i * lda + k] * xv;
            }
            if (mode == 0) res[i * GNL + l] = acc;
            else if (mode == 1) res[i * GNL + l] = epi_s(acc, e, i);
            else z[i * HW + wv->q + l % 8] = epi_s(acc, e, i);
        }
}

static inline void gather_row(float *row, const float *src, int tap, const gpiece *pc, const int *np, int nv)
{
    for (int v = 0; v < nv; v++) {
        for (int l = 0; l < 16; l++) row[16 * v + l] = 0.0f;
        for (int i = np[v]; i < np[v + 1]; i++)
            for (int l = 0; l < 16; l++)
                if (pc[i].m[tap] >> l & 1) row[16 * v + l] = src[pc[i].off + l];
    }
}

static inline void store_run(float *z, const float *r, int n) { memcpy(z, r, (size_t)n * sizeof(float)); }
static inline void copy_run(float *dst, const float *src, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
#endif

/* ------------------------------------------------------------ weights */

/* Ap[(t*K + k)*GMR + i] = w[(t*GMR + i)*K + k] (0 past CO) for k in [k0, k0+16) */
static void pack_block(const float *w, int64_t CO, int64_t K, int64_t t, int64_t k0, float *Ap)
{
    float *dst = Ap + (t * K + k0) * GMR;
#if defined(__AVX512F__)
    if (k0 + 16 <= K) { /* an 8 x 16 block transposed in registers */
        __m512 r[GMR], u[GMR];
        for (int i = 0; i < GMR; i++)
            r[i] = t * GMR + i < CO ? _mm512_loadu_ps(w + (t * GMR + i) * K + k0) : _mm512_setzero_ps();
        for (int i = 0; i < GMR; i += 4) { /* u[i + c]: per 128-bit lane L, rows i..i+3 at column 4L + c */
            __m512 t0 = _mm512_unpacklo_ps(r[i], r[i + 1]), t1 = _mm512_unpackhi_ps(r[i], r[i + 1]);
            __m512 t2 = _mm512_unpacklo_ps(r[i + 2], r[i + 3]), t3 = _mm512_unpackhi_ps(r[i + 2], r[i + 3]);
            u[i] = _mm512_shuffle_ps(t0, t2, 0x44), u[i + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
            u[i + 2] = _mm512_shuffle_ps(t1, t3, 0x44), u[i + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
        }
#define PACK_OUT(m_)                                                                                           \
    {                                                                                                          \
        const int c0 = 2 * ((m_) % 2);                                                                         \
        const int sel = ((m_) / 2) * 0x55; /* lane L = m/2 of each source */                                   \
        __m512 X = _mm512_shuffle_f32x4(u[c0], u[c0 + 1], sel), Y = _mm512_shuffle_f32x4(u[4 + c0], u[5 + c0], sel); \
        _mm512_storeu_ps(dst + 16 * (m_), _mm512_mask_blend_ps(0xF0F0, X, Y));                                 \
    }
        PACK_OUT(0) PACK_OUT(1) PACK_OUT(2) PACK_OUT(3) PACK_OUT(4) PACK_OUT(5) PACK_OUT(6) PACK_OUT(7)
#undef PACK_OUT
        return;
    }
#endif
    for (int64_t k = k0; k < k0 + 16 && k < K; k++)
        for (int i = 0; i < GMR; i++)
            dst[(k - k0) * GMR + i] = t * GMR + i < CO ? w[(t * GMR + i) * K + k] : 0.0f;
}

/* ------------------------------------------------------------ plan */

typedef struct plan {
    int64_t active, nwin, nplain, nfrag, nct, nrun; /* windows: nplain plain ones, then the border ones */
} plan;

/* the gate channel of one image: bitmaps of the active pixels (a) and of the active interior ones (in),
 * the 0/1 check; returns the active count or -1 (error set) */
static int64_t scan_gate(const gated_p *p, const layout *L, const float *g, uint64_t *a, uint64_t *in,
                         const char *node, const pixl_tensor *gate, int64_t n)
{
    const int64_t H = p->H, W = p->W, d = p->dil;
    memset(a, 0, (size_t)L->nwords * sizeof(uint64_t));
    memset(in, 0, (size_t)L->nwords * sizeof(uint64_t));
    int64_t active = 0;
    for (int64_t y = 0; y < H; y++) {
        const float *gr = g + y * W;
        const int row_in = y >= d && y < H - d;
        for (int64_t x0 = 0; x0 < W; x0 += 16) {
            int nl = (int)(W - x0 < 16 ? W - x0 : 16);
            uint32_t all = nl == 16 ? 0xFFFFu : (1u << nl) - 1, on = 0, zero = 0;
#if defined(__AVX512F__)
            __m512 v = _mm512_maskz_loadu_ps((__mmask16)all, gr + x0);
            on = _mm512_mask_cmp_ps_mask((__mmask16)all, v, _mm512_set1_ps(1.0f), _CMP_EQ_OQ);
            zero = _mm512_mask_cmp_ps_mask((__mmask16)all, v, _mm512_setzero_ps(), _CMP_EQ_OQ);
#else
            for (int l = 0; l < nl; l++) {
                on |= (uint32_t)(gr[x0 + l] == 1.0f) << l;
                zero |= (uint32_t)(gr[x0 + l] == 0.0f) << l;
            }
#endif
            if ((on | zero) != all) {
                int l = __builtin_ctz(~(on | zero) & all);
                pixl_set_error(PIXL_ERR_ARG,
                               "gated_conv3x3 '%s': %s %s channel %d must be 0 or 1, got %g at image %lld, pixel "
                               "(%lld, %lld)",
                               node, p->gate_label, pixl__tshape(gate), p->channel, (double)gr[x0 + l], (long long)n,
                               (long long)y, (long long)(x0 + l));
                return -1;
            }
            if (!on) continue;
            active += __builtin_popcount(on);
            or_bits(a, y * W + x0, on);
            if (!row_in) continue;
            /* lanes with d <= x < W - d */
            int64_t lo = d - x0, hi = W - d - x0;
            lo = lo < 0 ? 0 : lo;
            hi = hi > 16 ? 16 : hi;
            if (hi <= lo) continue;
            uint32_t cols = (uint32_t)(((1u << hi) - 1) & ~((1u << lo) - 1)) & on;
            or_bits(in, y * W + x0, cols);
        }
    }
    return active;
}

/* append the run [q, q+len) to the column blocks (split at 16 pixels and at block ends) */
static void add_run(plan *P, gfrag *frag, int32_t *ctile, int64_t *lane, int64_t q, int64_t len)
{
    while (len > 0) {
        int64_t take = len < 16 ? len : 16;
        if (take > GNL - *lane) take = GNL - *lane;
        frag[P->nfrag++] = (gfrag){(int32_t)q, (uint16_t)*lane, (uint16_t)take};
        q += take, len -= take, *lane += take;
        if (*lane == GNL) {
            ctile[++P->nct] = (int32_t)P->nfrag;
            *lane = 0;
        }
    }
}

/* windows (the border ones, as the interior bitmap `in` tells, after the others), compacted runs (in
 * column blocks), inactive runs; `a` and `in` as scan_gate made them */
static plan plan_image(const gated_p *p, const layout *L, const uint64_t *a, const uint64_t *in, int64_t active,
                       gwin *win, gwin *bwin, gfrag *frag, int32_t *ctile, grun *run)
{
    plan P = {.active = active};
    const int64_t H = p->H, W = p->W, d = p->dil, HW = L->HW, CO = p->CO;
    const int64_t qmax = HW - 8 - d * W - d; /* a window from q reads up to q + 7 + d*W + d */
    int64_t pos = 0, lane = 0, y = 0, row = 0; /* row = y * W: the row of the current position */
    ctile[0] = 0;
    for (;;) {
        int64_t q = next_bit(a, pos, HW, 1);
        if (q >= HW) break;
        while (q >= row + W) y++, row += W;
        const int64_t qx = q - row;
        uint32_t m = bits16(a, q) & 0xFF;
        int na = __builtin_popcount(m), runs = __builtin_popcount(m & ~(m << 1));
        if (q + 8 >= HW || na * CO + runs * COMPACT_COST >= 8 * CO) { /* the last pixels: a window */
            const int border = q > qmax || (m & ~bits16(in, q)) != 0;
            gwin *w = border ? bwin + (P.nwin - P.nplain) : win + P.nplain++;
            P.nwin++;
            w->q = (int32_t)q, w->m = (uint8_t)m, w->border = (uint8_t)border;
            if (border) /* each lane's taps inside the image */
                for (int l = 0; l < 8; l++) {
                    int64_t ly = y, lx = qx + l;
                    while (lx >= W) ly++, lx -= W; /* rows narrower than a window: several rows */
                    uint8_t bit = (uint8_t)(m >> l & 1u);
                    for (int t = 0; t < 9; t++) {
                        int64_t yy = ly + (t / 3 - 1) * d, xx = lx + (t % 3 - 1) * d;
                        int ok = yy >= 0 && yy < H && xx >= 0 && xx < W;
                        w->mk[t] = (uint8_t)((l ? w->mk[t] : 0) | (ok ? bit << l : 0));
                    }
                }
            pos = q + 8;
            continue;
        }
        int64_t len = m == 0xFF ? 8 : __builtin_ctz(~m);
        add_run(&P, frag, ctile, &lane, q, len);
        pos = q + len;
    }
    if (lane) ctile[++P.nct] = (int32_t)P.nfrag;
    /* the border windows after the others, in their own tiles: only those tiles take the masked kernel */
    memcpy(win + P.nplain, bwin, (size_t)(P.nwin - P.nplain) * sizeof(gwin));
    if (active < HW) /* inactive runs */
        for (int64_t q = next_bit(a, 0, HW, 0); q < HW; q = next_bit(a, q, HW, 0)) {
            int64_t e = next_bit(a, q, HW, 1);
            run[P.nrun++] = (grun){(int32_t)q, (int32_t)(e - q)};
            q = e;
        }
    return P;
}

/* the vectors of column block [f0, f1): per vector its runs' lanes, each with the taps inside the image */
static void block_pieces(const gated_p *p, const gfrag *f0, const gfrag *f1, int nv, gpiece *pc, int *np)
{
    const int64_t H = p->H, W = p->W, d = p->dil;
    int n = 0;
    np[0] = 0;
    for (int v = 0; v < nv; v++) {
        for (const gfrag *f = f0; f < f1; f++) {
            int lo = f->lane > 16 * v ? f->lane : 16 * v, hi = f->lane + f->len;
            if (hi > 16 * v + 16) hi = 16 * v + 16;
            if (lo >= hi) continue;
            gpiece *g = pc + n++;
            g->off = (int32_t)(f->q - f->lane + 16 * v); /* lane l of the vector: pixel off + l */
            for (int t = 0; t < 9; t++) g->m[t] = 0;
            for (int l = lo - 16 * v; l < hi - 16 * v; l++) {
                int64_t q = g->off + l, y = q / W, x = q % W;
                for (int kh = 0; kh < 3; kh++) {
                    int64_t yy = y + (kh - 1) * d;
                    if (yy < 0 || yy >= H) continue;
                    for (int kw = 0; kw < 3; kw++) {
                        int64_t xx = x + (kw - 1) * d;
                        if (xx >= 0 && xx < W) g->m[kh * 3 + kw] |= (uint16_t)(1u << l);
                    }
                }
            }
        }
        np[v + 1] = n;
    }
}

/* ------------------------------------------------------------ forward */

/* Maps narrower than a window (W < 8): a direct loop per active pixel. The
 * window plan assumes rows of at least one window; such maps are tiny (the
 * res5 of a small input), so their time does not matter. */
static int gated_fwd_narrow(pixl_tensor *nd, const float *xd, const float *gd, const float *wd, const float *pass,
                            const float *eb, const float *esc, const float *esh, float *zd)
{
    const gated_p *p = PIXL_PARAMS(nd, gated_p);
    const int64_t N = p->N, C = p->C, CO = p->CO, H = p->H, W = p->W, HW = H * W, d = p->dil;
    for (int64_t i = 0; i < N * HW; i++) {
        const float v = gd[(i / HW * p->KG + p->channel) * HW + i % HW];
        if (v != 0.0f && v != 1.0f)
            return pixl_set_error(PIXL_ERR_ARG,
                                  "gated_conv3x3 '%s': %s %s channel %d must be 0 or 1, got %g at image %lld, pixel "
                                  "(%lld, %lld)",
                                  nd->name, p->gate_label, pixl__tshape(nd->src[1]), p->channel, (double)v,
                                  (long long)(i / HW), (long long)(i % HW / W), (long long)(i % W));
    }
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * CO * HW > 4096)
    for (int64_t no = 0; no < N * CO; no++) {
        const int64_t n = no / CO, o = no % CO;
        const float *g = gd + (n * p->KG + p->channel) * HW, *x = xd + n * C * HW, *w = wd + o * C * 9;
        for (int64_t q = 0; q < HW; q++) {
            if (g[q] == 0.0f) {
                zd[no * HW + q] = pass[no * HW + q];
                continue;
            }
            const int64_t y = q / W, xx = q % W;
            float acc = 0.0f;
            for (int64_t c = 0; c < C; c++)
                for (int kh = 0; kh < 3; kh++) {
                    const int64_t yy = y + (kh - 1) * d;
                    if (yy < 0 || yy >= H) continue;
                    for (int kw = 0; kw < 3; kw++) {
                        const int64_t xw = xx + (kw - 1) * d;
                        if (xw >= 0 && xw < W) acc += w[c * 9 + kh * 3 + kw] * x[c * HW + yy * W + xw];
                    }
                }
            float r = (acc + eb[o]) * esc[o] + esh[o];
            zd[no * HW + q] = p->relu && !(r > 0.0f) ? 0.0f : r;
        }
    }
    return PIXL_OK;
}

static int gated_fwd(pixl_tensor *nd)
{
    const gated_p *p = PIXL_PARAMS(nd, gated_p);
    const int slots = ctx_slots(nd);
    const layout L = layout_of(p, slots);
    const int64_t N = p->N, C = p->C, CO = p->CO, W = p->W, HW = L.HW, K = L.K;
    const int64_t d = p->dil, COp = L.COp, T = COp / GMR, KCC = L.KCC;
    int si = 0;
    const pixl_tensor *xt = nd->src[si++], *gt = nd->src[si++], *wt = nd->src[si++];
    const float *xd = pixl_f32(xt), *gd = pixl_f32(gt), *wd = pixl_f32(wt);
    const float *pass = p->has_pass ? pixl_f32(nd->src[si++]) : xd;
    const float *bias = p->has_bias ? pixl_f32(nd->src[si++]) : NULL;
    const float *bnw = p->has_bnw ? pixl_f32(nd->src[si++]) : NULL;
    const float *bnb = p->has_bnb ? pixl_f32(nd->src[si++]) : NULL;
    const float *bnm = p->has_bnm ? pixl_f32(nd->src[si++]) : NULL;
    const float *bnv = p->has_bnv ? pixl_f32(nd->src[si++]) : NULL;
    float *zd = pixl_f32(nd);

    float *work = nd->work;
    float *ep = work + L.ep, *Ap = work + L.ap;
    int64_t *off = (int64_t *)(void *)(work + L.off), *coff = (int64_t *)(void *)(work + L.coff);
    uint64_t *bma = (uint64_t *)(void *)(work + L.bma), *bmi = (uint64_t *)(void *)(work + L.bmi);
    gwin *win = (gwin *)(void *)(work + L.win), *bwin = (gwin *)(void *)(work + L.bwin);
    gfrag *frag = (gfrag *)(void *)(work + L.frag);
    int32_t *ctile = (int32_t *)(void *)(work + L.ctile);
    grun *run = (grun *)(void *)(work + L.run);
    float *slotb = work + L.slot;

    /* the epilogue: bias, then scale and shift (the BatchNorm folded as batch_norm2d folds it) */
    float *eb = ep, *esc = ep + COp, *esh = ep + 2 * COp;
    const int has_sc = bnv || bnw, has_sh = bnb || bnm;
    for (int64_t o = 0; o < CO; o++) {
        eb[o] = bias ? bias[o] : 0.0f;
        if (bnv) {
            double rs = 1.0 / sqrt((double)bnv[o] + (double)p->eps);
            esc[o] = (float)((bnw ? (double)bnw[o] : 1.0) * rs);
        } else
            esc[o] = bnw ? bnw[o] : 1.0f;
        esh[o] = (float)((bnb ? (double)bnb[o] : 0.0) - (bnm ? (double)bnm[o] : 0.0) * (double)esc[o]);
    }
    for (int64_t o = CO; o < COp; o++) eb[o] = 0.0f, esc[o] = 1.0f, esh[o] = 0.0f;
    if (W < 8) return gated_fwd_narrow(nd, xd, gd, wd, pass, eb, esc, esh, zd);

    /* tap offsets in a plane (of an interior pixel) and in a column block */
    for (int64_t c = 0; c < C; c++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) off[c * 9 + kh * 3 + kw] = c * HW + (kh - 1) * d * W + (kw - 1) * d;
    for (int64_t k = 0; k < KCC; k++) coff[k] = k * GNL;

    /* One parallel region: the plan, the panels (if windows), the copies, the tasks. */
    int nt = pixl_num_threads();
    if (nt > slots) nt = slots;
    int failed = 0, packed = 0;
    int64_t active = 0;
    plan P = {0};
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = slotb + (size_t)omp_get_thread_num() * L.slot_floats; /* (KCC, GNL) */
        float *res = col + FLR(KCC * GNL);                                 /* (COp, GNL) */
        gpiece *pc = (gpiece *)(void *)(res + FLR(COp * GNL));             /* (GNL + GNV) */
        for (int64_t n = 0; n < N; n++) {
            const float *x = xd + n * C * HW, *ps = pass + n * CO * HW;
            float *z = zd + n * CO * HW;
#pragma omp master
            {
                active = scan_gate(p, &L, gd + (n * p->KG + p->channel) * HW, bma, bmi, nd->name, gt, n);
                if (active < 0) failed = 1;
                else if (active > 0) P = plan_image(p, &L, bma, bmi, active, win, bwin, frag, ctile, run);
            }
#pragma omp barrier
            if (failed) break;
            if (P.nwin > 0 && !packed) { /* the windows' panels, once per forward (column blocks read w) */
                const int64_t KB = (K + 15) / 16; /* Ap (T, K, GMR): panel t = rows t*GMR.. of w (CO, K) */
#pragma omp for schedule(static)
                for (int64_t tb = 0; tb < T * KB; tb++) pack_block(wd, CO, K, tb / KB, tb % KB * 16, Ap);
#pragma omp single
                packed = 1;
            }
            if (active == 0) { /* z = pass */
#pragma omp for schedule(static)
                for (int64_t o = 0; o < CO; o++) memcpy(z + o * HW, ps + o * HW, (size_t)HW * sizeof(float));
                continue;
            }
            /* the inactive pixels of z */
            if (P.nrun) {
#pragma omp for schedule(static)
                for (int64_t o = 0; o < CO; o++)
                    for (int64_t i = 0; i < P.nrun; i++)
                        copy_run(z + o * HW + run[i].q, ps + o * HW + run[i].q, run[i].len);
            }

            /* the tasks: column blocks, then (window chunk, panel) */
            const int64_t ntp = (P.nplain + GNH - 1) / GNH, nbw = P.nwin - P.nplain, tpc = (W + GNL - 1) / GNL;
            const int64_t ntile = ntp + (nbw + GNH - 1) / GNH;
            const int64_t nchunk = (ntile + tpc - 1) / tpc;
            const int64_t ntask = P.nct + nchunk * T;
#pragma omp for schedule(dynamic, 1)
            for (int64_t it = 0; it < ntask; it++) {
                if (it < P.nct) { /* a column block over every output channel */
                    const gfrag *f0 = frag + ctile[it], *f1 = frag + ctile[it + 1];
                    const int lanes = f1[-1].lane + f1[-1].len, nv = (lanes + 15) / 16;
                    const float *cb[GNH] = {col, col + 8, col + 16, col + 24, col + 32, col + 40};
                    int np[GNV + 1];
                    block_pieces(p, f0, f1, nv, pc, np);
                    for (int64_t k0 = 0; k0 < K; k0 += KCC) {
                        const int64_t kn = K - k0 < KCC ? K - k0 : KCC;
                        for (int64_t k = 0; k < kn; k++)
                            gather_row(col + k * GNL, x + off[k0 + k], (int)((k0 + k) % 9), pc, np, nv);
                        const int last = k0 + kn == K;
                        for (int64_t t = 0; t < T; t++) {
                            int mr = (int)(CO - t * GMR < GMR ? CO - t * GMR : GMR);
                            gepi e = {bias ? eb + t * GMR : NULL, has_sc ? esc + t * GMR : NULL,
                                      has_sh ? esh + t * GMR : NULL, p->relu};
                            kern(mr, 2 * nv, kn, wd + t * GMR * K + k0, K, cb, coff, k0 > 0, last, NULL, 1,
                                 res + t * GMR * GNL, &e, NULL, NULL, HW);
                        }
                    }
                    for (int64_t o = 0; o < CO; o++)
                        for (const gfrag *f = f0; f < f1; f++)
                            store_run(z + o * HW + f->q, res + o * GNL + f->lane, f->len);
                    continue;
                }
                const int64_t ci = (it - P.nct) / T, t = (it - P.nct) % T;
                const int mr = (int)(CO - t * GMR < GMR ? CO - t * GMR : GMR);
                const gepi e = {bias ? eb + t * GMR : NULL, has_sc ? esc + t * GMR : NULL,
                                has_sh ? esh + t * GMR : NULL, p->relu};
                const int64_t t1 = (ci + 1) * tpc < ntile ? (ci + 1) * tpc : ntile;
                for (int64_t ti = ci * tpc; ti < t1; ti++) {
                    const int64_t w0 = ti < ntp ? ti * GNH : P.nplain + (ti - ntp) * GNH;
                    const int64_t w1 = ti < ntp ? P.nplain : P.nwin;
                    const gwin *wv = win + w0;
                    const int nh = (int)(w1 - w0 < GNH ? w1 - w0 : GNH);
                    const float *wb[GNH];
                    uint16_t mt[9 * GNH];
                    int masked = 0;
                    for (int h = 0; h < nh; h++) wb[h] = x + wv[h].q, masked |= wv[h].border;
                    if (masked) /* the border windows' tiles (the plan puts them last) */
                        for (int tp = 0; tp < 9; tp++)
                            for (int h = 0; h < GNH; h++)
                                mt[tp * GNH + h] = h < nh ? (uint16_t)(wv[h].mk[tp] << (h % 2 ? 8 : 0)) : 0;
                    kern(mr, nh, K, Ap + t * K * GMR, 1, wb, off, 0, 2, masked ? mt : NULL, 0, NULL, &e,
                         z + t * GMR * HW, wv, HW);
                }
            }
        }
    }
    if (failed) return PIXL_ERR_ARG;
    return PIXL_OK;
}

static const pixl_op_def gated_conv3x3_def = {
    .name = "gated_conv3x3", .fwd = gated_fwd, .bwd = NULL, .work_bytes = gated_work_bytes};

/* ---------------------------------------------------------------- builders */

/* names of the inputs in errors (the wrapper's are its argument names) */
typedef struct labels {
    const char *gate, *bn_weight, *bn_bias;
} labels;

static int check_vec(pixl_ctx *ctx, const char *op, const char *what, pixl_tensor *v, int64_t C, pixl_tensor *w)
{
    if (!v) return 0;
    if (v->dtype != PIXL_F32 || v->ndim != 1 || v->shape[0] != C) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s must be f32 of shape [%lld] (the out channels of weight %s)",
                      op, what, pixl__tshape(v), (long long)C, pixl__tshape(w));
        return -1;
    }
    return 0;
}

static pixl_tensor *build(pixl_ctx *ctx, const char *op, const labels *lb, pixl_tensor *x, pixl_tensor *gate,
                          int channel, pixl_tensor *w, const pixl_gated_conv_opts *o)
{
    const pixl_gated_conv_opts dflt = {0};
    if (!o) o = &dflt;
    int dilation = o->dilation ? o->dilation : 1;
    if (dilation < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: dilation %d must be >= 1 (0 means 1)", op, o->dilation);
        return NULL;
    }
    if (!(o->bn_eps >= 0.0f)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: bn_eps %g must be >= 0 (0 means 1e-5)", op, (double)o->bn_eps);
        return NULL;
    }
    if (x->dtype != PIXL_F32 || gate->dtype != PIXL_F32 || w->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s, %s %s and weight %s must be f32", op, pixl__tshape(x),
                      lb->gate, pixl__tshape(gate), pixl__tshape(w));
        return NULL;
    }
    if (x->ndim != 4 || w->ndim != 4 || w->shape[2] != 3 || w->shape[3] != 3 || w->shape[1] != x->shape[1]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s must be (N, C, H, W) and weight %s (C_out, C, 3, 3) with C = the input's channels "
                      "(groups 1)",
                      op, pixl__tshape(x), pixl__tshape(w));
        return NULL;
    }
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], CO = w->shape[0];
    if (gate->ndim != 4 || gate->shape[0] != N || gate->shape[1] < 1 || gate->shape[2] != H || gate->shape[3] != W) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s must be (N, K, H, W) = [%lld, K, %lld, %lld] for input %s", op,
                      lb->gate, pixl__tshape(gate), (long long)N, (long long)H, (long long)W, pixl__tshape(x));
        return NULL;
    }
    if (channel < 0 || channel >= gate->shape[1]) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: channel %d is outside %s %s (channels 0..%lld)", op, channel, lb->gate,
                      pixl__tshape(gate), (long long)gate->shape[1] - 1);
        return NULL;
    }
    if (o->pass) {
        pixl_tensor *ps = o->pass;
        if (ps->dtype != PIXL_F32 || ps->ndim != 4 || ps->shape[0] != N || ps->shape[1] != CO || ps->shape[2] != H ||
            ps->shape[3] != W) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                          "%s: pass %s must be f32 (N, C_out, H, W) = [%lld, %lld, %lld, %lld] for input %s and "
                          "weight %s",
                          op, pixl__tshape(ps), (long long)N, (long long)CO, (long long)H, (long long)W,
                          pixl__tshape(x), pixl__tshape(w));
            return NULL;
        }
    } else if (CO != C) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: weight %s has %lld out channels but input %s has %lld: inactive pixels pass the input "
                      "through, so C_out must equal C (or give a pass tensor)",
                      op, pixl__tshape(w), (long long)CO, pixl__tshape(x), (long long)C);
        return NULL;
    }
    if (check_vec(ctx, op, "bias", o->bias, CO, w) || check_vec(ctx, op, lb->bn_weight, o->bn_weight, CO, w) ||
        check_vec(ctx, op, lb->bn_bias, o->bn_bias, CO, w) || check_vec(ctx, op, "bn_mean", o->bn_mean, CO, w) ||
        check_vec(ctx, op, "bn_var", o->bn_var, CO, w))
        return NULL;
    pixl_tensor *src[9] = {x, gate, w};
    int ns = 3;
    pixl_tensor *opt[6] = {o->pass, o->bias, o->bn_weight, o->bn_bias, o->bn_mean, o->bn_var};
    for (int i = 0; i < 6; i++)
        if (opt[i]) src[ns++] = opt[i];
    for (int i = 0; i < ns; i++)
        if (src[i]->flags & PIXL_FLAG_NEEDS_GRAD) {
            pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED,
                          "%s: forward only (inference): %s needs a gradient; build the op in a PIXL_MODE_EVAL "
                          "context, or train with conv2d + batch_norm2d + relu mixed by the gate",
                          op, pixl__tshape(src[i]));
            return NULL;
        }
    if (2 * H * W + 64 > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s is too large (pixel positions are 32-bit)", op,
                      pixl__tshape(x));
        return NULL;
    }
    gated_p p = {.N = N, .C = C, .CO = CO, .H = H, .W = W, .KG = gate->shape[1], .channel = channel,
                 .dil = dilation, .relu = o->relu ? 1 : 0, .has_pass = o->pass != NULL, .has_bias = o->bias != NULL,
                 .has_bnw = o->bn_weight != NULL, .has_bnb = o->bn_bias != NULL, .has_bnm = o->bn_mean != NULL,
                 .has_bnv = o->bn_var != NULL, .eps = o->bn_eps > 0.0f ? o->bn_eps : 1e-5f, .gate_label = lb->gate};
    int64_t shape[4] = {N, CO, H, W};
    return pixl__node_new(ctx, &gated_conv3x3_def, PIXL_F32, 4, shape, src, ns, &p, sizeof p);
}

pixl_tensor *pixl_gated_conv3x3_ex(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *gate, int channel, pixl_tensor *w,
                                   const pixl_gated_conv_opts *o)
{
    if (!ctx || pixl__any_null(3, x, gate, w)) return NULL;
    static const labels lb = {"gate", "bn_weight", "bn_bias"};
    return build(ctx, "gated_conv3x3_ex", &lb, x, gate, channel, w, o);
}

pixl_tensor *pixl_gated_conv3x3(pixl_ctx *ctx, pixl_tensor *h1, pixl_tensor *mask, pixl_tensor *w, pixl_tensor *b,
                                pixl_tensor *bn_scale, pixl_tensor *bn_shift, int dilation, int relu)
{
    const char *op = "gated_conv3x3";
    if (!ctx || pixl__any_null(3, h1, mask, w)) return NULL;
    if (mask->ndim != 4 || h1->ndim != 4 || mask->shape[0] != h1->shape[0] || mask->shape[1] != 1 ||
        mask->shape[2] != h1->shape[2] || mask->shape[3] != h1->shape[3]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: mask %s must be (N, 1, H, W) = [%lld, 1, %lld, %lld] for input %s",
                      op, pixl__tshape(mask), (long long)h1->shape[0], (long long)(h1->ndim > 2 ? h1->shape[2] : 0),
                      (long long)(h1->ndim > 3 ? h1->shape[3] : 0), pixl__tshape(h1));
        return NULL;
    }
    if (dilation < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: dilation %d must be >= 1 (0 means 1)", op, dilation);
        return NULL;
    }
    static const labels lb = {"mask", "bn_scale", "bn_shift"};
    pixl_gated_conv_opts o = {.dilation = dilation, .relu = relu, .bias = b, .bn_weight = bn_scale,
                              .bn_bias = bn_shift};
    return build(ctx, op, &lb, h1, mask, 0, w, &o);
}
