"""legonn — modular encoder-decoder models that talk through CTC-grounded marginals.

Implements LegoNN (Dalmia et al., arXiv 2206.03318). The one value that crosses a module
boundary is :class:`legonn.interface.Marginals`.
"""

__version__ = "0.1.0"

# The interface types are re-exported lazily: importing them pulls in torch (~2 s), which
# `legonn --help`, `--version` and the jemalloc re-exec in front of every command do not need.
_LAZY = {"Marginals", "VocabId", "VocabMismatch"}


def __getattr__(name: str):
    if name in _LAZY:
        from legonn import interface

        return getattr(interface, name)
    raise AttributeError(f"module 'legonn' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
