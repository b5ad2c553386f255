/* report_log.c — reading a run's log.jsonl for the report: one JSON object
 * per line ("train" and "val" records; other types ignored). A complete line
 * that is not a JSON object is an error naming the file and line; a last
 * line without its newline (a run still writing) is skipped; bare nan/inf
 * tokens are read as null. When a resumed run logs steps again, the records
 * from the step where the log jumps back are replaced by the newer ones. */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <math.h>
#include <strings.h>

#include "report/report_impl.h"

#define LOG_LINE_MAX (64 << 20) /* bytes of one log.jsonl line */

double pixl__jnum(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* Copy of s with bare nan/inf/infinity tokens (any case, optional sign)
 * outside strings replaced by null: C's printf writes them for non-finite
 * numbers, JSON has no word for them. */
static char *nan_to_null(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1 + n / 2 + 8), *o = out;
    if (!out) return NULL;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (in_str) {
            *o++ = c;
            if (c == '\\' && i + 1 < n) *o++ = s[++i];
            else if (c == '"') in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            *o++ = c;
            i++;
            continue;
        }
        size_t j = i + ((c == '-' || c == '+') ? 1 : 0);
        size_t len = 0;
        if (!strncasecmp(s + j, "infinity", 8)) len = 8;
        else if (!strncasecmp(s + j, "inf", 3) || !strncasecmp(s + j, "nan", 3)) len = 3;
        int word_before = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '.');
        if (len && !word_before && !isalnum((unsigned char)s[j + len])) {
            memcpy(o, "null", 4);
            o += 4;
            i = j + len;
            const char *close = s[i] == '(' ? strchr(s + i, ')') : NULL; /* glibc's "nan(0x...)" */
            if (close) i = (size_t)(close - s) + 1;
            continue;
        }
        *o++ = c;
        i++;
    }
    *o = 0;
    return out;
}

/* Parse one log line; NULL when it is not a JSON object. */
static cJSON *parse_line(const char *line)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(line, &end, 1);
    if (!j) {
        char *fixed = nan_to_null(line);
        if (fixed) j = cJSON_ParseWithOpts(fixed, &end, 1);
        free(fixed);
    }
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* A resumed run appends records for steps it logged before: drop the
 * earlier records from `step` on. */
static void drop_from(pixl__run_log *L, double step)
{
    int n = 0;
    for (int i = 0; i < L->ntr; i++)
        if (L->tr[i].step < step) L->tr[n++] = L->tr[i];
    L->replaced += L->ntr - n;
    L->ntr = n;
    n = 0;
    for (int i = 0; i < L->nva; i++) {
        if (L->va[i].step < step) L->va[n++] = L->va[i];
        else cJSON_Delete(L->va[i].scalars);
    }
    L->replaced += L->nva - n;
    L->nva = n;
}

/* the numbers (and nulls) of a metrics object; arrays and objects are left
 * in the log and read again for the one record that needs them */
static cJSON *scalars_of(const cJSON *m)
{
    if (!cJSON_IsObject(m)) return NULL;
    cJSON *s = cJSON_CreateObject();
    for (const cJSON *it = m->child; s && it; it = it->next) {
        if (!it->string) continue;
        if (cJSON_IsNumber(it)) cJSON_AddNumberToObject(s, it->string, it->valuedouble);
        else if (cJSON_IsNull(it)) cJSON_AddNullToObject(s, it->string);
    }
    return s;
}

static int grow(void **p, int *cap, int n, int first, size_t elem)
{
    if (n < *cap) return 0;
    int nc = *cap ? 2 * *cap : first;
    void *q = realloc(*p, elem * (size_t)nc);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* one parsed record into L; 0 or -1 (out of memory) */
static int add_record(pixl__run_log *L, const cJSON *j, long lineno, long offset)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    int is_train = !strcmp(t, "train"), is_val = !strcmp(t, "val");
    double step = pixl__jnum(j, "step");
    if ((is_train || is_val) && !isfinite(step)) {
        L->no_step++;
    } else if (is_train) {
        if (L->ntr && step <= L->tr[L->ntr - 1].step) drop_from(L, step);
        if (grow((void **)&L->tr, &L->ctr, L->ntr, 256, sizeof *L->tr)) return -1;
        L->tr[L->ntr++] = (pixl__train_rec){step,
                                            pixl__jnum(j, "epoch"),
                                            pixl__jnum(j, "minutes"),
                                            pixl__jnum(j, "loss"),
                                            pixl__jnum(j, "lr"),
                                            pixl__jnum(j, "img_per_s"),
                                            pixl__jnum(j, "loader_wait")};
    } else if (is_val) {
        if (L->nva && step <= L->va[L->nva - 1].step) drop_from(L, step);
        if (grow((void **)&L->va, &L->cva, L->nva, 64, sizeof *L->va)) return -1;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metrics");
        L->va[L->nva++] = (pixl__val_rec){step,      pixl__jnum(j, "epoch"), pixl__jnum(j, "minutes"),
                                          pixl__jnum(j, "train_loss"), lineno, offset, scalars_of(m)};
    }
    return 0;
}

/* One line of f into *line (grown as needed, NUL-terminated): its length
 * with the newline, 0 at the end of the file, -1 when it is longer than
 * max bytes, -2 when it holds a NUL byte (then nothing more is read). getline() would grow its buffer to
 * any line's length: a file of one 10 GB line is an error, not an
 * allocation. */
static ssize_t read_line_max(FILE *f, char **line, size_t *cap, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (*cap - n < 2) {
            size_t nc = *cap ? *cap * 2 : 4096;
            if (nc > max + 2) nc = max + 2;
            if (nc - n < 2) return -1; /* the line reached max bytes without its end */
            char *q = realloc(*line, nc);
            if (!q) return -1;
            *line = q, *cap = nc;
        }
        const size_t room = *cap - n > INT_MAX ? INT_MAX : *cap - n;
        if (!fgets(*line + n, (int)room, f)) break;
        const size_t k = strlen(*line + n);
        n += k;
        if (n > max) return -1;
        if (n && (*line)[n - 1] == '\n') break;
        if (k + 1 < room && !feof(f)) return -2; /* fgets stopped at neither a newline nor the end: a NUL byte */
    }
    if (*line) (*line)[n] = 0;
    return (ssize_t)n;
}

int pixl__report_read_log(const char *path, pixl__run_log *L)
{
    FILE *f = fopen(path, "r");
    if (!f) return pixl_set_error(PIXL_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, offset = 0;
    int rc = 0;
    while ((len = read_line_max(f, &line, &cap, LOG_LINE_MAX)) > 0) {
        long here = offset;
        offset += (long)len;
        lineno++;
        int terminated = line[len - 1] == '\n';
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        cJSON *j = parse_line(p);
        if (!j) {
            if (!terminated) { /* the last line of a run still writing */
                L->partial_last = 1;
                break;
            }
            rc = pixl_set_error(PIXL_ERR_FORMAT, "%s:%ld: not a JSON object: %.60s%s", path, lineno, p,
                                strlen(p) > 60 ? "..." : "");
            break;
        }
        int bad = add_record(L, j, lineno, here);
        cJSON_Delete(j);
        if (bad) {
            rc = pixl_set_error(PIXL_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
    }
    if (!rc && len == -2) rc = pixl_set_error(PIXL_ERR_FORMAT, "%s:%ld: NUL byte in the line", path, lineno + 1);
    else if (!rc && len < 0)
        rc = pixl_set_error(PIXL_ERR_FORMAT, "%s:%ld: a line longer than %d MiB (pixl writes lines of a few KB: not "
                                             "a run's log?)",
                            path, lineno + 1, LOG_LINE_MAX >> 20);
    if (!rc && ferror(f)) rc = pixl_set_error(PIXL_ERR_IO, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

void pixl__report_log_free(pixl__run_log *L)
{
    for (int i = 0; i < L->nva; i++) cJSON_Delete(L->va[i].scalars);
    free(L->tr);
    free(L->va);
    memset(L, 0, sizeof *L);
}

double pixl__report_val(const pixl__report *R, int i, const char *key)
{
    return i >= 0 && i < R->L.nva ? pixl__jnum(R->L.va[i].scalars, key) : NAN;
}

int pixl__report_best(const pixl__report *R, const char *key, int maximise)
{
    int best = -1;
    double bv = NAN;
    for (int i = 0; i < R->L.nva; i++) {
        double v = pixl__report_val(R, i, key);
        if (isfinite(v) && (best < 0 || (maximise ? v > bv : v < bv))) best = i, bv = v;
    }
    return best;
}

const cJSON *pixl__report_metrics(const pixl__report *R, int i, cJSON **root)
{
    *root = NULL;
    if (i < 0 || i >= R->L.nva) return NULL;
    FILE *f = fopen(R->log_path, "r");
    if (!f) return NULL;
    char *line = NULL;
    size_t cap = 0;
    if (!fseek(f, R->L.va[i].offset, SEEK_SET) && read_line_max(f, &line, &cap, LOG_LINE_MAX) > 0) *root = parse_line(line);
    free(line);
    fclose(f);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(*root, "metrics");
    return cJSON_IsObject(m) ? m : NULL;
}

const char *pixl__report_meta(const pixl__report *R, const char *key)
{
    return R->st ? pixl_st_meta(R->st, key) : NULL;
}
