"""`ns-pretrain` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/pretrain.py --preset small ...
Every flag of ns-pretrain applies (python bench/pretrain.py --help), plus the screen in SCREENS: a change to the model
for an experiment (chapter 7a), not a model option."""
import sys
from neuronspark.train import ns_pretrain

SCREENS = """screens (this script only; they last for this process: a model saved under one loads back as the ordinary model):
  --continuous_inputs   every sublayer reads the (normalised) stream itself instead of its input neurons' spikes: the
                        ceiling of any finer code for what a sublayer reads"""

def continuous_inputs():
    "Bypass the input PLIF neurons of every layer (they keep their parameters, unused)."
    from neuronspark.model import SNNDecoderLayer
    def _sublayers(self, h):
        h = h + self._update(self.out1(self.block(self.norm1(h))))
        return h + self._update(self.out2(self.ffn(self.norm2(h))))
    SNNDecoderLayer._sublayers = _sublayers

if {'-h', '--help'} & set(sys.argv): print(SCREENS, end='\n\n')
if '--continuous_inputs' in sys.argv:
    sys.argv.remove('--continuous_inputs'); continuous_inputs()
ns_pretrain()
