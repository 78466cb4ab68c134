/* jepsen: the files a run writes next to its history (see report.c). */
#ifndef KEEL_JEPSEN_REPORT_H
#define KEEL_JEPSEN_REPORT_H

#include "jepsen/runner/run.h"

struct jreport_info
{
    const struct jresult *result; /* the checker's verdict, borrowed */
    const char *nemesis;          /* as given on the command line */
    const char *hosts_mode;       /* "netns ..." or "loopback ..." */
    int64_t lost_acked;           /* acknowledged writes missing at the end */
    int64_t t0;                   /* run start, monotonic ns */
    double duration_s;
};

/* result.json, summary.txt, nemesis.jsonl and timeline.svg in dir.
 * 0 or KEEL_EIO / KEEL_EMALFORMED. */
int jreport_write(const struct jrun *run, const struct jreport_info *info, const char *dir);
int jreport_timeline(const struct jrun *run, const struct jreport_info *info, const char *dir);

#endif /* KEEL_JEPSEN_REPORT_H */
