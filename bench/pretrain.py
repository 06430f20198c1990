"""`ns-pretrain` from the source tree (no console script needed), e.g. under torchrun:
    PYTHONPATH=. torchrun --standalone --nproc_per_node 2 bench/pretrain.py --preset small ...
Every flag of ns-pretrain applies (python bench/pretrain.py --help), plus the screens in SCREENS: changes to the model
for an experiment (chapter 7a), not model options."""
import math, sys
import torch, torch.nn as nn, torch.nn.functional as F
from neuronspark.train import ns_pretrain

SCREENS = """screens (this script only; they last for this process: a model saved under one loads back as the ordinary model):
  --continuous_inputs   every sublayer reads the (normalised) stream itself instead of its input neurons' spikes: the
                        ceiling of any finer code for what a sublayer reads
  --analog_spikes       every spike becomes its surrogate's smooth value sigmoid(alpha z), every scan runs on the
                        reference path (add --config impl=reference): the same network with no binary event anywhere,
                        and a backward that is its true gradient
  --ssm_block           every layer's SNNBlock becomes a Mamba mixer (`ssm_block`: state 16 per channel, expansion 2,
                        a short convolution, no spikes inside) that reads the block's input spikes and hands its
                        real-valued output to the stream's projection: the attention analogue replaced, the rest kept"""

def continuous_inputs():
    "Bypass the input PLIF neurons of every layer (they keep their parameters, unused)."
    from neuronspark.model import SNNDecoderLayer
    def _sublayers(self, h):
        h = h + self._update(self.out1(self.block(self.norm1(h))))
        return h + self._update(self.out2(self.ffn(self.norm2(h))))
    SNNDecoderLayer._sublayers = _sublayers

def analog_spikes():
    "SigmoidSpike's forward returns sigmoid(alpha z): its backward (that sigmoid's derivative) is then exact."
    from neuronspark.plif import SigmoidSpike
    def forward(ctx, z, alpha):
        ctx.save_for_backward(z); ctx.alpha = alpha
        return torch.sigmoid(alpha * z)
    SigmoidSpike.forward = staticmethod(forward)

class SSMBlock(nn.Module):
    """A Mamba mixer (Hugging Face's `MambaMixer` computes the same function; its Python loop's backward takes seconds per
    call on a CPU, this one scans with chapter 3's `linear_scan`), time-major over the frames: an in-projection to x and
    a gate z (expansion 2), a depthwise causal convolution of 4 frames and SiLU on x, then per frame a step size
    dt = softplus(x W_dt + b) per channel and B_t, C_t (16 each) from x; the state h[c, n] = exp(dt[c] A[c, n]) h[c, n]
    + dt[c] B_t[n] x[c], read as y[c] = sum_n C_t[n] h[c, n] + D[c] x[c], gated by SiLU(z), projected back to D.
    Mamba's init: A = -(1..16), dt log-uniform in [1e-3, 0.1], D = 1."""
    def __init__(self, d_model, *args, expand=2, d_state=16, d_conv=4, **kwargs):   # SNNBlock's other arguments are ignored
        super().__init__()
        E, R = expand * d_model, math.ceil(d_model / 16)
        self.R, self.n, self.recompute_proj = R, d_state, False
        self.in_proj = nn.Linear(d_model, 2 * E, bias=False)
        self.conv = nn.Conv1d(E, E, d_conv, groups=E, padding=d_conv - 1)
        self.x_proj = nn.Linear(E, R + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(R, E)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, d_model, bias=False)
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -R ** -0.5, R ** -0.5)
            dt = torch.exp(torch.rand(E) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))              # softplus^-1(dt)

    def forward(self, x):                                                           # [T, B, D] frames -> [T, B, D]
        from neuronspark.scan import linear_scan
        T = x.shape[0]
        xin, z = self.in_proj(x).chunk(2, dim=-1)                                   # [T, B, E] each
        xc = F.silu(self.conv(xin.permute(1, 2, 0))[..., :T].permute(2, 0, 1))      # causal: the first T outputs
        dt, Bm, Cm = self.x_proj(xc).split([self.R, self.n, self.n], dim=-1)
        dt = F.softplus(self.dt_proj(dt))                                           # [T, B, E]
        a = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.A_log.float()))           # [T, B, E, n]
        h = linear_scan(a, (dt * xc).unsqueeze(-1) * Bm.unsqueeze(-2))              # [T, B, E, n]
        y = (h * Cm.unsqueeze(-2)).sum(-1) + self.D * xc
        return self.out_proj(y * F.silu(z))

def ssm_block():
    "SNNDecoderLayer builds an `SSMBlock` where it built an SNNBlock."
    import neuronspark.model as M
    M.SNNBlock = SSMBlock

if __name__ == '__main__':
    if {'-h', '--help'} & set(sys.argv): print(SCREENS, end='\n\n')
    if '--continuous_inputs' in sys.argv:
        sys.argv.remove('--continuous_inputs'); continuous_inputs()
    if '--analog_spikes' in sys.argv:
        if 'impl=reference' not in ' '.join(sys.argv): sys.exit('--analog_spikes needs --config impl=reference: the kernels fire binary spikes of their own')
        sys.argv.remove('--analog_spikes'); analog_spikes()
    if '--ssm_block' in sys.argv:
        sys.argv.remove('--ssm_block'); ssm_block()
    ns_pretrain()
