/* store: the ACL user model: rules (Redis's ACLSetUser/ACLSetSelector) and
 * their normalized description (ACLDescribeUser). See acl.h. Checks and
 * passwords are in acl_check.c. */
#include <stdlib.h>
#include <string.h>

#include "store/acl.h"

#define E_SYNTAX "Syntax error"
#define E_UNKNOWN "Unknown command or category name in ACL"
#define E_KEYS_ALL                                                                 \
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid " \
    "and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
#define E_CHANS_ALL                                                                    \
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid " \
    "and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
#define E_NOPASS "The password you are trying to remove from the user does not exist"
#define E_BADHASH \
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"

static bool word(const uint8_t *op, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char a = op[i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
        if (w[i] == 0 || a != (unsigned char)w[i]) return false;
    }
    return w[i] == 0;
}

static void patterns_clear(struct acl_pattern **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++) free((*v)[i].pat);
    free(*v);
    *v = NULL;
    *n = 0;
}

int acl_user_init(struct acl_user *u, const char *name, size_t n)
{
    memset(u, 0, sizeof *u);
    u->name = malloc(n + 1);
    u->allowed = calloc(acl_commands_n, 1);
    u->rules = calloc(1, 1);
    if (u->name == NULL || u->allowed == NULL || u->rules == NULL) {
        acl_user_close(u);
        return KEEL_ENOMEM;
    }
    memcpy(u->name, name, n);
    u->name[n] = 0;
    u->name_n = n;
    return 0;
}

int acl_user_init_default(struct acl_user *u)
{
    int rc = acl_user_init(u, "default", 7);
    if (rc != 0) return rc;
    static const char *const rules[] = {"+@all", "~*", "&*", "on", "nopass"};
    const char *err;
    for (size_t i = 0; i < 5; i++) {
        rc = acl_rule(u, (const uint8_t *)rules[i], strlen(rules[i]), &err);
        if (rc != 0) {
            acl_user_close(u);
            return rc;
        }
    }
    return 0;
}

void acl_user_close(struct acl_user *u)
{
    free(u->name);
    free(u->pass);
    patterns_clear(&u->keys, &u->nkeys);
    patterns_clear(&u->chans, &u->nchans);
    free(u->allowed);
    free(u->rules);
    memset(u, 0, sizeof *u);
}

static int patterns_copy(struct acl_pattern **dst, const struct acl_pattern *src, size_t n)
{
    *dst = NULL;
    if (n == 0) return 0;
    *dst = calloc(n, sizeof **dst);
    if (*dst == NULL) return KEEL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i] = src[i];
        (*dst)[i].pat = malloc(src[i].n + 1);
        if ((*dst)[i].pat == NULL) return KEEL_ENOMEM;
        memcpy((*dst)[i].pat, src[i].pat, src[i].n + 1);
    }
    return 0;
}

int acl_user_copy(struct acl_user *dst, const struct acl_user *src)
{
    int rc = acl_user_init(dst, src->name, src->name_n);
    if (rc != 0) return rc;
    free(dst->rules);
    struct acl_user keep = *dst;
    *dst = *src;
    dst->name = keep.name;
    dst->allowed = keep.allowed;
    dst->pass = NULL;
    dst->keys = dst->chans = NULL;
    dst->nkeys = dst->nchans = dst->npass = 0;
    dst->rules = strdup(src->rules);
    if (dst->rules == NULL) goto oom;
    memcpy(dst->allowed, src->allowed, acl_commands_n);
    if (src->npass) {
        dst->pass = malloc(src->npass * sizeof *dst->pass);
        if (dst->pass == NULL) goto oom;
        memcpy(dst->pass, src->pass, src->npass * sizeof *dst->pass);
        dst->npass = src->npass;
    }
    rc = patterns_copy(&dst->keys, src->keys, src->nkeys);
    if (dst->keys) dst->nkeys = src->nkeys;
    if (rc != 0) goto oom;
    rc = patterns_copy(&dst->chans, src->chans, src->nchans);
    if (dst->chans) dst->nchans = src->nchans;
    if (rc != 0) goto oom;
    return 0;
oom:
    acl_user_close(dst);
    return KEEL_ENOMEM;
}

bool acl_name_valid(const uint8_t *p, size_t n)
{
    if (n == 0 || n > ACL_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ' ' || p[i] == 0 || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') return false;
    return true;
}

/* Redis's ACLStringHasSpaces: a space or a NUL. Keel also refuses the other
 * whitespace and control bytes, so that the rule text splits unambiguously. */
static bool has_spaces(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] == 0x7f) return true;
    return false;
}

static bool hash_valid(const uint8_t *p, size_t n)
{
    if (n != ACL_HASH_HEX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return false;
    return true;
}

/* ---- command rules -------------------------------------------------------- */

/* Redis's ACLSelectorRemoveCommandRule + ACLUpdateCommandRules: drop an
 * earlier rule naming the same command or category (or, for a container,
 * one of its subcommands), append the new one. */
static int rules_update(struct acl_user *u, const char *rule, size_t n, bool allow)
{
    char *r = u->rules;
    size_t len = strlen(r), at = 0;
    while (at < len) {
        size_t end = at;
        while (end < len && r[end] != ' ') end++;
        bool same = end - at - 1 == n && memcmp(r + at + 1, rule, n) == 0;
        bool child = end - at - 1 > n && memcmp(r + at + 1, rule, n) == 0 && r[at + 1 + n] == '|';
        if (same || child) {
            size_t from = end < len ? end + 1 : end; /* with its trailing space */
            if (from == len && at > 0) at--;         /* the last one: its leading space */
            memmove(r + at, r + from, len - from + 1);
            len -= from - at;
            continue;
        }
        at = end + 1;
    }
    char *nr = realloc(r, len + n + 3);
    if (nr == NULL) return KEEL_ENOMEM;
    u->rules = nr;
    if (len) nr[len++] = ' ';
    nr[len++] = allow ? '+' : '-';
    for (size_t i = 0; i < n; i++) {
        char c = rule[i];
        nr[len++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    nr[len] = 0;
    return 0;
}

static void set_bit(struct acl_user *u, size_t id, bool allow)
{
    u->allowed[id] = allow;
    if (!allow) u->allcommands = false;
}

static int all_commands(struct acl_user *u, bool allow)
{
    memset(u->allowed, allow, acl_commands_n);
    u->allcommands = u->future = allow;
    u->rules[0] = 0;
    return 0;
}

/* ---- one rule ------------------------------------------------------------- */

static int add_key(struct acl_user *u, const uint8_t *op, size_t n, const char **err)
{
    uint8_t flags = 0;
    size_t off = 1;
    if (u->allkeys) return *err = E_KEYS_ALL, KEEL_EINVAL;
    if (op[0] == '%') {
        for (; off < n; off++) {
            if ((op[off] == 'R' || op[off] == 'r') && !(flags & ACL_KEY_READ)) {
                flags |= ACL_KEY_READ;
            } else if ((op[off] == 'W' || op[off] == 'w') && !(flags & ACL_KEY_WRITE)) {
                flags |= ACL_KEY_WRITE;
            } else if (op[off] == '~' && flags) {
                off++;
                break;
            } else {
                return *err = E_SYNTAX, KEEL_EINVAL;
            }
        }
        /* "%R" with no '~': Redis takes the empty rest as the pattern after
         * the loop ran out; Keel refuses it as the syntax error it is. */
        if (off > n || op[off - 1] != '~') return *err = E_SYNTAX, KEEL_EINVAL;
    } else {
        flags = ACL_KEY_ALL;
    }
    const uint8_t *p = op + off;
    size_t pn = n - off;
    if (has_spaces(p, pn)) return *err = E_SYNTAX, KEEL_EINVAL;
    for (size_t i = 0; i < u->nkeys; i++) {
        if (u->keys[i].n == pn && memcmp(u->keys[i].pat, p, pn) == 0) {
            u->keys[i].flags |= flags;
            return 0;
        }
    }
    struct acl_pattern *nk = realloc(u->keys, (u->nkeys + 1) * sizeof *nk);
    if (nk == NULL) return KEEL_ENOMEM;
    u->keys = nk;
    char *s = malloc(pn + 1);
    if (s == NULL) return KEEL_ENOMEM;
    memcpy(s, p, pn);
    s[pn] = 0;
    u->keys[u->nkeys++] = (struct acl_pattern){s, pn, flags};
    return 0;
}

static int add_channel(struct acl_user *u, const uint8_t *op, size_t n, const char **err)
{
    if (u->allchannels) return *err = E_CHANS_ALL, KEEL_EINVAL;
    const uint8_t *p = op + 1;
    size_t pn = n - 1;
    if (has_spaces(p, pn)) return *err = E_SYNTAX, KEEL_EINVAL;
    for (size_t i = 0; i < u->nchans; i++)
        if (u->chans[i].n == pn && memcmp(u->chans[i].pat, p, pn) == 0) return 0;
    struct acl_pattern *nc = realloc(u->chans, (u->nchans + 1) * sizeof *nc);
    if (nc == NULL) return KEEL_ENOMEM;
    u->chans = nc;
    char *s = malloc(pn + 1);
    if (s == NULL) return KEEL_ENOMEM;
    memcpy(s, p, pn);
    s[pn] = 0;
    u->chans[u->nchans++] = (struct acl_pattern){s, pn, 0};
    return 0;
}

static int add_hash(struct acl_user *u, const char *hex)
{
    for (size_t i = 0; i < u->npass; i++)
        if (memcmp(u->pass[i], hex, ACL_HASH_HEX) == 0) goto done;
    char(*np)[ACL_HASH_HEX + 1] = realloc(u->pass, (u->npass + 1) * sizeof *np);
    if (np == NULL) return KEEL_ENOMEM;
    u->pass = np;
    memcpy(u->pass[u->npass], hex, ACL_HASH_HEX);
    u->pass[u->npass++][ACL_HASH_HEX] = 0;
done:
    u->nopass = false;
    return 0;
}

static int del_hash(struct acl_user *u, const char *hex, const char **err)
{
    for (size_t i = 0; i < u->npass; i++) {
        if (memcmp(u->pass[i], hex, ACL_HASH_HEX) == 0) {
            memmove(u->pass[i], u->pass[i + 1], (u->npass - i - 1) * sizeof *u->pass);
            u->npass--;
            return 0;
        }
    }
    *err = E_NOPASS;
    return KEEL_EINVAL;
}

static int command_rule(struct acl_user *u, const uint8_t *op, size_t n, const char **err)
{
    bool allow = op[0] == '+';
    if (n >= 2 && op[1] == '@') {
        uint32_t bit = acl_category_find((const char *)op + 2, n - 2);
        if (bit == 0) return *err = E_UNKNOWN, KEEL_EINVAL;
        char cat[32] = "@"; /* the rule as Redis keeps it: lower case */
        for (size_t i = 0; i < acl_categories_n; i++)
            if (acl_categories[i].bit == bit) strcat(cat, acl_categories[i].name);
        int rc = rules_update(u, cat, strlen(cat), allow);
        if (rc != 0) return rc;
        for (size_t i = 0; i < acl_commands_n; i++)
            if (acl_command_categories[i].cats & bit) set_bit(u, i, allow);
        return 0;
    }
    /* "+cmd|sub" names a subcommand's own row (acl_table.c); Redis's
     * first-argument rules ("+select|0") have none: unknown here. */
    int id = acl_command_find((const char *)op + 1, n - 1);
    if (id < 0) return *err = E_UNKNOWN, KEEL_EINVAL;
    const char *name = acl_command_categories[id].name;
    int rc = rules_update(u, name, strlen(name), allow);
    if (rc != 0) return rc;
    set_bit(u, (size_t)id, allow);
    if (acl_command_categories[id].flags & ACL_CMD_CONTAINER) { /* and every subcommand */
        size_t len = strlen(name);
        for (size_t i = (size_t)id + 1; i < acl_commands_n; i++) {
            const char *sn = acl_command_categories[i].name;
            if (strncmp(sn, name, len) != 0 || sn[len] != '|') break;
            set_bit(u, i, allow);
        }
    }
    return 0;
}

int acl_rule(struct acl_user *u, const uint8_t *op, size_t n, const char **err)
{
    *err = E_SYNTAX;
    if (n == 0) return 0; /* Redis: the empty string is a no-op */
    if (word(op, n, "on")) {
        u->on = true;
    } else if (word(op, n, "off")) {
        u->on = false;
    } else if (word(op, n, "skip-sanitize-payload")) {
        u->skip_sanitize = true;
    } else if (word(op, n, "sanitize-payload")) {
        u->skip_sanitize = false;
    } else if (word(op, n, "nopass")) {
        u->nopass = true;
        u->npass = 0;
    } else if (word(op, n, "resetpass")) {
        u->nopass = false;
        u->npass = 0;
    } else if (op[0] == '>' || op[0] == '<') {
        char hex[ACL_HASH_HEX + 1];
        if (acl_hash_password(op + 1, n - 1, hex) != 0) return KEEL_ENOMEM;
        return op[0] == '>' ? add_hash(u, hex) : del_hash(u, hex, err);
    } else if (op[0] == '#' || op[0] == '!') {
        if (!hash_valid(op + 1, n - 1)) return *err = E_BADHASH, KEEL_EINVAL;
        char hex[ACL_HASH_HEX + 1];
        memcpy(hex, op + 1, ACL_HASH_HEX);
        hex[ACL_HASH_HEX] = 0;
        return op[0] == '#' ? add_hash(u, hex) : del_hash(u, hex, err);
    } else if (word(op, n, "reset")) {
        static const char *const seq[] = {"resetpass", "resetkeys", "resetchannels", "off",
                                          "sanitize-payload", "-@all"};
        for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
            int rc = acl_rule(u, (const uint8_t *)seq[i], strlen(seq[i]), err);
            if (rc != 0) return rc;
        }
    } else if (word(op, n, "allkeys") || word(op, n, "~*")) {
        u->allkeys = true;
        patterns_clear(&u->keys, &u->nkeys);
    } else if (word(op, n, "resetkeys")) {
        u->allkeys = false;
        patterns_clear(&u->keys, &u->nkeys);
    } else if (word(op, n, "allchannels") || word(op, n, "&*")) {
        u->allchannels = true;
        patterns_clear(&u->chans, &u->nchans);
    } else if (word(op, n, "resetchannels")) {
        u->allchannels = false;
        patterns_clear(&u->chans, &u->nchans);
    } else if (word(op, n, "allcommands") || word(op, n, "+@all")) {
        return all_commands(u, true);
    } else if (word(op, n, "nocommands") || word(op, n, "-@all")) {
        return all_commands(u, false);
    } else if (op[0] == '~' || op[0] == '%') {
        return add_key(u, op, n, err);
    } else if (op[0] == '&') {
        return add_channel(u, op, n, err);
    } else if ((op[0] == '+' || op[0] == '-') && n > 1) {
        return command_rule(u, op, n, err);
    } else {
        /* Includes "(...)" selectors and "clearselectors": not supported. */
        return KEEL_EINVAL;
    }
    return 0;
}

int acl_setuser(struct acl_user *u, const struct keel_slice *rules, size_t n, char *msg,
                size_t size)
{
    struct acl_user tmp;
    const char *err = NULL;
    int rc = acl_user_copy(&tmp, u);
    if (rc != 0) return rc;
    for (size_t i = 0; i < n; i++) {
        rc = acl_rule(&tmp, rules[i].p, rules[i].n, &err);
        if (rc == KEEL_EINVAL) {
            snprintf(msg, size, "Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(rules[i].n > 128 ? 128 : rules[i].n), (const char *)rules[i].p, err);
        }
        if (rc != 0) {
            acl_user_close(&tmp);
            return rc;
        }
    }
    acl_user_close(u);
    *u = tmp;
    return 0;
}

/* ---- describe ----------------------------------------------------------- */

void acl_describe_key(const struct acl_pattern *p, struct buf *out)
{
    if (p->flags == ACL_KEY_READ) buf_append(out, "%R", 2);
    else if (p->flags == ACL_KEY_WRITE) buf_append(out, "%W", 2);
    /* A "*" pattern from %RW~* (or %R~* then %W~*) is not allkeys, which
     * "~*" would mean when read back: Redis prints "~*" and then cannot
     * load its own ACL LIST line; Keel keeps the text replayable. */
    else if (p->n == 1 && p->pat[0] == '*') buf_append(out, "%RW", 3);
    buf_append(out, "~", 1);
    buf_append(out, p->pat, p->n);
}

void acl_describe_commands(const struct acl_user *u, struct buf *out)
{
    buf_append(out, u->future ? "+@all" : "-@all", 5);
    if (u->rules[0]) {
        buf_append(out, " ", 1);
        buf_append(out, u->rules, strlen(u->rules));
    }
}

void acl_describe(const struct acl_user *u, struct buf *out)
{
    buf_append(out, u->on ? "on " : "off ", u->on ? 3 : 4);
    if (u->nopass) buf_append(out, "nopass ", 7);
    if (u->skip_sanitize) buf_append(out, "skip-sanitize-payload ", 22);
    else buf_append(out, "sanitize-payload ", 17);
    for (size_t i = 0; i < u->npass; i++) {
        buf_append(out, "#", 1);
        buf_append(out, u->pass[i], ACL_HASH_HEX);
        buf_append(out, " ", 1);
    }
    if (u->allkeys) {
        buf_append(out, "~* ", 3);
    } else {
        for (size_t i = 0; i < u->nkeys; i++) {
            acl_describe_key(&u->keys[i], out);
            buf_append(out, " ", 1);
        }
    }
    if (u->allchannels) {
        buf_append(out, "&* ", 3);
    } else {
        buf_append(out, "resetchannels ", 14);
        for (size_t i = 0; i < u->nchans; i++) {
            buf_append(out, "&", 1);
            buf_append(out, u->chans[i].pat, u->chans[i].n);
            buf_append(out, " ", 1);
        }
    }
    acl_describe_commands(u, out);
}
