"""`legonn …` commands. Thin: parse, call the library, print. User mistakes exit 1 with one line.

The group and its shared helpers are in `base`; each file below adds its commands to it.
"""

from legonn.cli import bricks, data, decoding, training  # noqa: F401  (register the commands)
from legonn.cli.base import friendly_errors, main, run  # noqa: F401
