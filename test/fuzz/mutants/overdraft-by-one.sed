# file: decide.cpp
# The funds check lets a debit or reserve exceed available by one unit.
s/if (w.available() < amount)/if (w.available() < amount - 1)/
