"""`ns-pretrain` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/pretrain.py --preset small ...
Every flag of ns-pretrain applies (python bench/pretrain.py --help), plus the screens in SCREENS: changes to the model
for an experiment (chapter 7a), not model options."""
import sys
from neuronspark.train import ns_pretrain

SCREENS = """screens (this script only; they last for this process: a model saved under one loads back as the ordinary model):
  --continuous_inputs   every sublayer reads the (normalised) stream itself instead of its input neurons' spikes: the
                        ceiling of any finer code for what a sublayer reads
  --analog_spikes       every spike becomes its surrogate's smooth value sigmoid(alpha z), every scan runs on the
                        reference path (add --config impl=reference): the same network with no binary event anywhere,
                        and a backward that is its true gradient"""

def continuous_inputs():
    "Bypass the input PLIF neurons of every layer (they keep their parameters, unused)."
    from neuronspark.model import SNNDecoderLayer
    def _sublayers(self, h):
        h = h + self._update(self.out1(self.block(self.norm1(h))))
        return h + self._update(self.out2(self.ffn(self.norm2(h))))
    SNNDecoderLayer._sublayers = _sublayers

def analog_spikes():
    "SigmoidSpike's forward returns sigmoid(alpha z): its backward (that sigmoid's derivative) is then exact."
    import torch
    from neuronspark.plif import SigmoidSpike
    def forward(ctx, z, alpha):
        ctx.save_for_backward(z); ctx.alpha = alpha
        return torch.sigmoid(alpha * z)
    SigmoidSpike.forward = staticmethod(forward)

if __name__ == '__main__':
    if {'-h', '--help'} & set(sys.argv): print(SCREENS, end='\n\n')
    if '--continuous_inputs' in sys.argv:
        sys.argv.remove('--continuous_inputs'); continuous_inputs()
    if '--analog_spikes' in sys.argv:
        if 'impl=reference' not in ' '.join(sys.argv): sys.exit('--analog_spikes needs --config impl=reference: the kernels fire binary spikes of their own')
        sys.argv.remove('--analog_spikes'); analog_spikes()
    ns_pretrain()
