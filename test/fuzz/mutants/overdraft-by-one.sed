# file: decide.cpp
# The funds check lets a debit or reserve exceed available by one unit.
s/return checked_sub(l.state.available(), amount) >= floor;/return checked_sub(l.state.available(), amount) >= floor - 1;/
