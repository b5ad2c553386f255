/* train_steps.c — drive a training run step by step through pixl's public
 * API: a config in code, the trainer object, a hook after the gradients
 * (where a data-parallel run would all-reduce them), validation and a
 * checkpoint, then more steps, as an active-learning loop would after
 * asking for new labels.
 *
 *   make examples && build/examples/train_steps [RUN_DIR]
 *
 * Trains a small ENet on the embedded synthetic data set (no files
 * needed) and prints the loss and the validation mean IoU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pixl_train.h"

typedef struct {
    int64_t backward_calls;
    double grad_norm; /* of the last step, over the one flat gradient buffer */
} stats;

/* after backward, before the optimizer: every gradient of the model is in one flat buffer */
static int after_backward(pixl_trainer *t, void *user)
{
    stats *s = user;
    int64_t n = 0;
    const float *g = pixl_params_grad_flat(pixl_trainer_params(t), &n);
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    s->grad_norm = sqrt(ss);
    s->backward_calls++;
    return 0;
}

static int set(pixl_train_config *cfg, const char *key, const char *value)
{
    if (pixl_config_set(cfg, key, value) == PIXL_OK) return 0;
    fprintf(stderr, "train_steps: %s\n", pixl_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || pixl_config_defaults(cfg)) return 1;
    const char *kv[][2] = {{"model.arch", "enet"},           {"data.dataset", "synthetic"},
                           {"data.img_rows", "32"},          {"data.img_cols", "32"},
                           {"training.batch_size", "4"},     {"training.max_iters", "1000"},
                           {"training.optimizer.name", "adam"}, {"training.optimizer.lr", "0.002"},
                           {"validation.limit", "16"},       {"output.run_dir", argc > 1 ? argv[1] : "runs/example"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (set(cfg, kv[i][0], kv[i][1])) return 1;

    stats st = {0};
    pixl_train_hooks hooks = {.quiet = 1, .user = &st, .after_backward = after_backward};
    pixl_trainer *t = pixl_trainer_new(cfg, &hooks);
    free(cfg); /* the trainer keeps its own copy */
    if (!t) {
        fprintf(stderr, "train_steps: %s\n", pixl_last_error());
        return 1;
    }
    printf("task %s, %s, run %s\n", pixl_trainer_task(t), "enet", pixl_trainer_run_dir(t));
    int rc = 0;
    double miou[2] = {0, 0};
    for (int round = 0; round < 2 && !rc; round++) {
        for (int i = 0; i < 20 && !rc; i++) rc = pixl_trainer_step(t);
        if (!rc) rc = pixl_trainer_validate(t, &miou[round]);
        if (!rc) rc = pixl_trainer_save(t);
        if (!rc)
            printf("round %d: step %lld, loss %.4f, gradient norm %.4f, val mIoU %.2f%%\n", round,
                   (long long)pixl_trainer_steps(t), pixl_trainer_loss(t), st.grad_norm, 100 * miou[round]);
    }
    if (rc) fprintf(stderr, "train_steps: %s\n", pixl_last_error());
    else if (st.backward_calls != pixl_trainer_steps(t)) rc = 1, fprintf(stderr, "train_steps: hook missed steps\n");
    pixl_trainer_free(t);
    return rc ? 1 : 0;
}
