/* SPDX-License-Identifier: MIT */
/*
 * replay_main.c: runs a libFuzzer target over every file of a corpus
 * directory, so that ordinary ctest runs replay the committed corpus (and
 * any crash found earlier) without clang's fuzzer runtime.  A deterministic
 * mutation pass (bit flips and truncations of each file) follows.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned long *runs)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL, *mut = NULL;
    long n;
    size_t i, len;

    if (f == NULL) {
        fprintf(stderr, "error: cannot open %s\n", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    len = (size_t)n;
    buf = malloc(len + 1);
    mut = malloc(len + 1);
    if (buf == NULL || mut == NULL || fread(buf, 1, len, f) != len) {
        fclose(f);
        free(buf);
        free(mut);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    (*runs)++;
    /* Every truncation and a bounded set of single-bit flips. */
    for (i = 0; i < len; i++) {
        LLVMFuzzerTestOneInput(buf, i);
        (*runs)++;
    }
    for (i = 0; i < len * 8 && i < 4096; i++) {
        memcpy(mut, buf, len);
        mut[i / 8] ^= (uint8_t)(1u << (i % 8));
        LLVMFuzzerTestOneInput(mut, len);
        (*runs)++;
    }
    free(buf);
    free(mut);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long runs = 0, files = 0;
    int a;

    for (a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        struct dirent *e;

        if (d == NULL) {
            fprintf(stderr, "error: corpus directory %s missing\n", argv[a]);
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            struct stat st;

            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            if (run_file(path, &runs) != 0) {
                closedir(d);
                return 1;
            }
            files++;
        }
        closedir(d);
    }
    if (files == 0) {
        fprintf(stderr, "error: empty corpus\n");
        return 1;
    }
    printf("replayed %lu corpus files, %lu runs\n", files, runs);
    return 0;
}
