# file: src/core/decide.cpp
# Settle, cancel and extend no longer look at expires_at: a lapsed hold that no
# expire event has closed yet can still be captured.
s/if (target->state == ReservationState::expired || target->lapsed_at(now))/if (target->state == ReservationState::expired)/
