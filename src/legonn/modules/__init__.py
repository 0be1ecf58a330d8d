"""LegoNN modules: encoders that emit `Marginals`, ingestors that read them, decoders, baseline."""

from legonn.modules.baseline import Baseline, BaselineConfig  # noqa: F401
from legonn.modules.decoder import AutoregressiveDecoder, Decoder, DecoderConfig  # noqa: F401
from legonn.modules.encoders import (  # noqa: F401
    InterfaceHead,
    MarginalEncoder,
    MarginalEncoderConfig,
    SpeechEncoder,
    SpeechEncoderConfig,
    TextEncoder,
    TextEncoderConfig,
    TokenMarginals,
    TokenMarginalsConfig,
)
from legonn.modules.ingestors import BeamConv, WeightedEmbedding  # noqa: F401
from legonn.modules.length import OutputLengthController  # noqa: F401
