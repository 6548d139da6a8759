/* fuzz_seeds.h - how a libFuzzer target of abbey seeds itself: in LLVMFuzzerInitialize,
 * each corpus directory named on the command line that is empty gets the target's seed
 * inputs, each a mode byte and the bytes (tests/fuzz/fuzz_frame.c, fuzz_top.c). Header
 * only: every target is built from its one .c file (scripts/fuzz.sh). */
#ifndef ABBEY_FUZZ_SEEDS_H
#define ABBEY_FUZZ_SEEDS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* Write dir/name: the mode byte, then b[0..n). Nothing when it cannot be opened. */
static inline void fuzz_write_seed(const char *dir, const char *name, uint8_t mode,
                                   const uint8_t *b, size_t n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")))
        return;
    fputc(mode, f);
    fwrite(b, 1, n, f);
    fclose(f);
}

static inline int fuzz_dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int empty = 1;
    if (!d)
        return 0;
    while (empty && (de = readdir(d)) != NULL)
        empty = de->d_name[0] == '.';
    closedir(d);
    return empty;
}

/* Call write_seeds(dir) for each empty directory among the fuzzer's arguments. */
static inline void fuzz_seed_dirs(int argc, char **argv, void (*write_seeds)(const char *dir))
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        const char *a = argv[i];
        if (a[0] != '-' && stat(a, &st) == 0 && S_ISDIR(st.st_mode) && fuzz_dir_is_empty(a))
            write_seeds(a);
    }
}

#endif
