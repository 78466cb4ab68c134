/* The tables behind keel_strerror() and keel_errword(). */
#include "keel/error.h"

const char *keel_strerror(int code)
{
    switch (code) {
#define KEEL__ERR_MSG(name, value, word, msg) \
    case value:                              \
        return msg;
        KEEL_ERRORS(KEEL__ERR_MSG)
#undef KEEL__ERR_MSG
    }
    return "unknown error";
}

const char *keel_errword(int code)
{
    switch (code) {
#define KEEL__ERR_WORD(name, value, word, msg) \
    case value:                               \
        return word;
        KEEL_ERRORS(KEEL__ERR_WORD)
#undef KEEL__ERR_WORD
    }
    return "ERR";
}
