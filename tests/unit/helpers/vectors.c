/* SPDX-License-Identifier: MIT */
/*
 * vectors.c: the JSON vector loader and hex decoder shared by the unit
 * tests that check known answers (test_link, test_record, test_kdf) and
 * the Wycheproof runner.  Failures are cmocka assertions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "vectors.h"

static int hexval(char c);

cJSON *tu_load_json(const char *dir_env, const char *name)
{
    const char *dir = getenv(dir_env);
    char path[4096];
    FILE *f;
    long len;
    char *text;
    cJSON *root;

    assert_non_null(dir);
    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    text = malloc((size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL) {
        fail_msg("%s does not parse as JSON", path);
    }
    return root;
}

cJSON *tu_load_vectors(const char *name)
{
    return tu_load_json("SRM_VECTORS_DIR", name);
}

/* Lowercase hex only, as DESIGN.md section 9 fixes. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

uint8_t *tu_hex_field(const cJSON *obj, const char *key, size_t *n)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    const char *s;
    size_t len, i;
    uint8_t *out;

    assert_true(cJSON_IsString(it));
    s = it->valuestring;
    len = strlen(s);
    assert_int_equal(len % 2, 0);
    out = malloc(len / 2 + 1);
    assert_non_null(out);
    for (i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return out;
}

void tu_hex_exact(const cJSON *obj, const char *key, uint8_t *out, size_t n)
{
    size_t got;
    uint8_t *p = tu_hex_field(obj, key, &got);

    assert_int_equal(got, n);
    memcpy(out, p, n);
    free(p);
}

uint64_t tu_seq_field(const cJSON *obj)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "seq");
    double d;

    assert_true(cJSON_IsNumber(it));
    d = it->valuedouble;
    /* exact only up to 2^53, which is why the vectors stay below it */
    assert_true(d >= 0 && d <= 9007199254740992.0);
    assert_true((double)(uint64_t)d == d);
    return (uint64_t)d;
}
