# file: src/core/fingerprint.cpp
# The fingerprint reads 64 bytes past the end of the metadata's heap buffer.
s/buf.append(\*command.metadata);/buf.append(command.metadata->data(), command.metadata->size() + 64);/
