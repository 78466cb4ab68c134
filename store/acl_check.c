/* store: ACL checks and passwords (Redis's ACLSelectorCheckCmd,
 * ACLCheckUserCredentials, ACLHashPassword, stringmatchlen). See acl.h. */
#include <openssl/evp.h>
#include <string.h>

#include "store/acl.h"

int acl_hash_password(const uint8_t *pass, size_t n, char hex[ACL_HASH_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    hex[0] = 0;
    /* SHA-256 fails only when OpenSSL runs out of memory. */
    if (EVP_Digest(pass, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return KEEL_ENOMEM;
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[ACL_HASH_HEX] = 0;
    return 0;
}

bool acl_password_ok(const struct acl_user *u, const uint8_t *pass, size_t n)
{
    if (!u->on) return false;
    if (u->nopass) return true;
    char hex[ACL_HASH_HEX + 1];
    if (acl_hash_password(pass, n, hex) != 0) return false;
    bool ok = false;
    for (size_t i = 0; i < u->npass; i++) {
        unsigned diff = 0;
        for (size_t j = 0; j < ACL_HASH_HEX; j++) diff |= (unsigned)(hex[j] ^ u->pass[i][j]);
        ok |= diff == 0;
    }
    return ok;
}

/* ---- glob ----------------------------------------------------------------- */

static bool glob_class(const uint8_t **pp, const uint8_t *pend, uint8_t c)
{
    const uint8_t *p = *pp + 1; /* past '[' */
    bool neg = p < pend && *p == '^';
    bool match = false;
    if (neg) p++;
    for (; p < pend && *p != ']'; p++) {
        if (*p == '\\' && p + 1 < pend) {
            p++;
            if (*p == c) match = true;
        } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            uint8_t lo = p[0], hi = p[2];
            if (lo > hi) {
                uint8_t t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi) match = true;
            p += 2;
        } else if (*p == c) {
            match = true;
        }
    }
    *pp = p < pend ? p : pend - 1; /* on the ']' (or the last byte of an open class) */
    return neg ? !match : match;
}

bool acl_glob(const uint8_t *pat, size_t pn, const uint8_t *s, size_t sn)
{
    const uint8_t *p = pat, *pend = pat + pn, *q = s, *qend = s + sn;
    const uint8_t *star = NULL, *star_q = NULL;
    while (q < qend) {
        if (p < pend) {
            if (*p == '*') {
                while (p + 1 < pend && p[1] == '*') p++;
                star = p++;
                star_q = q;
                continue;
            }
            if (*p == '?') {
                p++;
                q++;
                continue;
            }
            if (*p == '[') {
                const uint8_t *pp = p;
                if (glob_class(&pp, pend, *q)) {
                    p = pp + 1;
                    q++;
                    continue;
                }
            } else {
                uint8_t lit = *p;
                const uint8_t *next = p + 1;
                if (lit == '\\' && p + 1 < pend) {
                    lit = p[1];
                    next = p + 2;
                }
                if (lit == *q) {
                    p = next;
                    q++;
                    continue;
                }
            }
        }
        if (star == NULL) return false; /* backtrack to the last '*' */
        p = star + 1;
        q = ++star_q;
    }
    while (p < pend && *p == '*') p++;
    return p == pend;
}

/* ---- the check ------------------------------------------------------------ */

static bool key_ok(const struct acl_user *u, const struct acl_key *k)
{
    if (u->allkeys) return true;
    uint8_t need = k->flags & ACL_KEY_ALL;
    for (size_t i = 0; i < u->nkeys; i++) {
        if ((u->keys[i].flags & need) != need) continue;
        if (acl_glob((const uint8_t *)u->keys[i].pat, u->keys[i].n, k->key.p, k->key.n))
            return true;
    }
    return false;
}

static bool channel_ok(const struct acl_user *u, const struct acl_channel *c)
{
    if (u->allchannels) return true;
    for (size_t i = 0; i < u->nchans; i++) {
        const struct acl_pattern *p = &u->chans[i];
        if (c->pattern ? (p->n == c->name.n && memcmp(p->pat, c->name.p, p->n) == 0)
                       : acl_glob((const uint8_t *)p->pat, p->n, c->name.p, c->name.n))
            return true;
    }
    return false;
}

enum acl_verdict acl_check(const struct acl_user *u, int cmd, const struct acl_key *keys,
                           size_t nkeys, const struct acl_channel *chans, size_t nchans,
                           size_t *which)
{
    if (!u->allcommands) {
        if (cmd < 0 || (size_t)cmd >= acl_commands_n) return ACL_DENIED_CMD;
        if (!(acl_command_categories[cmd].flags & ACL_CMD_NOAUTH) && !u->allowed[cmd])
            return ACL_DENIED_CMD;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (!key_ok(u, &keys[i])) {
            if (which) *which = i;
            return ACL_DENIED_KEY;
        }
    }
    for (size_t i = 0; i < nchans; i++) {
        if (!channel_ok(u, &chans[i])) {
            if (which) *which = i;
            return ACL_DENIED_CHANNEL;
        }
    }
    return ACL_OK;
}
