/* report_normals.c — the surface-normals section of the report: summary
 * cards (best mean angle, median and the within-threshold shares), mean and
 * median angle and the shares of pixels within 11.25 / 22.5 / 30 degrees
 * over time, and sample maps: image, true normals, predicted normals (RGB =
 * (n + 1) / 2) and the per-pixel angular error with its colour bar. The
 * best validation record is the one with the lowest mean angle. */
#include <math.h>

#include "report/report_impl.h"

#define ERR_MAX_DEG 60.0 /* the error colour bar spans 0..60 degrees; above is the top colour */

/* viridis-like ramp: low errors dark blue, high errors yellow */
static void err_colour(double f, uint8_t *c)
{
    static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    f = fmin(fmax(f, 0), 1) * 4;
    int s = f >= 4 ? 3 : (int)f;
    double t = f - s;
    for (int k = 0; k < 3; k++) c[k] = (uint8_t)lround(stops[s][k] + t * (stops[s + 1][k] - stops[s][k]));
}

/* the colour bar of the error maps as inline SVG */
static void colour_bar(FILE *o)
{
    fputs("<figure class=\"cbar\"><svg viewBox=\"0 0 420 46\" width=\"420\" height=\"46\" role=\"img\" "
          "aria-label=\"angular error colour bar\">\n",
          o);
    for (int i = 0; i < 60; i++) {
        uint8_t c[3];
        err_colour((i + 0.5) / 60, c);
        fprintf(o, "<rect x=\"%d\" y=\"4\" width=\"6\" height=\"16\" fill=\"rgb(%d,%d,%d)\"/>", 20 + 6 * i, c[0], c[1], c[2]);
    }
    for (int d = 0; d <= 60; d += 10)
        fprintf(o, "<text x=\"%d\" y=\"36\" class=\"tk\" text-anchor=\"middle\">%d%s</text>", 20 + 6 * d, d,
                d == 60 ? "°+" : "°");
    fputs("\n</svg><figcaption>angular error (degrees); white: no surface</figcaption></figure>\n", o);
}

/* 3 planes of n floats -> RGB image of (n/|n| + 1) / 2 (black where mask is 0 or the vector is 0) */
static pixl_image *normals_image(const float *nrm, const uint8_t *mask, int w, int h)
{
    pixl_image *im = pixl_image_new(w, h, 3, 8);
    if (!im) return NULL;
    const size_t np = (size_t)w * h;
    uint8_t *d = im->data;
    for (size_t p = 0; p < np; p++) {
        double x = nrm[p], y = nrm[np + p], z = nrm[2 * np + p], l = sqrt(x * x + y * y + z * z);
        if ((mask && !mask[p]) || !(l > 0)) continue;
        d[3 * p] = (uint8_t)lround(255 * (x / l + 1) / 2);
        d[3 * p + 1] = (uint8_t)lround(255 * (y / l + 1) / 2);
        d[3 * p + 2] = (uint8_t)lround(255 * (z / l + 1) / 2);
    }
    return im;
}

static pixl_image *error_image(const float *deg, int w, int h)
{
    pixl_image *im = pixl_image_new(w, h, 3, 8);
    if (!im) return NULL;
    uint8_t *d = im->data;
    for (size_t p = 0; p < (size_t)w * h; p++) {
        if (isnan(deg[p])) d[3 * p] = d[3 * p + 1] = d[3 * p + 2] = 255;
        else err_colour(deg[p] / ERR_MAX_DEG, d + 3 * p);
    }
    return im;
}

static int normals_row(FILE *o, pixl__report *R, int i, char *msg, size_t msg_n)
{
    pixl_image *img = NULL, *gi = NULL, *pi = NULL, *ei = NULL;
    float *gt = NULL, *x = NULL, *y = NULL, *deg = NULL;
    uint8_t *mask = NULL;
    int rc = -1;
    if (pixl_dataset_load_normals(R->val, i, &img, &gt, &mask)) goto done;
    const int w = img->width, h = img->height;
    const size_t np = (size_t)w * h;
    x = malloc(sizeof(float) * 3 * np), y = malloc(sizeof(float) * 3 * np), deg = malloc(sizeof(float) * np);
    if (!x || !y || !deg) {
        pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
        goto done;
    }
    pixl_normal_scores sc;
    if (pixl_image_to_chw(img, pixl_model_mean(R->model), pixl_model_std(R->model), x) ||
        pixl_model_predict(R->model, x, 1, h, w, 0, y, NULL) || pixl_normal_angles(y, gt, mask, (int64_t)np, deg) ||
        pixl_normal_scores_exact(y, gt, mask, (int64_t)np, &sc))
        goto done;
    gi = normals_image(gt, mask, w, h), pi = normals_image(y, NULL, w, h), ei = error_image(deg, w, h);
    if (!gi || !pi || !ei) goto done;
    int sw, sh, dw, dh;
    pixl__sample_size(w, h, PIXL__REPORT_SAMPLE_MAX_W4, &sw, &sh, &dw, &dh);
    const char *name = pixl_dataset_sample_name(R->val, i);
    fputs("<tr><td class=\"meta\">", o);
    pixl__esc(o, name ? name : "");
    fprintf(o, "<br>%dx%d", w, h);
    if (sc.n_pixels) fprintf(o, "<br>mean %.1f°<br>median %.1f°<br>within 22.5° %.1f %%", sc.mean, sc.median, 100 * sc.within_22_5);
    fputs("</td><td>", o);
    int bad = pixl__img_tag_fit(o, img, sw, sh, dw, dh, "image");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, gi, sw, sh, dw, dh, "true normals");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, pi, sw, sh, dw, dh, "predicted normals");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, ei, sw, sh, dw, dh, "angular error");
    if (bad) fputs("<br>(an image could not be encoded)", o);
    fputs("</td></tr>\n", o);
    rc = 0;
done:
    if (rc) snprintf(msg, msg_n, "%s", pixl_last_error());
    pixl_image_free(img), pixl_image_free(gi), pixl_image_free(pi), pixl_image_free(ei);
    free(gt), free(mask), free(x), free(y), free(deg);
    return rc;
}

static void normals_samples(FILE *o, pixl__report *R)
{
    if (R->nsamples <= 0) return;
    fputs("<h2>Sample predictions</h2>\n", o);
    if (!pixl__report_samples_ready(R, o)) return;
    if (pixl_model_n_classes(R->model) != 3 || pixl_dataset_task(R->val) != PIXL_TASK_NORMALS) {
        pixl__note(o, "No predictions: the model has %d outputs (a normal model has 3) and data set '%s' %s.",
                   pixl_model_n_classes(R->model), pixl_dataset_kind(R->val),
                   pixl_dataset_task(R->val) == PIXL_TASK_NORMALS ? "has normals" : "has no surface normals");
        return;
    }
    int n = pixl_dataset_size(R->val) < R->nsamples ? pixl_dataset_size(R->val) : R->nsamples;
    fprintf(o, "<p>%s on the first %d image%s of the validation split '", R->ckpt_name, n, n == 1 ? "" : "s");
    pixl__esc(o, R->cfg->data.val_split);
    fputs("'. Normals as colours: R, G, B = (x, y, z + 1) / 2 in the camera frame (x right, y down, z forward); "
          "black: no surface.</p>\n",
          o);
    colour_bar(o);
    fputs("<div class=\"smpwrap\"><table class=\"smp\"><tr><th>sample</th><th>image</th><th>true normals</th>"
          "<th>predicted normals</th><th>angular error</th></tr>\n",
          o);
    for (int i = 0; i < n; i++) {
        char err[1024] = "";
        if (normals_row(o, R, i, err, sizeof err)) {
            fputs("<tr><td colspan=\"5\">", o);
            pixl__note(o, "sample %d: %s", i, err);
            fputs("</td></tr>\n", o);
            pixl_clear_error();
        }
    }
    fputs("</table></div>\n", o);
    if (n == 0) pixl__note(o, "The validation split is empty.");
}

/* "12.34°" or "—" */
static const char *deg_str(char *buf, size_t n, double v)
{
    if (isfinite(v)) snprintf(buf, n, "%.2f°", v);
    else snprintf(buf, n, "—");
    return buf;
}

static void normals_header(pixl__report *R, FILE *o)
{
    const pixl__run_log *L = &R->L;
    char v1[64], d1[600], v2[64], d2[600], best[800], last[800], ck[96], t[64], a[64], b[64], c[64], e[64], f[64];
    pixl__report_summary s = {{{"best val mean angle", "—", L->nva ? "no defined angle in the val records" : "no validation records"},
                               {"median angle", "—", ""}},
                              NULL, NULL, NULL};
    const int bi = R->best, li = L->nva - 1;
    if (bi >= 0) {
        const pixl__val_rec *r = &L->va[bi];
        deg_str(v1, sizeof v1, pixl__report_val(R, bi, "mean"));
        snprintf(d1, sizeof d1, "at step %.0f, epoch %.0f, %s", r->step, r->epoch, pixl__fmt_minutes(t, sizeof t, r->minutes));
        deg_str(v2, sizeof v2, pixl__report_val(R, bi, "median"));
        snprintf(d2, sizeof d2, "within 11.25° / 22.5° / 30°: %s / %s / %s %%", pixl__pct(a, sizeof a, pixl__report_val(R, bi, "within_11_25"), 1),
                 pixl__pct(b, sizeof b, pixl__report_val(R, bi, "within_22_5"), 1), pixl__pct(c, sizeof c, pixl__report_val(R, bi, "within_30"), 1));
        s.cards[0] = (pixl__card){"best val mean angle", v1, d1};
        s.cards[1] = (pixl__card){"median angle (best)", v2, d2};
        snprintf(best, sizeof best, "mean %s, median %s at step %.0f (epoch %.0f, %s); within 11.25° %s %%, 22.5° %s %%, 30° %s %%",
                 deg_str(e, sizeof e, pixl__report_val(R, bi, "mean")), deg_str(f, sizeof f, pixl__report_val(R, bi, "median")),
                 r->step, r->epoch, t, a, b, c);
        s.best_row = best;
    }
    if (li >= 0 && li != bi) {
        snprintf(last, sizeof last, "mean %s, median %s at step %.0f; within 22.5° %s %%",
                 deg_str(e, sizeof e, pixl__report_val(R, li, "mean")), deg_str(f, sizeof f, pixl__report_val(R, li, "median")),
                 L->va[li].step, pixl__pct(b, sizeof b, pixl__report_val(R, li, "within_22_5"), 1));
        s.last_row = last;
    }
    const char *vm = pixl__report_meta(R, "val_mean_angle_deg");
    if (vm) {
        snprintf(ck, sizeof ck, ", val mean angle %.2f°", atof(vm));
        s.ckpt_score = ck;
    }
    pixl__report_header(R, o, &s);
}

int pixl__report_section_normals(pixl__report *R, FILE *o)
{
    R->best = pixl__report_best(R, "mean", 0);
    normals_header(R, o);
    static const pixl__metric angles[2] = {{"mean", "mean", "#c0504d", 1}, {"median", "median", "#3b6fb6", 1}};
    static const pixl__metric within[3] = {{"within_11_25", "< 11.25°", "#2a9d5c", 100},
                                           {"within_22_5", "< 22.5°", "#3b6fb6", 100},
                                           {"within_30", "< 30°", "#8a6d3b", 100}};
    const pixl__val_chart vc[4] = {{"Angular error vs step", "degrees", 0, angles, 2, 0, 180, 2},
                                   {"Within an angle vs step", "% of surface pixels", 0, within, 3, 0, 100, 1},
                                   {"Angular error vs time", "degrees", 1, angles, 2, 0, 180, 2},
                                   {"Within an angle vs time", "% of surface pixels", 1, within, 3, 0, 100, 1}};
    pixl__report_curves(R, o, vc, 4);
    normals_samples(o, R);
    return 0;
}
