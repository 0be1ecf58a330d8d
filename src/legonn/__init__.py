"""legonn — modular encoder-decoder models that talk through CTC-grounded marginals.

Implements LegoNN (Dalmia et al., arXiv 2206.03318). The one value that crosses a module
boundary is :class:`legonn.interface.Marginals`.
"""

__version__ = "0.1.0"

from legonn.interface import Marginals, VocabId, VocabMismatch  # noqa: E402,F401
