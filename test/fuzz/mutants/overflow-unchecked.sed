# file: checked.hpp
# checked_add wraps around instead of raising 22003.
s/if (__builtin_add_overflow(a, b, &out))/if (__builtin_add_overflow(a, b, \&out) \&\& false)/
