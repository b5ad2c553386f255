/* fuzz_report.c — the run files `pixl report` reads (src/report/):
 * log.jsonl, one JSON record a line (pixl__report_read_log), or a `pixl
 * pixelpick` directory's summary.json (pixl_report_rounds, which writes
 * summary.md and miou.svg from it). The first byte picks which. */
#include "fuzz.h"
#include "pixl_train.h"
#include "report/report_impl.h"

int pixl_fuzz_report(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) {
        const char *dir = pixl_fuzz_mkdir("rounds");
        if (pixl_fuzz_write(pixl_fuzz_path("rounds/summary.json"), data + 1, size - 1)) return 0;
        pixl_report_rounds(dir);
    } else {
        const char *path = pixl_fuzz_path("log.jsonl");
        if (pixl_fuzz_write(path, data + 1, size - 1)) return 0;
        pixl__run_log L = {0};
        pixl__report_read_log(path, &L);
        pixl__report_log_free(&L);
    }
    return 0;
}

PIXL_FUZZ_ENTRY(report)
