#!/usr/bin/env bash
# Sourced: pick_free_port prints a TCP port on 127.0.0.1 that a throwaway
# server can listen on.
#
# The port is taken below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range): a port inside it can be the local end of
# any client connection on the machine, and a server then fails to bind it
# even though nothing listens there. A port is free when no socket of any
# state uses it and no Unix socket of that number exists in the default
# socket directory.
pick_free_port() {
  local low=32768 high
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r low high </proc/sys/net/ipv4/ip_local_port_range
  fi
  local first=15000 last=$((low - 1))
  if [ "$last" -le "$first" ]; then
    # An unusual ephemeral range: fall back to the ports above it.
    first=$((high + 1))
    last=65535
  fi
  local port _
  for _ in $(seq 1 100); do
    port=$((first + (RANDOM * 32768 + RANDOM) % (last - first + 1)))
    [ -e "/var/run/postgresql/.s.PGSQL.$port" ] && continue
    if command -v ss >/dev/null; then
      [ -n "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] && continue
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    echo "$port"
    return 0
  done
  echo "pick_free_port: no free port found" >&2
  return 1
}
