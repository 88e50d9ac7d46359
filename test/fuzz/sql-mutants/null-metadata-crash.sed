# file: src/pg/arguments.cpp
# Metadata is decoded without looking at its NULL flag: a NULL metadata
# argument is dereferenced and the backend dies with SIGSEGV.
s/if (PG_NARGS() <= n || PG_ARGISNULL(n)) return out;/if (PG_NARGS() <= n) return out;/
