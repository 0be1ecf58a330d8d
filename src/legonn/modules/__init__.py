"""LegoNN modules: encoders that emit `Marginals`, ingestors that read them, decoders, baseline.

`MODULE_KINDS` is the one table of what a brick can be: kind → (config class, builder). `build_model`,
`load_brick` and `start_from_bricks` all build through it; builders take the config and the
vocabularies the module reads and emits, keyword-only.
"""

from legonn.modules.baseline import Baseline, BaselineConfig  # noqa: F401
from legonn.modules.decoder import AutoregressiveDecoder, Decoder, DecoderConfig, build_decoder  # noqa: F401
from legonn.modules.encoders import (  # noqa: F401
    EncoderConfig,
    InterfaceEncoder,
    InterfaceHead,
    OLCConfig,
    TokenMarginals,
    TokenMarginalsConfig,
    build_encoder,
)
from legonn.modules.frontends import FRONTENDS, FilterbankSubsampling, MarginalIngest, TokenEmbedding  # noqa: F401
from legonn.modules.ingestors import INGESTORS, BeamConv, BeamConvConfig, WEmbConfig, WeightedEmbedding  # noqa: F401
from legonn.modules.length import OutputLengthController  # noqa: F401

MODULE_KINDS = {
    "encoder": (EncoderConfig, build_encoder),
    "decoder": (DecoderConfig, build_decoder),
}
