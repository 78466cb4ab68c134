/* jepsen: keel-jepsen-check, judge a recorded history from the command line.
 *
 *   keel-jepsen-check [--workload register|set|counter|session|queue]
 *                     [--budget-seconds S] [--max-states N] [--margin-ms M]
 *                     [--late-ms L] [--info-ms I] [--edn OUT.edn] HISTORY.jsonl
 *
 * Prints one JSON line on stdout (see jresult_json() in check.h) and exits
 * 0 valid, 1 invalid, 2 unknown, 3 usage, I/O or parse error (with the
 * message on stderr). --edn also writes the history in Knossos's EDN, so a
 * verdict can be cross-checked with Jepsen's own tools. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "jepsen/checker/check.h"

enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_UNKNOWN = 2, EXIT_ERROR = 3 };

static void usage(FILE *f)
{
    fprintf(f, "usage: keel-jepsen-check [--workload register|set|counter|session|queue]\n"
               "                         [--budget-seconds S] [--max-states N]"
               " [--margin-ms M]\n"
               "                         [--late-ms L] [--info-ms I] [--edn OUT.edn] HISTORY.jsonl\n"
               "defaults: --budget-seconds 60, --max-states 5000000 (per key; 0 for either:\n"
               "no limit), --margin-ms 50 (session: clock slack), --late-ms 600 (session: how\n"
               "long a key may outlive its ttl: the election timeout), --info-ms 10000\n"
               "(session: an uncertain write applies within this long or never)\n"
               "exit: 0 valid, 1 invalid, 2 unknown, 3 error\n");
}

/* A non-negative number from an option; false if it is not one. */
static bool number(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == 0 && *out >= 0;
}

static int write_edn(const struct jhist *h, const char *path)
{
    FILE *f = fopen(path, "w");
    int rv;
    if (f == NULL) {
        fprintf(stderr, "keel-jepsen-check: %s: %s\n", path, strerror(errno));
        return KEEL_EIO;
    }
    rv = jhist_write_edn(h, f);
    if (fclose(f) != 0 && rv == 0) rv = KEEL_EIO;
    if (rv != 0) fprintf(stderr, "keel-jepsen-check: %s: cannot write EDN\n", path);
    return rv;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"workload", required_argument, NULL, 'w'},
        {"budget-seconds", required_argument, NULL, 's'},
        {"max-states", required_argument, NULL, 'n'},
        {"margin-ms", required_argument, NULL, 'm'},
        {"late-ms", required_argument, NULL, 'l'},
        {"info-ms", required_argument, NULL, 'i'},
        {"edn", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct jbudget budget = JBUDGET_DEFAULT;
    enum jworkload workload = JW_REGISTER;
    const char *edn = NULL;
    char errmsg[KEEL_ERRMSG_SIZE] = "";
    struct jresult res;
    struct jhist h;
    double x;
    FILE *in;
    int c, rv;
    while ((c = getopt_long(argc, argv, "w:s:n:m:l:i:e:h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (jworkload_parse(optarg, &workload) != 0) {
                fprintf(stderr, "keel-jepsen-check: unknown workload \"%s\"\n", optarg);
                return EXIT_ERROR;
            }
            break;
        case 's':
        case 'n':
        case 'm':
        case 'l':
        case 'i':
            if (!number(optarg, &x)) {
                fprintf(stderr, "keel-jepsen-check: not a number: \"%s\"\n", optarg);
                return EXIT_ERROR;
            }
            if (c == 's') budget.seconds = x;
            if (c == 'n') budget.max_states = (size_t)x;
            if (c == 'm') budget.margin_ns = (int64_t)(x * 1e6);
            if (c == 'l') budget.late_ns = (int64_t)(x * 1e6);
            if (c == 'i') budget.info_ns = (int64_t)(x * 1e6);
            break;
        case 'e':
            edn = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_VALID;
        default:
            usage(stderr);
            return EXIT_ERROR;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return EXIT_ERROR;
    }
    if ((in = fopen(argv[optind], "r")) == NULL) {
        fprintf(stderr, "keel-jepsen-check: %s: %s\n", argv[optind], strerror(errno));
        return EXIT_ERROR;
    }
    jhist_init(&h);
    rv = jhist_read_jsonl(&h, in, errmsg, sizeof errmsg);
    fclose(in);
    if (rv != 0) {
        fprintf(stderr, "keel-jepsen-check: %s: %s\n", argv[optind], errmsg);
        jhist_free(&h);
        return EXIT_ERROR;
    }
    if (edn != NULL && write_edn(&h, edn) != 0) {
        jhist_free(&h);
        return EXIT_ERROR;
    }
    rv = jcheck(workload, &h, &budget, &res);
    jhist_free(&h);
    if (rv != 0) {
        fprintf(stderr, "keel-jepsen-check: %s: %s\n", argv[optind], res.errmsg);
        jresult_free(&res);
        return EXIT_ERROR;
    }
    rv = jresult_json(&res, workload, stdout);
    if (fflush(stdout) != 0) rv = KEEL_EIO;
    c = res.verdict == JV_VALID ? EXIT_VALID : res.verdict == JV_INVALID ? EXIT_INVALID
                                                                       : EXIT_UNKNOWN;
    jresult_free(&res);
    return rv != 0 ? EXIT_ERROR : c;
}
