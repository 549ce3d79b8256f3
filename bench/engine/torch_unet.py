"""PyTorch reference of fusionfm's U-Net (src/nn/unet.ts, src/nn/blocks.ts), for bench/torch-peer.ts.

Loads the weights our engine exported (safetensors, same parameter names), checks that it
computes the same output for the same input, then times the forward pass. Where config.json
has a 'train' entry ({shape, shape_out, t}, with train_input.f32 and train_target.f32 in the dir),
also times a training step (forward, MSE, backward, Adam without weight decay, lr 1e-3) and
reports its first two losses, which bench/torch-peer.ts checks against ours (same gradients and
update).

  python3 bench/torch_unet.py <dir with config.json, weights.safetensors, input.f32, output.f32>
      [--rounds 5] [--threads N] [--device cpu|cuda] [--serve]
Prints one JSON object. With --serve it then stays up and times one run per line read from stdin
('forward' or 'train'), answering each with a line '@peer {"ms": ...}', so that the caller can
interleave its own runs with PyTorch's round by round (this machine's speed drifts between minutes).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def groups_for(channels, wanted):
    for g in range(min(wanted, channels), 1, -1):
        if channels % g == 0:
            return g
    return 1


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        assert e['dtype'] == 'F32', (name, e['dtype'])
        a, b = e['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype='<f4').copy().reshape(e['shape']))
    return out


def timestep_embedding(t, dim):
    half = dim // 2
    k = torch.arange(half, dtype=torch.float64)
    freq = torch.exp(-math.log(10000) * k / max(1, half - 1))
    arg = 1000 * torch.tensor(t, dtype=torch.float64)[:, None] * freq[None]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1).float()


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups_for(cin, groups), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout) if tdim else None
        self.norm2 = nn.GroupNorm(groups_for(cout, groups), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.temb is not None:
            h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, c, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups_for(c, groups), c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        dh = c // self.heads
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, dh, h * w).unbind(1)
        p = torch.softmax(q.transpose(-1, -2) @ k / math.sqrt(dh), dim=-1)  # [n, heads, query, key]
        o = v @ p.transpose(-1, -2)  # [n, heads, dh, query]
        return x + self.proj(o.reshape(n, c, h, w))


class Conv(nn.Module):
    """holds .conv, as our Downsample/Upsample do, so parameter names match"""

    def __init__(self, c, stride):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=1)


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = [m * cfg['baseChannels'] for m in cfg['channelMults']]
        tdim = 4 * cfg['timeDim'] if cfg['timeDim'] else None
        self.time_dim = cfg['timeDim']
        g = cfg['groups']
        self.upsample_mode = cfg.get('upsample', 'nearest')
        if tdim:
            self.time = nn.ModuleDict({'fc1': nn.Linear(cfg['timeDim'], tdim), 'fc2': nn.Linear(tdim, tdim)})
        self.conv_in = nn.Conv2d(cfg['inChannels'], ch[0], 3, padding=1)
        skips, cur = [ch[0]], ch[0]
        self.down = nn.ModuleList()
        for i, co in enumerate(ch):
            blocks = nn.ModuleList()
            for _ in range(cfg['blocksPerLevel']):
                blocks.append(ResBlock(cur, co, tdim, g))
                cur = co
                skips.append(cur)
            level = nn.ModuleDict({'block': blocks})
            if i < len(ch) - 1:
                level['downsample'] = Conv(cur, 2)
                skips.append(cur)
            self.down.append(level)
        self.mid = nn.ModuleDict({'block1': ResBlock(cur, cur, tdim, g), 'block2': ResBlock(cur, cur, tdim, g)})
        if cfg['attention']:
            self.mid['attn'] = Attention(cur, cfg['heads'], g)
        self.up = nn.ModuleDict()
        self.up_order = []
        for i in range(len(ch) - 1, -1, -1):
            blocks = nn.ModuleList()
            for _ in range(cfg['blocksPerLevel'] + 1):
                blocks.append(ResBlock(cur + skips.pop(), ch[i], tdim, g))
                cur = ch[i]
            level = nn.ModuleDict({'block': blocks})
            if i > 0:
                level['upsample'] = Conv(cur, 1)
            self.up[str(i)] = level
            self.up_order.append(str(i))
        self.norm_out = nn.GroupNorm(groups_for(cur, g), cur)
        self.conv_out = nn.Conv2d(cur, cfg['outChannels'], 3, padding=1)

    def forward(self, x, t):
        temb = None
        if self.time_dim:
            e = timestep_embedding(t, self.time_dim).to(x.device)
            temb = self.time['fc2'](F.silu(self.time['fc1'](e)))
        h = self.conv_in(x)
        skips = [h]
        for level in self.down:
            for b in level['block']:
                h = b(h, temb)
                skips.append(h)
            if 'downsample' in level:
                h = level['downsample'].conv(h)
                skips.append(h)
        h = self.mid['block1'](h, temb)
        if 'attn' in self.mid:
            h = self.mid['attn'](h)
        h = self.mid['block2'](h, temb)
        for key in self.up_order:
            level = self.up[key]
            for b in level['block']:
                h = b(torch.cat([h, skips.pop()], dim=1), temb)
            if 'upsample' in level:
                h = level['upsample'].conv(F.interpolate(h, scale_factor=2, mode=self.upsample_mode))
        return self.conv_out(F.silu(self.norm_out(h)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--onnx', help='also export the checked network to this ONNX file (opset 17)')
    ap.add_argument('--serve', action='store_true', help='then time one forward or training step per stdin line')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    job = json.load(open(os.path.join(a.dir, 'config.json')))
    net = UNet(job['config'])
    weights = read_safetensors(os.path.join(a.dir, 'weights.safetensors'))
    missing = set(net.state_dict()) ^ set(weights)
    if missing:
        raise SystemExit(f'parameter names differ: {sorted(missing)[:8]}')
    net.load_state_dict(weights)
    dev = torch.device(a.device)
    net = net.to(dev).eval()
    x = torch.from_numpy(np.fromfile(os.path.join(a.dir, 'input.f32'), dtype='<f4').reshape(job['shape'])).to(dev)
    want = np.fromfile(os.path.join(a.dir, 'output.f32'), dtype='<f4')
    t = job['t']
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    with torch.no_grad():
        got = net(x, t).cpu().numpy().ravel()
        net(x, t)
        sync()
        ms = []
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            net(x, t)
            sync()
            ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    train = None
    train_step = None
    if 'train' in job:
        train, train_step = time_training(net, job['train'], a.dir, dev, sync, a.rounds)
        net.eval()
    if a.onnx:
        t_in = torch.tensor(t, dtype=torch.float32)

        class WithTime(nn.Module):  # ONNX takes tensors: the time embedding inside the graph
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x, t)

        torch.onnx.export(WithTime(net.cpu()), x.cpu(), a.onnx, opset_version=17, input_names=['x'], output_names=['y'])
        del t_in
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'cpu ({a.threads} threads)'
    print(json.dumps({'impl': f'pytorch {torch.__version__}', 'device': name, 'median_ms': ms[len(ms) // 2], 'min_ms': ms[0], 'max_ms': ms[-1], 'runs': len(ms),
                      'max_abs_diff': float(np.abs(got - want).max()), 'output_scale': float(np.abs(want).max()),
                      'parameters': sum(p.numel() for p in net.parameters()), 'train': train}), flush=True)
    if a.serve:
        net = net.to(dev).eval()  # the ONNX export moved it to the CPU
        serve(lambda: net(x, t), train_step, sync)


def serve(forward, train_step, sync):
    """One timed run per command line on stdin, until it closes."""
    for line in sys.stdin:
        cmd = line.strip()
        if cmd not in ('forward', 'train') or (cmd == 'train' and train_step is None):
            raise SystemExit(f'torch_unet.py --serve: unknown command {cmd!r} (expected forward or train)')
        t0 = time.perf_counter()
        if cmd == 'forward':
            with torch.no_grad():
                forward()
        else:
            train_step()
        sync()
        print('@peer ' + json.dumps({'ms': (time.perf_counter() - t0) * 1000}), flush=True)


def time_training(net, job, d, dev, sync, rounds):
    """Training steps on a copy of the weights: the first two losses (checked by the caller against ours), then timed steps; returns the timing and the step, which keeps training that copy."""
    import copy
    net = copy.deepcopy(net).train()
    x = torch.from_numpy(np.fromfile(os.path.join(d, 'train_input.f32'), dtype='<f4').reshape(job['shape'])).to(dev)
    y = torch.from_numpy(np.fromfile(os.path.join(d, 'train_target.f32'), dtype='<f4').reshape(job['shape_out'])).to(dev)
    t = job['t']
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(x, t), y)
        loss.backward()
        opt.step()
        return float(loss)

    losses = [step(), step()]
    sync()
    ms = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        step()
        sync()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {'median_ms': ms[len(ms) // 2], 'min_ms': ms[0], 'max_ms': ms[-1], 'runs': len(ms), 'losses': losses}, step


if __name__ == '__main__':
    main()
