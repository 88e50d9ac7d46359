# file: decide.cpp
# Settle, cancel and extend no longer look at expires_at: only a hold that an
# expire event already closed is refused, so a lapsed hold can still be captured.
s/if (target->state == ReservationState::expired || target->lapsed_at(now))/if (target->state == ReservationState::expired)/
