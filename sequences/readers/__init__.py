"""Dataset readers; importing this package registers every format with ``open_sequence``.

Order matters: detection tries formats in registration order, most specific first.
"""

from slamseg.sequences.readers import tum
from slamseg.sequences.sequence import register_format

register_format(
    "tum", tum.detect_tum, "TUM RGB-D folder (rgb.txt, depth.txt, groundtruth.txt) or slamseg's TUM-style layout"
)(tum.open_tum)
