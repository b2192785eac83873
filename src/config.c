/* The settings table's parsing: flags, environment and file. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum { T_STR, T_INT };

typedef struct cfg_entry {
	const char *name;
	int type;
	const char *dflt_str;
	long long dflt_int, min, max;
	const char *help;
	size_t offset;
} cfg_entry;

#define TS_CFG_ENTRY_STR(name, dflt, min, max, help) \
	{ #name, T_STR, dflt, 0, 0, 0, help, offsetof(ts_config, name) },
#define TS_CFG_ENTRY_INT(name, dflt, min, max, help) \
	{ #name, T_INT, NULL, dflt, min, max, help, offsetof(ts_config, name) },
#define TS_CFG_ENTRY(type, name, dflt, min, max, help) TS_CFG_ENTRY_##type(name, dflt, min, max, help)

static const cfg_entry entries[] = {
	TS_CONFIG_TABLE(TS_CFG_ENTRY)
};
#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

static char **
str_slot(ts_config *c, const cfg_entry *e)
{
	return (char **)((char *)c + e->offset);
}

static long long *
int_slot(ts_config *c, const cfg_entry *e)
{
	return (long long *)((char *)c + e->offset);
}

void
ts_config_defaults(ts_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_ENTRIES; i++) {
		if (entries[i].type == T_STR)
			*str_slot(cfg, &entries[i]) = strdup(entries[i].dflt_str);
		else
			*int_slot(cfg, &entries[i]) = entries[i].dflt_int;
	}
}

void
ts_config_free(ts_config *cfg)
{
	for (size_t i = 0; i < N_ENTRIES; i++)
		if (entries[i].type == T_STR) {
			free(*str_slot(cfg, &entries[i]));
			*str_slot(cfg, &entries[i]) = NULL;
		}
}

/* "access-ttl" and "access_ttl" name the same setting. */
static const cfg_entry *
find(const char *name)
{
	char norm[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	norm[i] = '\0';
	for (i = 0; i < N_ENTRIES; i++)
		if (strcmp(entries[i].name, norm) == 0)
			return &entries[i];
	return NULL;
}

int
ts_config_known(const char *name)
{
	return find(name) != NULL;
}

int
ts_config_set(ts_config *cfg, const char *name, const char *value, char *err, size_t errsz)
{
	const cfg_entry *e = find(name);
	char *end;
	long long v;

	if (!e)
		return -2;
	if (e->type == T_STR) {
		char *s = strdup(value);
		if (!s) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		free(*str_slot(cfg, e));
		*str_slot(cfg, e) = s;
		return 0;
	}
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno || end == value || *end) {
		snprintf(err, errsz, "%s: '%s' is not a whole number", e->name, value);
		return -1;
	}
	if (v < e->min || v > e->max) {
		snprintf(err, errsz, "%s: %lld is outside %lld..%lld", e->name, v, e->min, e->max);
		return -1;
	}
	*int_slot(cfg, e) = v;
	return 0;
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int
ts_config_load_file(ts_config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[1024], why[256];
	int lineno = 0, rc = 0;

	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = trim(line), *eq, *key, *val;
		lineno++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!(eq = strchr(p, '='))) {
			snprintf(err, errsz, "%s:%d: expected 'key = value'", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		/* Allow "value" in quotes, as people write in TOML-ish files. */
		size_t n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			val[n - 1] = '\0';
			val++;
		}
		int r = ts_config_set(cfg, key, val, why, sizeof(why));
		if (r == -2)
			snprintf(err, errsz, "%s:%d: unknown setting '%s'", path, lineno, key);
		else if (r)
			snprintf(err, errsz, "%s:%d: %s", path, lineno, why);
		if (r) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int
ts_config_load_env(ts_config *cfg, char *err, size_t errsz)
{
	char var[80], why[256];

	for (size_t i = 0; i < N_ENTRIES; i++) {
		size_t j;
		const char *v;
		strcpy(var, "TESSERA_");
		for (j = 0; entries[i].name[j] && j + 9 < sizeof(var); j++)
			var[8 + j] = (char)toupper((unsigned char)entries[i].name[j]);
		var[8 + j] = '\0';
		if (!(v = getenv(var)))
			continue;
		if (ts_config_set(cfg, entries[i].name, v, why, sizeof(why))) {
			snprintf(err, errsz, "%s: %s", var, why);
			return -1;
		}
	}
	return 0;
}

void
ts_config_usage(FILE *f)
{
	char flag[64];

	for (size_t i = 0; i < N_ENTRIES; i++) {
		const cfg_entry *e = &entries[i];
		size_t j;
		for (j = 0; e->name[j] && j < sizeof(flag) - 1; j++)
			flag[j] = e->name[j] == '_' ? '-' : e->name[j];
		flag[j] = '\0';
		if (e->type == T_STR)
			fprintf(f, "  --%-18s %s (default \"%s\")\n", flag, e->help, e->dflt_str);
		else
			fprintf(f, "  --%-18s %s (default %lld)\n", flag, e->help, e->dflt_int);
	}
	fprintf(f, "  --%-18s read settings from FILE (key = value lines)\n", "config FILE");
	fprintf(f, "  Every setting may also come from TESSERA_<NAME>, e.g. TESSERA_ACCESS_TTL.\n");
}
