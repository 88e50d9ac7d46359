# file: decide.cpp
# A write no longer expires the lapsed holds it is handed: no expire event, and
# the hold keeps counting in reserved.
s/if (!r.lapsed_at(now)) continue;/if (true) continue;/
s/if (r.expires_at > next_event_time(b.wallet(), now)) break;/break;/
