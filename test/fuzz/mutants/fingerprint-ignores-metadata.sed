# file: fingerprint.cpp
# The fingerprint hashes the metadata's length but not its text: a retry with
# other metadata of the same length would replay instead of failing LB007.
/buf.append(\*command.metadata);/d
