/* jepsen: network nemeses (see nemesis.h).
 *
 * Every call updates the wanted state in struct jnet, then renders each
 * node's whole `keel_jepsen` table from it and loads it with one `nft -f -`
 * (a script is applied atomically, so a node never runs half a ruleset).
 * Rendering from state rather than adding and deleting rules keeps heal
 * trivially complete: an empty state renders as "no table". */
#include <stdio.h>
#include <string.h>

#include "jepsen/net/nemesis.h"
#include "jepsen/net/relay.h"

#define TABLE "ip keel_jepsen"

static uint32_t all_nodes(unsigned n)
{
    return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

void jnem_mask_split(unsigned n, uint32_t side, uint32_t *blocked)
{
    uint32_t all = all_nodes(n);
    side &= all;
    for (unsigned i = 0; i < n; i++) blocked[i] = (side >> i) & 1 ? all & ~side : side;
}

void jnem_mask_halves(unsigned n, uint32_t minority, uint32_t *blocked)
{
    jnem_mask_split(n, minority, blocked);
}

void jnem_mask_isolate(unsigned n, unsigned node, uint32_t *blocked)
{
    jnem_mask_split(n, node < n ? 1u << node : 0, blocked);
}

void jnem_mask_ring(unsigned n, uint32_t *blocked)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t seen = 1u << i | 1u << (i + 1) % n | 1u << (i + n - 1) % n;
        blocked[i] = all_nodes(n) & ~seen;
    }
}

void jnem_mask_bridge(unsigned n, unsigned node, uint32_t *blocked)
{
    uint32_t a = 0, b = 0;
    for (unsigned k = 0; k + 1 < n; k++) {
        unsigned o = (node + 1 + k) % n;
        if (k < (n - 1) / 2) a |= 1u << o;
        else b |= 1u << o;
    }
    for (unsigned i = 0; i < n; i++) blocked[i] = (a >> i) & 1 ? b : (b >> i) & 1 ? a : 0;
}

void jnem_mask_all(unsigned n, uint32_t *mask)
{
    for (unsigned i = 0; i < n; i++) mask[i] = all_nodes(n) & ~(1u << i);
}

int jnem_mask_symmetric(unsigned n, const uint32_t *mask, uint32_t *out)
{
    uint32_t tmp[32] = {0};
    if (n > 32) return -1;
    for (unsigned i = 0; i < n; i++) {
        if ((mask[i] & ~all_nodes(n)) || (mask[i] >> i & 1)) return -1;
        for (unsigned j = 0; j < n; j++) {
            if (mask[i] >> j & 1) {
                tmp[i] |= 1u << j;
                tmp[j] |= 1u << i;
            }
        }
    }
    memcpy(out, tmp, n * sizeof *out);
    return 0;
}

void jnem_mask_describe(unsigned n, const uint32_t *blocked, char *buf, size_t size)
{
    size_t off = 0;
    if (size == 0) return;
    buf[0] = 0;
    for (unsigned i = 0; i < n && off < size; i++) {
        if (blocked[i] == 0) continue;
        off += (size_t)snprintf(buf + off, size - off, "%s%ux{", off ? " " : "", i);
        for (unsigned j = 0, first = 1; j < n && off < size; j++) {
            if (!(blocked[i] >> j & 1)) continue;
            off += (size_t)snprintf(buf + off, size - off, "%s%u", first ? "" : ",", j);
            first = 0;
        }
        if (off < size) off += (size_t)snprintf(buf + off, size - off, "}");
    }
    if (off == 0) snprintf(buf, size, "none");
}

/* "{ 10.77.3.2, 10.77.3.3 }": an nft anonymous set of node addresses. */
static const char *addr_set(const struct jnet *net, uint32_t mask, char *buf, size_t size)
{
    size_t off = (size_t)snprintf(buf, size, "{ ");
    for (unsigned j = 0; j < net->n && off < size; j++)
        if (mask >> j & 1) off += (size_t)snprintf(buf + off, size - off, "%s, ", net->addr[j]);
    if (off >= 2 && off < size) snprintf(buf + off - 2, size - off + 2, " }");
    return buf;
}

/* Node i's table, from the state in net. */
static void render(const struct jnet *net, unsigned i, char *out, size_t size)
{
    char b[256], l[256], s[256], chance[48] = "";
    uint32_t lossy = net->loss_pct > 0 ? net->lossy[i] : 0;
    /* nft's numgen range is 0..99: "< 100" is refused, and means "always" */
    if (net->loss_pct < 100) snprintf(chance, sizeof chance, "numgen random mod 100 < %u ", net->loss_pct);
    size_t off = (size_t)snprintf(out, size, "table " TABLE "\ndelete table " TABLE "\n");
    if (net->blocked[i] == 0 && lossy == 0 && net->slowed[i] == 0) return;
    addr_set(net, net->blocked[i], b, sizeof b);
    addr_set(net, lossy, l, sizeof l);
    addr_set(net, net->slowed[i], s, sizeof s);
#define P(...)                                                                  \
    do {                                                                        \
        if (off < size) off += (size_t)snprintf(out + off, size - off, __VA_ARGS__); \
    } while (0)
    P("table " TABLE " {\n chain input {\n  type filter hook input priority 0; policy accept;\n");
    if (net->blocked[i]) P("  ip saddr %s drop\n  ct original ip daddr %s drop\n", b, b);
    if (lossy) P("  ct status dnat ct original ip daddr %s %sdrop\n", l, chance);
    P(" }\n chain output {\n  type filter hook output priority 0; policy accept;\n");
    if (net->blocked[i]) P("  ip daddr %s drop\n  ct original ip daddr %s drop\n", b, b);
    if (lossy) {
        P("  ip daddr %s %sdrop\n", l, chance);
        P("  ct status dnat ct original ip daddr %s %sdrop\n", l, chance);
    }
    /* Connections opened before the DNAT rule never pass nat again: reset
     * them so they reconnect through the relay. */
    if (net->slowed[i]) P("  ip daddr %s tcp dport %u reject with tcp reset\n", s, net->slow_port);
    P(" }\n chain nat_out {\n  type nat hook output priority -100; policy accept;\n");
    for (unsigned j = 0; j < net->n; j++)
        if (net->slowed[i] >> j & 1)
            P("  ip daddr %s tcp dport %u dnat to %s:%u\n", net->addr[j], net->slow_port, net->host_addr,
              net->relay_port[i][j]);
    P(" }\n}\n");
#undef P
}

static int apply(struct jnet *net, char *err, size_t size)
{
    char *const nft[] = {"nft", "-f", "-", NULL};
    char script[8192];
    for (unsigned i = 0; i < net->n; i++) {
        render(net, i, script, sizeof script);
        int rv = jnet_run(net, (int)i, nft, script, err, size);
        if (rv != JNET_OK) return rv;
    }
    return JNET_OK;
}

static int need_netns(const struct jnet *net, const char *what, char *err, size_t size)
{
    if (net->kind == JNET_NETNS) return JNET_OK;
    snprintf(err, size,
             "%s: unsupported in loopback mode (every node's connections come from 127.0.0.1, so "
             "nodes cannot be told apart by address)",
             what);
    return JNET_EUNSUPPORTED;
}

static int symmetric(const struct jnet *net, const uint32_t *mask, uint32_t *out, const char *what, char *err,
                     size_t size)
{
    if (mask == NULL || jnem_mask_symmetric(net->n, mask, out) != 0)
        return snprintf(err, size, "%s: bad node mask for %u nodes", what, net->n), JNET_EINVAL;
    return JNET_OK;
}

int jnem_partition(struct jnet *net, const uint32_t *blocked, char *err, size_t size)
{
    uint32_t want[JNET_MAX_NODES];
    int rv = need_netns(net, "partition", err, size);
    if (rv == JNET_OK) rv = symmetric(net, blocked, want, "partition", err, size);
    if (rv != JNET_OK) return rv;
    memcpy(net->blocked, want, sizeof want);
    return apply(net, err, size);
}

int jnem_loss(struct jnet *net, const uint32_t *mask, unsigned pct, char *err, size_t size)
{
    uint32_t want[JNET_MAX_NODES];
    int rv = need_netns(net, "loss", err, size);
    if (rv == JNET_OK && pct > 100) rv = (snprintf(err, size, "loss: %u%% is over 100%%", pct), JNET_EINVAL);
    if (rv == JNET_OK) rv = symmetric(net, mask, want, "loss", err, size);
    if (rv != JNET_OK) return rv;
    memcpy(net->lossy, want, sizeof want);
    net->loss_pct = pct;
    return apply(net, err, size);
}

/* Close the routes of pairs not in net->slowed (their DNAT rules are gone
 * already, so nothing new arrives). */
static void drop_routes(struct jnet *net)
{
    for (unsigned i = 0; i < JNET_MAX_NODES; i++) {
        for (unsigned j = 0; j < JNET_MAX_NODES; j++) {
            if (net->relay_port[i][j] == 0 || (net->slowed[i] >> j & 1)) continue;
            jrelay_remove(net->relay, net->relay_port[i][j]);
            net->relay_port[i][j] = 0;
        }
    }
}

int jnem_slow(struct jnet *net, const uint32_t *mask, uint16_t port, unsigned delay_ms, unsigned jitter_ms,
              char *err, size_t size)
{
    uint32_t want[JNET_MAX_NODES];
    uint32_t fresh[JNET_MAX_NODES] = {0}; /* pairs not slowed before: reset their connections */
    int rv = need_netns(net, "latency", err, size);
    if (rv == JNET_OK && port == 0) rv = (snprintf(err, size, "latency: port 0"), JNET_EINVAL);
    if (rv == JNET_OK) rv = symmetric(net, mask, want, "latency", err, size);
    if (rv != JNET_OK) return rv;
    if (port != net->slow_port) { /* another port: remove the old latency first */
        memset(net->slowed, 0, sizeof net->slowed);
        rv = apply(net, err, size);
        drop_routes(net);
        if (rv != JNET_OK) return rv;
    }
    for (unsigned i = 0; i < net->n && rv == JNET_OK; i++) {
        for (unsigned j = 0; j < net->n && rv == JNET_OK; j++) {
            if (!(want[i] >> j & 1)) continue;
            if (net->relay_port[i][j]) {
                jrelay_set_delay(net->relay, net->relay_port[i][j], delay_ms, jitter_ms);
                continue;
            }
            if (net->relay == NULL) rv = jrelay_start(&net->relay, err, size) == 0 ? JNET_OK : JNET_ESYS;
            if (rv == JNET_OK && jrelay_add(net->relay, net->host_addr, net->addr[j], port, delay_ms, jitter_ms,
                                            &net->relay_port[i][j], err, size) != 0)
                rv = JNET_ESYS;
            fresh[i] |= 1u << j;
        }
    }
    if (rv != JNET_OK) { /* undo the routes we made; the old state stays */
        for (unsigned i = 0; i < net->n; i++)
            for (unsigned j = 0; j < net->n; j++)
                if ((fresh[i] >> j & 1) && net->relay_port[i][j]) {
                    jrelay_remove(net->relay, net->relay_port[i][j]);
                    net->relay_port[i][j] = 0;
                }
        return rv;
    }
    memcpy(net->slowed, want, sizeof want);
    net->slow_port = port;
    rv = apply(net, err, size);
    drop_routes(net);
    if (rv != JNET_OK) return rv;
    /* Best effort: abort both ends of connections opened before, now,
     * rather than at their next send (the reject rule's job). Needs
     * CONFIG_INET_DIAG_DESTROY; its failure changes nothing else. */
    for (unsigned i = 0; i < net->n; i++) {
        for (unsigned j = 0; j < net->n; j++) {
            if (!(fresh[i] >> j & 1)) continue;
            char dport[16], ignored[128];
            snprintf(dport, sizeof dport, ":%u", port);
            char *const ss[] = {"ss", "-K", "dst", net->addr[j], "dport", "=", dport, NULL};
            jnet_run(net, (int)i, ss, NULL, ignored, sizeof ignored);
        }
    }
    return JNET_OK;
}

int jnem_slow_stats(const struct jnet *net, unsigned from, unsigned to, uint64_t *conns, uint64_t *bytes)
{
    if (from >= net->n || to >= net->n || net->relay == NULL || net->relay_port[from][to] == 0) return -1;
    return jrelay_stats(net->relay, net->relay_port[from][to], conns, bytes);
}

int jnem_heal(struct jnet *net, char *err, size_t size)
{
    if (net->kind != JNET_NETNS) return JNET_OK;
    memset(net->blocked, 0, sizeof net->blocked);
    memset(net->lossy, 0, sizeof net->lossy);
    memset(net->slowed, 0, sizeof net->slowed);
    net->loss_pct = 0;
    int rv = apply(net, err, size);
    drop_routes(net);
    return rv;
}
