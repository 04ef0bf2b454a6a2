"""Dataset readers; importing this package registers every format with ``open_sequence``.

Order matters: detection tries formats in registration order, most specific first.
"""

from slamseg.sequences.readers import nyu_raw, tum
from slamseg.sequences.sequence import register_format

register_format(
    "nyu_raw", nyu_raw.detect_nyu_raw, "NYU Depth v2 raw scene folder (d-*.pgm, r-*.ppm, a-*.dump)"
)(nyu_raw.open_nyu_raw)
register_format(
    "tum", tum.detect_tum, "TUM RGB-D folder (rgb.txt, depth.txt, groundtruth.txt) or slamseg's TUM-style layout"
)(tum.open_tum)
