/* builtin_data.h — data/ files compiled into the binary (generated .c). */
#ifndef SITREP_BUILTIN_DATA_H
#define SITREP_BUILTIN_DATA_H

extern const char builtin_mask_rules[];
extern const char *const builtin_migrations[];
extern const int builtin_migration_count;

#endif
