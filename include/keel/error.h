/* Keel's error codes: one table drives keel_strerror() and the RESP error words.
 *
 * Every Keel function that can fail returns 0 or one of these codes. Long-lived
 * objects also keep a message buffer with the detail ("storage: open kv: ..."),
 * wrapped on the way up. The word is what a RESP client sees first on an error
 * reply ("-WRONGTYPE ..."), so it must stay stable once published. */
#ifndef KEEL_ERROR_H
#define KEEL_ERROR_H

/* What libkeel exports (it is built with -fvisibility=hidden). Defined here,
 * the header every other public one includes. */
#ifndef KEEL_API
#define KEEL_API __attribute__((visibility("default")))
#endif

#define KEEL_ERRMSG_SIZE 512

/* X(name, value, RESP word, default message) */
#define KEEL_ERRORS(X)                                                              \
    X(KEEL_OK, 0, "OK", "success")                                                  \
    X(KEEL_ENOMEM, 1, "ERR", "out of memory")                                       \
    X(KEEL_EINVAL, 2, "ERR", "invalid argument")                                    \
    X(KEEL_EIO, 3, "IOERR", "I/O error")                                            \
    X(KEEL_ECORRUPT, 4, "CORRUPT", "data is corrupt")                               \
    X(KEEL_ENOSPACE, 5, "OOM", "space quota exceeded")                              \
    X(KEEL_EMALFORMED, 6, "ERR", "malformed command")                               \
    X(KEEL_EVERSION, 7, "ERR", "unsupported format version")                        \
    X(KEEL_ETOOBIG, 8, "ERR", "argument too large")                                 \
    X(KEEL_EWRONGTYPE, 9, "WRONGTYPE",                                              \
      "Operation against a key holding the wrong kind of value")                    \
    X(KEEL_ENOTINT, 10, "ERR", "value is not an integer or out of range")           \
    X(KEEL_EOVERFLOW, 11, "ERR", "increment or decrement would overflow")           \
    X(KEEL_ENOTFOUND, 12, "ERR", "not found")                                       \
    X(KEEL_EBUSY, 13, "BUSY", "busy, try again later")                              \
    X(KEEL_ENOTLEADER, 14, "TRYAGAIN", "not the leader")                            \
    X(KEEL_EUNCERTAIN, 15, "UNCERTAIN", "outcome unknown: the write may or may not " \
                                         "have been applied")                       \
    X(KEEL_EREPLYLOST, 16, "UNCERTAIN", "applied, but the reply could not be kept")  \
    X(KEEL_ESHUTDOWN, 17, "ERR", "shutting down")                                   \
    X(KEEL_EEXISTS, 18, "ERR", "already exists")                                   \
    X(KEEL_EMAPFULL, 19, "OOM", "storage map is full")                             \
    X(KEEL_EFATAL, 20, "ERR", "fatal local storage error: the node must restart") \
    X(KEEL_EAUTH, 21, "WRONGPASS", "authentication failed")

enum keel_error {
#define KEEL__ERR_ENUM(name, value, word, msg) name = value,
    KEEL_ERRORS(KEEL__ERR_ENUM)
#undef KEEL__ERR_ENUM
        KEEL__ERROR_MAX
};

/* The default message of a code; never NULL (unknown codes get a generic text).
 * Exported by libkeel; the server's layers link the same two functions
 * (storage/error.c, one object compiled into both). */
KEEL_API const char *keel_strerror(int code);

/* The RESP error word of a code ("ERR", "WRONGTYPE", ...); never NULL. */
KEEL_API const char *keel_errword(int code);

#endif /* KEEL_ERROR_H */
