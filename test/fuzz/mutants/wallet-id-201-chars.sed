# file: limits.hpp
# Wallet ids of 201 characters are accepted, one more than documented.
s/wallet_id_max_chars = 200;/wallet_id_max_chars = 201;/
