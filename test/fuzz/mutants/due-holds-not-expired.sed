# file: decide.cpp
# A write no longer expires the lapsed holds it is handed: no expire event, and
# the hold keeps counting in reserved.
s/if (d.hold.expires_at > t) break;/break;/
