/* report_gates.c — the "Gates" section of a run report, for models that
 * expose PAG gates (probes "gate.resX_Y" and "multipool", see
 * src/models/pag_resnet.c): the model runs on the first validation image
 * and the page shows, for each gated block, where its 3x3 conv computed
 * (white) and where it passed h1 through (black), with the block's active
 * fraction, and MultiPool's choice of pooling field per pixel (one colour
 * per branch, the identity in grey) with the share of each branch. Any
 * task: the section is written after the task's own part. */
#include "report/report_impl.h"

static const uint8_t branch_colours[PIXL_MULTIPOOL_MAX + 1][3] = {
    {96, 96, 96}, {230, 159, 0}, {86, 180, 233}, {0, 158, 115}, {240, 228, 66},
    {0, 114, 178}, {213, 94, 0}, {204, 121, 167}, {255, 255, 255}};

/* the one-hot probe (1, K, h, w) as an image: channel 1 white (K = 2) or a colour per channel */
static pixl_image *probe_image(const pixl_tensor *g, double *share)
{
    const int K = (int)g->shape[1], h = (int)g->shape[2], w = (int)g->shape[3];
    pixl_image *im = pixl_image_new(w, h, 3, 8);
    if (!im) return NULL;
    const float *d = pixl_tensor_data((pixl_tensor *)g);
    uint8_t *px = im->data;
    const int64_t HW = (int64_t)h * w;
    for (int k = 0; k < K; k++) share[k] = 0;
    for (int64_t p = 0; p < HW; p++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (d[k * HW + p] > d[best * HW + p]) best = k;
        share[best] += 1.0 / (double)HW;
        for (int c = 0; c < 3; c++)
            px[p * 3 + c] = K == 2 ? (uint8_t)(best ? 255 : 0) : branch_colours[best < PIXL_MULTIPOOL_MAX + 1 ? best : 0][c];
    }
    return im;
}

int pixl__report_gates_section(pixl__report *R, FILE *o)
{
    if (!R->model || !R->val || pixl_dataset_size(R->val) < 1 || strcmp(pixl_model_arch(R->model), "pag_resnet50"))
        return 0;
    pixl_image *img = NULL;
    int32_t *lab = NULL;
    pixl_ctx *ctx = NULL;
    fputs("<h2>Gates</h2>\n", o);
    if (pixl_dataset_load(R->val, 0, &img, &lab)) {
        pixl__note(o, "gate maps: %s", pixl_last_error());
        return 0;
    }
    const int w = img->width, h = img->height;
    ctx = pixl_ctx_new(pixl_model_params(R->model), PIXL_MODE_EVAL);
    int64_t s[4] = {1, 3, h, w};
    pixl_tensor *in = ctx ? pixl_input(ctx, "x", PIXL_F32, 4, s) : NULL;
    pixl_tensor *y = in ? pixl_model_build(ctx, pixl_model_arch(R->model), in, pixl_model_options(R->model)) : NULL;
    if (!y || pixl_ctx_plan(ctx) ||
        pixl_image_to_chw(img, pixl_model_mean(R->model), pixl_model_std(R->model), pixl_tensor_data(in)) ||
        pixl_forward(ctx)) {
        pixl__note(o, "gate maps: %s", ctx && pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto done;
    }
    const char *name = pixl_dataset_sample_name(R->val, 0);
    fputs("<p>Where each gated block computed its 3x3 convolution on the first validation image", o);
    if (name) {
        fputs(" (", o);
        pixl__esc(o, name);
        fputs(")", o);
    }
    fputs(": white pixels computed, black ones passed the reduced feature through. The network spends its "
          "computation where it finds the image hard.</p>\n<div class=\"gates\">\n",
          o);
    int sw, sh, dw, dh;
    pixl__sample_size(w, h, PIXL__REPORT_SAMPLE_MAX_W4, &sw, &sh, &dw, &dh);
    pixl_image *small = pixl_image_resize(img, sw, sh);
    fputs("<figure>", o);
    pixl__img_tag(o, small ? small : img, dw, dh, "input");
    fputs("<figcaption>input</figcaption></figure>\n", o);
    pixl_image_free(small);
    double on = 0, all = 0;
    for (int i = 0; i < pixl_ctx_probe_count(ctx); i++) {
        const char *pn;
        pixl_tensor *g = pixl_ctx_probe(ctx, i, &pn);
        if (strncmp(pn, "gate.", 5) || g->shape[1] != 2) continue;
        double share[2];
        pixl_image *gi = probe_image(g, share);
        if (!gi) continue;
        on += share[1] * (double)(g->shape[2] * g->shape[3]);
        all += (double)(g->shape[2] * g->shape[3]);
        fputs("<figure>", o);
        pixl__img_tag_fit(o, gi, sw, sh, dw, dh, pn + 5);
        fprintf(o, "<figcaption>%s: %.1f %% computed</figcaption></figure>\n", pn + 5, 100 * share[1]);
        pixl_image_free(gi);
    }
    pixl_tensor *a = pixl_ctx_probe_find(ctx, "multipool");
    if (a && a->shape[1] <= PIXL_MULTIPOOL_MAX + 1) {
        double share[PIXL_MULTIPOOL_MAX + 1];
        pixl_image *ai = probe_image(a, share);
        if (ai) {
            const pixl_pag_opts def = pixl_pag_defaults();
            const pixl_pag_opts *p = pixl_model_options(R->model)->pag ? pixl_model_options(R->model)->pag : &def;
            fputs("<figure>", o);
            pixl__img_tag_fit(o, ai, sw, sh, dw, dh, "MultiPool choice");
            fputs("<figcaption>MultiPool field:", o);
            for (int k = 0; k < a->shape[1]; k++) {
                const uint8_t *c = branch_colours[k];
                fprintf(o, " <span style=\"background:#%02x%02x%02x\">&nbsp;&nbsp;</span> %s %.0f %%", c[0], c[1], c[2],
                        k == 0 ? "identity" : "", 100 * share[k]);
                if (k > 0 && k - 1 < p->n_scales) fprintf(o, " (dilation %d)", p->scales[k - 1]);
            }
            fputs("</figcaption></figure>\n", o);
            pixl_image_free(ai);
        }
    }
    fputs("</div>\n", o);
    if (all > 0) fprintf(o, "<p>All gates: %.1f %% of the gated pixels computed on this image.</p>\n", 100 * on / all);
done:
    pixl_ctx_free(ctx);
    pixl_image_free(img);
    free(lab);
    return 0;
}
