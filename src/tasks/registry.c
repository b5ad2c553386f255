/* registry.c — the table of tasks, and the choice of a run's task from its
 * data set and loss. Adding a task: its file in src/tasks/ and one line in
 * `tasks` below. */
#include "tasks/task.h"

extern const pixl__task_def pixl__task_segmentation, pixl__task_edges, pixl__task_normals;

static const pixl__task_def *const tasks[] = {
    &pixl__task_segmentation,
    &pixl__task_edges,
    &pixl__task_normals,
};
#define N_TASKS (int)(sizeof tasks / sizeof tasks[0])

const char *pixl__loss_name(int loss)
{
    switch (loss) {
    case PIXL_LOSS_CROSS_ENTROPY: return "cross_entropy";
    case PIXL_LOSS_BALANCED_BCE: return "balanced_bce";
    case PIXL_LOSS_NORMAL: return "normal";
    case PIXL_LOSS_L2_ANGULAR: return "l2_angular";
    default: return "?";
    }
}

const pixl__task_def *pixl__task_find(pixl_task dataset_task)
{
    for (int i = 0; i < N_TASKS; i++)
        if (tasks[i]->dataset_task == dataset_task) return tasks[i];
    return NULL;
}

static int takes_loss(const pixl__task_def *d, int loss)
{
    for (int i = 0; i < 4 && d->losses[i] >= 0; i++)
        if (d->losses[i] == loss) return 1;
    return 0;
}

/* "set training.loss.name: normal" or "set training.loss.name to one of: a, b" */
static void losses_hint(const pixl__task_def *d, char *buf, size_t n)
{
    int k = 0;
    while (k < 4 && d->losses[k] >= 0) k++;
    size_t at = (size_t)snprintf(buf, n, "set training.loss.name%s", k == 1 ? ": " : " to one of: ");
    for (int i = 0; i < k && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", pixl__loss_name(d->losses[i]));
}

/* a loss that is not the data set's task's: name the loss's task and the data set's */
static int loss_mismatch(const pixl__task_def *d, const pixl_train_config *cfg, const pixl_dataset *ds, int loss)
{
    const pixl__task_def *owner = NULL;
    for (int i = 0; i < N_TASKS && !owner; i++)
        if (takes_loss(tasks[i], loss)) owner = tasks[i];
    char hint[160];
    losses_hint(d, hint, sizeof hint);
    return pixl_set_error(PIXL_ERR_ARG,
                          "training.loss.name %s is a loss of the %s task (it needs a data set with %s), but data set "
                          "'%s' (data.dataset) is a %s data set: %s",
                          pixl__loss_name(loss), owner ? owner->name : "?",
                          owner ? owner->needs : "?",
                          cfg->data.dataset, d->name, hint);
}

pixl__task *pixl__task_new(const pixl_train_config *cfg, const pixl_dataset *train, int sampled)
{
    const int kind = pixl_dataset_task(train);
    const pixl__task_def *d = pixl__task_find((pixl_task)kind);
    if (!d) {
        pixl_set_error(PIXL_ERR_UNSUPPORTED, "data set '%s': no task trains on its kind (%d)", cfg->data.dataset, kind);
        return NULL;
    }
    const int loss = (int)cfg->training.loss.name;
    if (!takes_loss(d, loss)) {
        loss_mismatch(d, cfg, train, loss);
        return NULL;
    }
    pixl__task *t = pixl__calloc(1, sizeof *t);
    void *st = d->state_bytes ? pixl__calloc(1, d->state_bytes) : NULL;
    if (!t || (d->state_bytes && !st)) {
        free(t);
        free(st);
        pixl_set_error(PIXL_ERR_NOMEM, "task %s: out of memory", d->name);
        return NULL;
    }
    const int ign = pixl_config_loss_ignore_index(cfg);
    *t = (pixl__task){.def = d, .cfg = cfg, .sampled = sampled, .state = st,
                      .ignore_label = ign >= 0 ? ign : PIXL_IGNORE_LABEL};
    if (d->setup(t, cfg, train)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", pixl_last_error());
        int code = pixl_last_status();
        pixl__task_free(t);
        pixl_set_error(code ? code : PIXL_ERR_ARG, "%s", msg);
        return NULL;
    }
    return t;
}

void pixl__task_free(pixl__task *t)
{
    if (!t) return;
    if (t->def->free) t->def->free(t);
    free(t->state);
    free(t);
}
