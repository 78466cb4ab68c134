#!/usr/bin/python3
"""The layer rules of docs/architecture.md, checked on what the compiler sees.

Each folder may reach (through #include, followed transitively through
the repository's own headers) only the folders and the libraries its row
below allows. A file that includes a header that includes something
forbidden breaks the rule as surely as including it itself, so the check
walks the include graph and prints the chain that leads to the violation.

Also reported, and failed: a source file over MAX_LINES lines, product or
test (a long test file is split by concern, its shared helpers in a
*_fixture.{c,h} or tests/integration/kc*.c).

Usage: layers.py [top]        exit 0 when every rule holds, 1 otherwise.
       layers.py --selftest   plant one violation of each rule in a scratch
                              tree and check each is caught.
"""
import os
import re
import sys

MAX_LINES = 600

# External libraries, by the angle-bracket header that names them. Every
# other <...> header is the C library or the kernel's, allowed everywhere.
LIBS = {
    "raft": re.compile(r"^raft(\.h|/)"),
    "lmdb": re.compile(r"^lmdb\.h$"),
    "uv": re.compile(r"^uv(\.h|/)"),
    "hiredis": re.compile(r"^hiredis/"),
    "microhttpd": re.compile(r"^microhttpd\.h$"),
    "jansson": re.compile(r"^jansson\.h$"),
    "xxhash": re.compile(r"^xxhash\.h$"),
    "cmocka": re.compile(r"^cmocka\.h$"),
    "openssl": re.compile(r"^openssl/"),
}

# folder -> (repository folders it may reach, libraries it may reach).
# The longest matching folder decides; a folder always reaches itself.
# Arrows point down: api -> raft -> store -> storage, everything -> keel/.
# <raft.h> stays inside raft/ and <lmdb.h> inside storage/ even through
# headers: raft/node.h and storage/storage.h are their faces without them.
RULES = {
    "include/keel": ([], ["uv"]),
    "include/common": ([], []),
    "storage": (["include/keel"], ["lmdb", "xxhash"]),
    # OpenSSL: SHA-256 of ACL passwords (store/acl_check.c), computed on the
    # leader when it builds the entry; a hash is deterministic anyway.
    "store": (["storage", "include/keel"], ["xxhash", "openssl"]),
    # OpenSSL: raft/tls.c (member TLS); api/server (conn_tls.c, the client
    # port) and api/keeld reuse it through raft/tls.h.
    "raft": (["store", "storage", "include/keel"], ["raft", "uv", "xxhash", "openssl"]),
    # The RESP codec is its own small library: no loop, no raft, no store.
    "api/resp": (["include/keel"], []),
    # libkeel is what a user links: Keel's public headers, hiredis, libuv,
    # and OpenSSL for TLS to the client port (client_tls.c).
    "api/client": (["include/keel"], ["hiredis", "uv", "openssl"]),
    "api/cli": (["include/keel"], ["jansson"]),
    # keelctl is online only: the client library, never the server's or
    # raft's insides (those are keelutl's, which runs with keeld stopped).
    "api/keelctl": (["api/client", "api/cli", "include/keel"], ["hiredis", "jansson", "uv"]),
    "api/keelutl": (["api/cli", "raft", "store", "storage", "include/keel"], ["jansson", "uv", "xxhash"]),
    "api/server": (["api/resp", "raft", "store", "storage", "include/keel"],
                   ["uv", "jansson", "microhttpd", "xxhash", "openssl"]),
    "api/keeld": (["api/server", "api/resp", "api/client", "raft", "store", "storage", "include/keel"],
                  ["uv", "jansson", "microhttpd", "xxhash", "hiredis", "openssl"]),
    # The jepsen suite talks to keeld over the network like any client.
    "jepsen/checker": (["include/keel"], ["jansson"]),
    "jepsen/net": (["include/keel"], ["uv"]),
    "jepsen/runner": (["jepsen/checker", "jepsen/net", "include/keel"], ["hiredis", "jansson", "uv"]),
}

# Where product code lives (the length limit fails only here).
PRODUCT = ["include", "storage", "store", "raft", "api", "jepsen/checker", "jepsen/net", "jepsen/runner"]
SKIP = {"build", ".git", "node_modules"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


# Every folder may reach include/common/: header-only, libc-only helpers.
for _dirs, _libs in RULES.values():
    _dirs.append("include/common")


def folder_of(path, table):
    best = None
    for f in table:
        if path == f or path.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def resolve(top, src, quote, name):
    """The repository path an #include names, or None for an external one."""
    cands = []
    if quote == '"':
        cands.append(os.path.normpath(os.path.join(os.path.dirname(src), name)))
        cands.append(os.path.normpath(name))
    cands.append(os.path.normpath(os.path.join("include", name)))
    for c in cands:
        if os.path.isfile(os.path.join(top, c)):
            return c
    return None


def lib_of(name):
    for lib, pat in LIBS.items():
        if pat.search(name):
            return lib
    return None


def check_tree(top):
    """(layer violations, product files too long, test files too long, files checked)."""
    files = []
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.startswith(".")]
        for n in names:
            if n.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(root, n), top))
    files.sort()

    direct = {}  # path -> [(repo path or None, external lib or None, text)]
    for f in files:
        with open(os.path.join(top, f), errors="replace") as fh:
            text = fh.read()
        inc = []
        for quote, name in INCLUDE.findall(text):
            inc.append((resolve(top, f, quote, name), lib_of(name) if quote == "<" or not resolve(top, f, quote, name) else None, name))
        direct[f] = (inc, text.count("\n"))

    failures = []

    def check(f):
        owner = folder_of(f, RULES)
        if owner is None:
            return
        ok_dirs, ok_libs = RULES[owner]
        ok_dirs = [owner] + ok_dirs
        seen = {f: None}
        queue = [f]
        while queue:
            cur = queue.pop(0)
            for path, lib, name in direct.get(cur, ([], 0))[0]:
                bad = None
                if path is not None:
                    if not any(path == d or path.startswith(d + "/") for d in ok_dirs):
                        bad = path
                    elif path not in seen:
                        seen[path] = cur
                        queue.append(path)
                elif lib is not None and lib not in ok_libs:
                    bad = "<%s> (%s)" % (name, lib)
                if bad is not None:
                    chain = [cur]
                    while seen[chain[-1]] is not None:
                        chain.append(seen[chain[-1]])
                    failures.append("%s may not reach %s: %s -> %s" % (owner + "/", bad, " -> ".join(reversed(chain)), bad))
                    return

    for f in files:
        check(f)

    long_product, long_tests = [], []
    for f in files:
        n = direct[f][1]
        if n > MAX_LINES:
            line = "%s: %d lines (over %d: split it by concern)" % (f, n, MAX_LINES)
            if folder_of(f, PRODUCT) is not None and "/tests/" not in "/" + f:
                long_product.append(line)
            else:
                long_tests.append(line)

    checked = sum(1 for f in files if folder_of(f, RULES) is not None)
    return failures, long_product, long_tests, checked


# One planted violation per rule: (file, its text, what the report must say).
PLANTS = [
    ("api/client/p.c", '#include "raft/node.h"\n', "api/client/ may not reach raft/node.h"),
    ("api/client/p.c", "#include <lmdb.h>\n", "api/client/ may not reach <lmdb.h> (lmdb)"),
    ("api/keelctl/p.c", '#include "api/server/server.h"\n', "api/keelctl/ may not reach api/server/server.h"),
    ("api/keelctl/p.c", "#include <raft.h>\n", "api/keelctl/ may not reach <raft.h> (raft)"),
    ("storage/p.c", '#include "store/store.h"\n', "storage/ may not reach store/store.h"),
    ("store/p.c", '#include "raft/node.h"\n', "store/ may not reach raft/node.h"),
    ("raft/p.c", '#include "api/server/server.h"\n', "raft/ may not reach api/server/server.h"),
    ("api/resp/p.c", "#include <uv.h>\n", "api/resp/ may not reach <uv.h> (uv)"),
    ("include/common/p.h", '#include "storage/storage.h"\n', "include/common/ may not reach storage/storage.h"),
    ("api/server/p.c", "#include <raft.h>\n", "api/server/ may not reach <raft.h> (raft)"),
    ("store/p.c", "#include <lmdb.h>\n", "store/ may not reach <lmdb.h> (lmdb)"),
    # Through a header that is itself allowed: the chain is named.
    ("api/client/p.c", '#include "keel/p.h"\n', "api/client/p.c -> include/keel/p.h -> storage/storage.h"),
]


def selftest():
    """The lint on a small tree of its own: clean, then each rule broken once."""
    import tempfile
    base = {
        "include/keel/error.h": "#include <stddef.h>\n",
        "storage/storage.h": '#include "keel/error.h"\n',
        "storage/env.c": '#include "storage/storage.h"\n#include <lmdb.h>\n',
        "store/store.h": '#include "storage/storage.h"\n',
        "raft/node.h": '#include "store/store.h"\n',
        "raft/node.c": '#include "raft/node.h"\n#include <raft.h>\n#include <raft/uv.h>\n',
        "api/resp/resp.h": '#include "keel/error.h"\n',
        "api/server/server.h": '#include "raft/node.h"\n#include "api/resp/resp.h"\n#include <uv.h>\n',
        "api/client/client.c": '#include <hiredis/hiredis.h>\n#include <keel/error.h>\n#include <uv.h>\n',
        "api/keelctl/keelctl.c": '#include "keel/error.h"\n#include <jansson.h>\n',
    }
    plants = PLANTS + [("raft/long.c", "int x;\n" * (MAX_LINES + 1), None),
                       ("tests/unit/long.c", "int x;\n" * (MAX_LINES + 1), None)]
    failed = 0
    for plant in [None] + plants:
        with tempfile.TemporaryDirectory() as top:
            files = dict(base)
            if plant is not None:
                files[plant[0]] = plant[1]
                if "keel/p.h" in plant[1]:
                    files["include/keel/p.h"] = '#include "storage/storage.h"\n'
            for f, text in files.items():
                os.makedirs(os.path.join(top, os.path.dirname(f)), exist_ok=True)
                with open(os.path.join(top, f), "w") as fh:
                    fh.write(text)
            layer, long_product, long_tests, _ = check_tree(top)
            if plant is None:
                ok = not layer and not long_product and not long_tests
                what = "the clean tree passes"
            elif plant[2] is None:
                ok = any(l.startswith("%s: %d lines" % (plant[0], MAX_LINES + 1)) for l in long_product + long_tests)
                what = "a %d-line %s is reported" % (MAX_LINES + 1, plant[0])
            else:
                ok = any(plant[2] in l for l in layer)
                what = "%s planted in %s is caught" % (plant[1].strip(), plant[0])
            print("%s: %s" % ("ok" if ok else "FAILED", what))
            if not ok:
                print("  report was: %s" % (layer + long_product + long_tests))
                failed += 1
    print("%d passed, %d failed" % (len(plants) + 1 - failed, failed))
    return 1 if failed else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--selftest":
        return selftest()
    top = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    failures, long_product, long_tests, checked = check_tree(top)
    for line in failures:
        print("layer: " + line)
    for line in long_product:
        print("length: " + line)
    for line in long_tests:
        print("length: " + line)
    bad = len(failures) + len(long_product) + len(long_tests)
    print("%d files checked against %d folder rules: %d layer violations, %d files over %d lines"
          % (checked, len(RULES), len(failures), len(long_product) + len(long_tests), MAX_LINES))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
