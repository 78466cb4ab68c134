/* api: the Prometheus metrics of one node, declared once in a table (name,
 * type, help, how to read the value) in metrics.c; rendered in the text
 * exposition format 0.0.4 for /metrics and listed by `keeld --list-metrics`. */
#ifndef KEEL_API_METRICS_H
#define KEEL_API_METRICS_H

#include <stddef.h>
#include <stdio.h>

struct keel_server;

/* Render every metric of srv into a NUL-terminated heap string (the caller
 * frees it); NULL when out of memory. Loop thread. */
char *metrics_render(struct keel_server *srv, size_t *len);
/* One line per metric: name, type, help. */
void metrics_list(FILE *out);

#endif /* KEEL_API_METRICS_H */
