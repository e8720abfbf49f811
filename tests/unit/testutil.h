/* Shared includes and helpers for the cmocka unit tests. */
#ifndef VIGIL_TESTUTIL_H
#define VIGIL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#endif /* VIGIL_TESTUTIL_H */
