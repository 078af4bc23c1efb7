/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Runs a fuzz target over every file of its seed corpus, without libFuzzer, so
 * that `make check` keeps each corpus entry passing in every build (including
 * the sanitizer one).  The corpus is $OCB_CORPUS/FUZZ_NAME.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(void)
{
	const char *root = getenv("OCB_CORPUS");
	char dir[4096], path[8192];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (root == NULL)
		root = "tests/fuzz/corpus";
	snprintf(dir, sizeof(dir), "%s/%s", root, FUZZ_NAME);
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay %s: no corpus at %s\n", FUZZ_NAME, dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		FILE *fp;
		uint8_t *buf;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		fseek(fp, 0, SEEK_END);
		len = ftell(fp);
		rewind(fp);
		if (len < 0 || (buf = malloc((size_t)len + 1)) == NULL) {
			fclose(fp);
			return 1;
		}
		if (fread(buf, 1, (size_t)len, fp) != (size_t)len) {
			fclose(fp);
			free(buf);
			return 1;
		}
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "replay %s: empty corpus\n", FUZZ_NAME);
		return 1;
	}
	printf("%d passed, 0 failed\n", n);
	return 0;
}
