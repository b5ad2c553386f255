/* synthetic_normals.c — the embedded surface-normal dataset
 * ("synthetic_normals" kind): a small ray caster.
 *
 * Each sample is a room seen by a pinhole camera (OpenCV camera frame:
 * x right, y down, z forward; field of view 50-70 degrees, pitched down 5-25
 * degrees, rolled up to +-8 degrees, 1.2-1.8 units above the floor): a floor
 * plane, a back wall of finite height (sky above it), an optional side wall,
 * 1-4 boxes standing on the floor at random yaw and 1-3 spheres (on the
 * floor or floating). One ray per pixel centre gives the exact unit normal
 * of the nearest surface (facing the camera), the surface kind (label 0
 * plane, 1 box, 2 sphere, 255 sky) and the validity mask. Colour: a
 * per-surface texture (checker floor, striped walls, plain boxes with a
 * little grain, two-tone spheres) lit by an ambient term plus one
 * directional light with cast shadows, then sensor noise. Sample i depends
 * only on (seed, i). */
#include <math.h>

#include "data/dataset_impl.h"

const char *const pixl__synth_normal_names[PIXL_SYNTH_NORMAL_CLASSES] = {"plane", "box", "sphere"};
const uint8_t pixl__synth_normal_colours[PIXL_SYNTH_NORMAL_CLASSES * 3] = {128, 128, 128, 230, 25, 75, 0, 130, 200};
/* measured over the first 256 images of seed 0 at 64x64 */
const float pixl__synth_normal_mean[3] = {0.3356f, 0.3343f, 0.3330f};
const float pixl__synth_normal_std[3] = {0.1801f, 0.1741f, 0.1753f};

#define PI 3.14159265358979323846

typedef struct { double x, y, z; } v3;
static inline v3 V(double x, double y, double z) { return (v3){x, y, z}; }
static inline v3 add(v3 a, v3 b) { return V(a.x + b.x, a.y + b.y, a.z + b.z); }
static inline v3 sub(v3 a, v3 b) { return V(a.x - b.x, a.y - b.y, a.z - b.z); }
static inline v3 mul(v3 a, double s) { return V(a.x * s, a.y * s, a.z * s); }
static inline double dot(v3 a, v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline v3 cross(v3 a, v3 b) { return V(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x); }
static inline v3 unit(v3 a)
{
    double n = sqrt(dot(a, a));
    return n > 0 ? mul(a, 1 / n) : a;
}

enum { S_FLOOR, S_WALL, S_SIDE, S_BOX, S_SPHERE };

typedef struct {
    int kind;
    v3 c;          /* box centre / sphere centre */
    v3 ax[3];      /* box axes (unit) */
    double hs[3];  /* box half sizes */
    double r;      /* sphere radius */
    float col[3], col2[3];
} object;

typedef struct {
    v3 up, fwd, right; /* world directions in the camera frame */
    double hcam, wall_d, wall_h, side_d;
    int side;          /* 0 none, -1 left, +1 right */
    object obj[8];
    int n_obj;
    v3 light;          /* direction towards the light */
    float floor_a[3], floor_b[3], wall_col[3], side_col[3];
    double checker;
} scene;

static inline double U(uint64_t *s) { return pixl__rng_uniform(s); }
static inline double Ur(uint64_t *s, double a, double b) { return a + (b - a) * U(s); }
static void colour(uint64_t *s, float *c)
{
    for (int k = 0; k < 3; k++) c[k] = (float)Ur(s, 0.15, 0.9);
}

/* nearest hit along o + t d (t > tmin): returns kind+index code, or -1 */
static int trace(const scene *S, v3 o, v3 d, double tmin, double *t_out, v3 *n_out, int *which)
{
    double best = INFINITY;
    int hit = -1, idx = -1;
    v3 bn = V(0, 0, 0);
    /* floor: up . X = -hcam */
    double den = dot(S->up, d);
    if (den < -1e-12) {
        double t = (-S->hcam - dot(S->up, o)) / den;
        if (t > tmin && t < best) best = t, hit = S_FLOOR, bn = S->up;
    }
    /* back wall: fwd . X = wall_d, below wall_h above the floor */
    den = dot(S->fwd, d);
    if (den > 1e-12) {
        double t = (S->wall_d - dot(S->fwd, o)) / den;
        if (t > tmin && t < best) {
            v3 X = add(o, mul(d, t));
            if (dot(S->up, X) + S->hcam <= S->wall_h) best = t, hit = S_WALL, bn = mul(S->fwd, -1);
        }
    }
    /* side wall: side * right . X = side_d */
    if (S->side) {
        v3 nr = mul(S->right, S->side);
        den = dot(nr, d);
        if (den > 1e-12) {
            double t = (S->side_d - dot(nr, o)) / den;
            if (t > tmin && t < best) {
                v3 X = add(o, mul(d, t));
                if (dot(S->up, X) + S->hcam <= S->wall_h && dot(S->fwd, X) <= S->wall_d)
                    best = t, hit = S_SIDE, bn = mul(nr, -1);
            }
        }
    }
    for (int i = 0; i < S->n_obj; i++) {
        const object *ob = &S->obj[i];
        v3 oc = sub(o, ob->c);
        if (ob->kind == S_SPHERE) {
            double b = dot(oc, d), c = dot(oc, oc) - ob->r * ob->r, disc = b * b - c;
            if (disc < 0) continue;
            double sq = sqrt(disc), t = -b - sq;
            if (t <= tmin) t = -b + sq;
            if (t > tmin && t < best) {
                best = t, hit = S_SPHERE, idx = i;
                bn = mul(add(oc, mul(d, t)), 1 / ob->r);
            }
        } else { /* box: slabs in the box frame */
            double t0 = -INFINITY, t1 = INFINITY;
            int a0 = 0, a1 = 0;
            double s0 = 1, s1 = 1;
            int miss = 0;
            for (int a = 0; a < 3 && !miss; a++) {
                double oa = dot(oc, ob->ax[a]), da = dot(d, ob->ax[a]);
                if (fabs(da) < 1e-12) {
                    if (fabs(oa) > ob->hs[a]) miss = 1;
                    continue;
                }
                double ta = (-ob->hs[a] - oa) / da, tb = (ob->hs[a] - oa) / da;
                double sa = -1, sb = 1;
                if (ta > tb) {
                    double tt = ta;
                    ta = tb, tb = tt, sa = 1, sb = -1;
                }
                if (ta > t0) t0 = ta, a0 = a, s0 = sa;
                if (tb < t1) t1 = tb, a1 = a, s1 = sb;
            }
            if (miss || t0 > t1) continue;
            double t = t0 > tmin ? t0 : t1;
            if (t > tmin && t < best) {
                best = t, hit = S_BOX, idx = i;
                bn = t0 > tmin ? mul(ob->ax[a0], s0) : mul(ob->ax[a1], s1);
            }
        }
    }
    if (hit < 0) return -1;
    *t_out = best;
    *n_out = unit(bn);
    *which = idx;
    return hit;
}

static void build_scene(scene *S, uint64_t *s)
{
    memset(S, 0, sizeof *S);
    double pitch = Ur(s, 5, 25) * PI / 180, roll = Ur(s, -8, 8) * PI / 180;
    /* camera looking down by `pitch`: up = (0, -cos p, -sin p), then rolled about z */
    v3 up0 = V(0, -cos(pitch), -sin(pitch));
    double cr = cos(roll), sr = sin(roll);
    S->up = unit(V(up0.x * cr - up0.y * sr, up0.x * sr + up0.y * cr, up0.z));
    S->fwd = unit(sub(V(0, 0, 1), mul(S->up, dot(V(0, 0, 1), S->up))));
    S->right = unit(cross(S->up, S->fwd)); /* up x fwd points right in a y-down frame */
    if (S->right.x < 0) S->right = mul(S->right, -1);
    S->hcam = Ur(s, 1.2, 1.8);
    S->wall_d = Ur(s, 6, 12);
    S->wall_h = Ur(s, 2.5, 5);
    S->side = U(s) < 0.5 ? 0 : U(s) < 0.5 ? -1 : 1;
    S->side_d = Ur(s, 2.5, 4.5);
    S->checker = Ur(s, 0.4, 1.0);
    colour(s, S->floor_a);
    colour(s, S->floor_b);
    colour(s, S->wall_col);
    colour(s, S->side_col);
    for (int k = 0; k < 3; k++) S->floor_b[k] = 0.5f * S->floor_b[k] + 0.5f * (1 - S->floor_a[k]);
    double az = Ur(s, 0, 2 * PI), el = Ur(s, 30, 70) * PI / 180;
    S->light = unit(add(mul(S->up, sin(el)), add(mul(S->fwd, cos(el) * cos(az)), mul(S->right, cos(el) * sin(az)))));
    int nb = 1 + (int)(U(s) * 4), ns = 1 + (int)(U(s) * 3);
    if (nb > 4) nb = 4;
    if (ns > 3) ns = 3;
    for (int i = 0; i < nb + ns; i++) {
        object *o = &S->obj[S->n_obj++];
        double lat = Ur(s, -2.5, 2.5), dep = Ur(s, 2.5, S->wall_d - 1.2);
        v3 ground = add(mul(S->up, -S->hcam), add(mul(S->fwd, dep), mul(S->right, lat)));
        colour(s, o->col);
        colour(s, o->col2);
        if (i < nb) {
            o->kind = S_BOX;
            for (int a = 0; a < 3; a++) o->hs[a] = Ur(s, 0.2, 0.75);
            double yaw = U(s) * PI;
            o->ax[0] = unit(add(mul(S->right, cos(yaw)), mul(S->fwd, sin(yaw))));
            o->ax[1] = S->up;
            o->ax[2] = unit(cross(o->ax[0], o->ax[1]));
            o->c = add(ground, mul(S->up, o->hs[1]));
        } else {
            o->kind = S_SPHERE;
            o->r = Ur(s, 0.25, 0.8);
            double lift = U(s) < 0.7 ? 0 : Ur(s, 0.3, 1.2);
            o->c = add(ground, mul(S->up, o->r + lift));
        }
    }
}

int pixl__synthetic_normals_render(int w, int h, uint64_t seed, int64_t index, uint8_t *rgb, float *normals,
                                   uint8_t *mask, int32_t *labels)
{
    uint64_t key = pixl__hash64(seed ^ 0x3c6ef372fe94f82bULL, (uint64_t)index);
    uint64_t s = key;
    scene S;
    build_scene(&S, &s);
    double fov = Ur(&s, 50, 70) * PI / 180;
    double f = 0.5 * w / tan(fov / 2), cx = 0.5 * w, cy = 0.5 * h;
    uint64_t nkey = pixl__rng_next(&s);
    float sky_top[3], sky_bot[3];
    for (int k = 0; k < 3; k++) sky_top[k] = (float)Ur(&s, 0.35, 0.6), sky_bot[k] = (float)Ur(&s, 0.7, 0.95);
    const size_t np = (size_t)w * h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            v3 d = unit(V((x + 0.5 - cx) / f, (y + 0.5 - cy) / f, 1));
            double t;
            v3 n;
            int which;
            int hit = trace(&S, V(0, 0, 0), d, 1e-9, &t, &n, &which);
            float c[3];
            if (hit < 0) {
                double a = (double)y / (h > 1 ? h - 1 : 1);
                for (int k = 0; k < 3; k++) c[k] = (float)(sky_top[k] * (1 - a) + sky_bot[k] * a);
                if (normals) normals[p] = normals[np + p] = normals[2 * np + p] = 0;
                if (mask) mask[p] = 0;
                if (labels) labels[p] = PIXL_IGNORE_LABEL;
            } else {
                if (dot(n, d) > 0) n = mul(n, -1); /* face the camera */
                v3 X = mul(d, t);
                float alb[3];
                int label = hit == S_BOX ? 1 : hit == S_SPHERE ? 2 : 0;
                if (hit == S_FLOOR) {
                    double u = dot(X, S.right) / S.checker, v = dot(X, S.fwd) / S.checker;
                    int chk = ((long)floor(u) + (long)floor(v)) & 1;
                    for (int k = 0; k < 3; k++) alb[k] = chk ? S.floor_a[k] : S.floor_b[k];
                } else if (hit == S_WALL || hit == S_SIDE) {
                    double v = (dot(X, S.up) + S.hcam) / 0.35;
                    float m = ((long)floor(v)) & 1 ? 0.85f : 1.0f;
                    const float *wc = hit == S_WALL ? S.wall_col : S.side_col;
                    for (int k = 0; k < 3; k++) alb[k] = wc[k] * m;
                } else if (hit == S_BOX) {
                    float g = (float)(((double)(pixl__hash64(nkey ^ 0x77, p) >> 11) * (1.0 / 9007199254740992.0)) -
                                      0.5) * 0.12f;
                    for (int k = 0; k < 3; k++) alb[k] = S.obj[which].col[k] + g;
                } else {
                    int band = dot(sub(X, S.obj[which].c), S.up) > 0;
                    for (int k = 0; k < 3; k++) alb[k] = band ? S.obj[which].col[k] : S.obj[which].col2[k];
                }
                double lam = dot(n, S.light);
                if (lam > 0) { /* shadow ray */
                    double t2;
                    v3 n2;
                    int w2;
                    if (trace(&S, add(X, mul(n, 1e-6)), S.light, 1e-6, &t2, &n2, &w2) >= 0) lam = 0;
                }
                double shade = 0.35 + 0.65 * (lam > 0 ? lam : 0);
                for (int k = 0; k < 3; k++) c[k] = (float)(alb[k] * shade);
                if (normals) normals[p] = (float)n.x, normals[np + p] = (float)n.y, normals[2 * np + p] = (float)n.z;
                if (mask) mask[p] = 1;
                if (labels) labels[p] = label;
            }
            uint64_t r = pixl__hash64(nkey, p);
            for (int k = 0; k < 3; k++) {
                float nz = (float)((r >> (16 * k)) & 0xFFFF) * (1.0f / 65536.0f) - 0.5f;
                float v = c[k] * 255.0f + nz * 8.0f + 0.5f;
                rgb[3 * p + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    return PIXL_OK;
}

/* ------------------------------------------------------ the dataset kind */

static int open_synthetic_normals(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    ds->task = PIXL_TASK_NORMALS;
    int rc = pixl__dataset_generated(ds, o, "synthetic_normals");
    if (!rc)
        rc = pixl__dataset_set_classes(ds, PIXL_SYNTH_NORMAL_CLASSES, pixl__synth_normal_names,
                                       pixl__synth_normal_colours);
    memcpy(ds->mean, pixl__synth_normal_mean, sizeof ds->mean);
    memcpy(ds->std, pixl__synth_normal_std, sizeof ds->std);
    return rc;
}

const pixl__dataset_kind pixl__dataset_synthetic_normals = {"synthetic_normals", open_synthetic_normals};
