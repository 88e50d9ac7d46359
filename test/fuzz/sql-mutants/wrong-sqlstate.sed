# file: src/core/validate.cpp
# An invalid idempotency key raises XX000 instead of the documented 22023.
/^void validate_idempotency_key/,/^}/s/invalid("invalid idempotency key"/throw LedgerError(sqlstate::internal_error, "invalid idempotency key"/
