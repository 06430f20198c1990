"""One training step of a NeuronSpark preset: forward + backward + Adam, bf16 autocast, per-layer checkpointing, timed
around chapter 7's `train_step` (its model, optimizer and step; this script only times them).

Usage: python bench/bench_model_step.py [--preset v75] [--batch 2] [--seq 512] [--steps 3] [--no-checkpoint] [--device cuda]
Prints the device and versions, then forward / backward / optimizer / step times (median over --steps timed steps
after one warm-up step), tokens per second (batch x seq / step time) and, on a GPU, peak allocated memory.
`--device cpu --preset tiny` is a quick smoke test of the script itself.
"""
import argparse, statistics, time
import torch

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='v75', help='tiny, small or v75')
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--seq', type=int, default=512, help='tokens per sequence (frames = seq x K)')
    ap.add_argument('--steps', type=int, default=3, help='timed steps (after one warm-up step)')
    ap.add_argument('--no-checkpoint', action='store_true', help='store activations instead of recomputing each layer')
    ap.add_argument('--device', default='cuda')
    a = ap.parse_args()
    import transformers
    from neuronspark.train import TrainConfig, build_model, make_optimizer, train_step
    dev = torch.device(a.device)
    cuda = dev.type == 'cuda'
    if cuda:
        import triton
        print(f'{torch.cuda.get_device_name(dev)} | torch {torch.__version__} | triton {triton.__version__} | transformers {transformers.__version__}')
    else: print(f'{a.device} | torch {torch.__version__} | transformers {transformers.__version__}')
    torch.manual_seed(0)
    model = build_model('snn', a.preset, checkpointing='none' if a.no_checkpoint else 'layers').to(dev).train()   # chapter 7's model
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    tcfg = TrainConfig(optimizer='adam', lr=2e-4, weight_decay=0.0, clip=0.0, progress=False, tensorboard=False)
    opt = make_optimizer(model, tcfg)                                            # and chapter 7's optimizer and step
    for g in opt.param_groups: g['lr'] = tcfg.lr * g['lr_mult']
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), generator=torch.Generator().manual_seed(0)).to(dev)
    batch = [dict(input_ids=ids, labels=ids)]
    amp = lambda: torch.autocast(dev.type, dtype=torch.bfloat16)
    print(f'preset {a.preset}: {n_params:,} parameters | batch {a.batch} x {a.seq} tokens x K={cfg.k_frames} = '
          f'{a.batch * a.seq * cfg.k_frames:,} frames | bf16 autocast | checkpointing {"on" if cfg.checkpointing == "layers" else "off"} | Adam')

    def now():
        if cuda: torch.cuda.synchronize(dev)
        return time.perf_counter()
    rows = []
    for step in range(a.steps + 1):
        if step == 1 and cuda: torch.cuda.reset_peak_memory_stats(dev)
        t = [now()]                                                              # then after forward, backward and the update
        sums, _, _ = train_step(model, model, opt, batch, a.batch * (a.seq - 1), tcfg, autocast=amp, guard=False, mark=lambda: t.append(now()))
        loss = sums[0].item() / (a.batch * (a.seq - 1))
        t0, t1, t2, t3 = t
        rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        print(f'step {step}{" (warm-up)" if step == 0 else ""}: forward {t1 - t0:.3f} s, backward {t2 - t1:.3f} s, '
              f'Adam {t3 - t2:.3f} s, total {t3 - t0:.3f} s, loss {loss:.3f}', flush=True)
    med = [statistics.median(r[i] for r in rows[1:]) for i in range(4)]
    mem = f' | peak allocated {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB' if cuda else ''
    print(f'median of {a.steps} steps: forward {med[0]:.3f} s, backward {med[1]:.3f} s, Adam {med[2]:.3f} s | '
          f'step {med[3]:.3f} s | {a.batch * a.seq / med[3]:,.0f} tokens/s{mem}')

if __name__ == '__main__': main()
