"""Dataset readers; importing this package registers every format with ``open_sequence``.

Order matters: detection tries formats in registration order, most specific first.
"""
