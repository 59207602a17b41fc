"""Stream more logits than fit in memory through logitkit.dask.cross_entropy on a LocalCluster.

The logits of an evaluation run (tokens x vocabulary) are produced chunk by chunk, either
generated on the workers (the default: no file, any size) or read from a memory-mapped .npy
file, and reduced to the mean per-token cross-entropy without ever being held in memory at once.
Reports the throughput (GB/s of logits, tokens/s) and each worker's peak resident memory.

    python examples/dask_stream.py                          # 24 GiB of float32 logits
    python examples/dask_stream.py --tokens 65536 --vocab 128000 --chunk-tokens 256
    python examples/dask_stream.py --npy /data/logits.npy --targets /data/targets.npy
    python examples/dask_stream.py --write-npy /tmp/logits.npy --tokens 16384   # make a file

With --npy, logits.npy is a (tokens, vocab) float array and targets.npy the (tokens,) integer
class indices; each task maps its own rows of the file, so the file can exceed memory too.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def generated_block(block_info=None, *, seed, vocab, kind, scale):
    """One chunk of logits: uniform in [-scale/2, scale/2), from a seed per chunk (the same
    numbers whichever worker makes them)."""
    (start, stop), _ = block_info[None]["array-location"]
    rng = np.random.default_rng([seed, start])
    out = rng.random((stop - start, vocab), dtype=np.dtype(kind))
    out -= 0.5
    out *= scale
    return out


def generated_targets(block_info=None, *, seed, vocab):
    (start, stop), = block_info[None]["array-location"]
    return np.random.default_rng([seed, start, 1]).integers(0, vocab, size=stop - start)


def npy_block(block_info=None, *, path):
    """The rows of one chunk, read from a memory-mapped .npy file."""
    (start, stop), _ = block_info[None]["array-location"]
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def npy_targets(block_info=None, *, path):
    (start, stop), = block_info[None]["array-location"]
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def in_memory_cross_entropy(x, t, smoothing):
    import logitkit
    if hasattr(logitkit, "cross_entropy"):
        return logitkit.cross_entropy(x, t, label_smoothing=smoothing)
    logp = logitkit.log_softmax(x).astype(np.float64)
    nll = -np.take_along_axis(logp, t[:, None], axis=1)[:, 0]
    return np.mean((1 - smoothing) * nll - smoothing * logp.mean(axis=1))


def cpu_seconds() -> float:
    """CPU time this process has used (user + system): unlike wall time, it does not grow when
    other programs share the machine's cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=196_608)
    parser.add_argument("--vocab", type=int, default=32_768)
    parser.add_argument("--chunk-tokens", type=int, default=512)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--memory-limit", default="2GiB", help="per worker")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--npy", help="read the logits from this (tokens, vocab) .npy file")
    parser.add_argument("--targets", help="with --npy: the (tokens,) integer targets .npy")
    parser.add_argument("--write-npy", metavar="PATH",
                        help="write generated logits to PATH (and PATH's targets beside it), exit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", action="store_true",
                        help="also time producing the logits alone (reduced by a plain sum)")
    args = parser.parse_args()

    import dask.array as da
    from distributed import Client, LocalCluster

    import logitkit
    import logitkit.dask as lkd

    if args.write_npy:
        write_npy(args)
        return

    if args.npy:
        shape = np.load(args.npy, mmap_mode="r").shape
        dtype = np.load(args.npy, mmap_mode="r").dtype
        tokens, vocab = shape
        chunks = ((args.chunk_tokens,) * (tokens // args.chunk_tokens)
                  + ((tokens % args.chunk_tokens,) if tokens % args.chunk_tokens else ()),)
        logits = da.map_blocks(npy_block, path=args.npy, chunks=chunks + ((vocab,),),
                               dtype=dtype, meta=np.empty((0, 0), dtype))
        targets = da.map_blocks(npy_targets, path=args.targets, chunks=chunks, dtype=np.int64,
                                meta=np.empty((0,), np.int64))
        source = f"memory-mapped {args.npy}"
    else:
        tokens, vocab, dtype = args.tokens, args.vocab, np.dtype(args.dtype)
        chunks = (da.core.normalize_chunks(args.chunk_tokens, (tokens,))[0],)
        logits = da.map_blocks(generated_block, seed=args.seed, vocab=vocab, kind=dtype.name,
                               scale=16.0, dtype=dtype, chunks=chunks + ((vocab,),),
                               meta=np.empty((0, 0), dtype))
        targets = da.map_blocks(generated_targets, seed=args.seed, vocab=vocab, chunks=chunks,
                                dtype=np.int64, meta=np.empty((0,), np.int64))
        source = "generated on the workers, chunk by chunk"

    nbytes = logits.nbytes
    loss = lkd.cross_entropy(logits, targets, label_smoothing=args.label_smoothing)
    in_block = ("logitkit.cross_entropy" if hasattr(logitkit, "cross_entropy")
                else "logitkit.log_softmax (logitkit.cross_entropy not in this build)")
    print(f"logits: {tokens:,} tokens x {vocab:,} classes, {np.dtype(dtype).name}, "
          f"{nbytes / 2**30:.1f} GiB, {source}")
    print(f"chunks: {args.chunk_tokens} tokens ({args.chunk_tokens * vocab * np.dtype(dtype).itemsize / 2**20:.0f} MiB), "
          f"{logits.numblocks[0]} tasks; kernel per block: {in_block}")

    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True,
                      host="127.0.0.1", dashboard_address=":0",
                      memory_limit=args.memory_limit) as cluster, Client(cluster) as client:
        import psutil
        total_ram = psutil.virtual_memory().total
        print(f"cluster: {args.workers} worker processes x {args.threads} thread(s), "
              f"memory limit {args.memory_limit} each; machine RAM {total_ram / 2**30:.1f} GiB "
              f"(the logits are {nbytes / total_ram:.2f}x that)")
        start_rss = client.run(peak_rss_mib)

        # a small check first: one chunk against the in-memory function, on the client
        x0, t0 = logits[:args.chunk_tokens].compute(), targets[:args.chunk_tokens].compute()
        want = in_memory_cross_entropy(x0, t0, args.label_smoothing)
        got = client.compute(lkd.cross_entropy(logits[:args.chunk_tokens],
                                               targets[:args.chunk_tokens],
                                               label_smoothing=args.label_smoothing)).result()
        want = np.asarray(want, got.dtype)
        assert abs(got - want) <= 4 * np.spacing(abs(want)), (got, want)

        cpu0 = client.run(cpu_seconds)
        t = time.perf_counter()
        value = client.compute(loss).result()
        elapsed = time.perf_counter() - t
        cpu = sum(client.run(cpu_seconds).values()) - sum(cpu0.values())
        peaks = client.run(peak_rss_mib)
        if args.baseline:
            cpu0 = client.run(cpu_seconds)
            t = time.perf_counter()
            client.compute(logits.sum(dtype=np.float64)).result()
            base = time.perf_counter() - t
            base_cpu = sum(client.run(cpu_seconds).values()) - sum(cpu0.values())

    print(f"mean cross-entropy: {float(value):.7g} (checked on the first chunk against the "
          f"in-memory result: within 4 ULP)")
    print(f"time: {elapsed:.1f} s   throughput: {nbytes / elapsed / 1e9:.2f} GB/s of logits, "
          f"{tokens / elapsed:,.0f} tokens/s   ({nbytes / elapsed / 1e9 / args.workers:.2f} "
          f"GB/s per worker, generation or reading included)")
    print(f"worker CPU time: {cpu:.1f} s, {nbytes / cpu / 1e9:.2f} GB per CPU-second "
          f"({tokens / cpu:,.0f} tokens per CPU-second)")
    if args.baseline:
        print(f"baseline, producing the logits and summing them: {base:.1f} s wall "
              f"({nbytes / base / 1e9:.2f} GB/s), {base_cpu:.1f} s worker CPU; the "
              f"cross-entropy's own share: {max(cpu - base_cpu, 0.0):.1f} CPU-s, "
              f"{nbytes / max(cpu - base_cpu, 1e-9) / 1e9:.2f} GB per CPU-second")
    for address, peak in sorted(peaks.items()):
        print(f"peak RSS {address}: {peak:,.0f} MiB (at start {start_rss[address]:,.0f} MiB)")


def write_npy(args: argparse.Namespace) -> None:
    """Write generated logits (and targets beside them) chunk by chunk into .npy files."""
    dtype = np.dtype(args.dtype)
    shape = (args.tokens, args.vocab)
    out = np.lib.format.open_memmap(args.write_npy, mode="w+", dtype=dtype, shape=shape)
    targets = np.empty(args.tokens, np.int64)
    for start in range(0, args.tokens, args.chunk_tokens):
        stop = min(start + args.chunk_tokens, args.tokens)
        info = {None: {"array-location": [(start, stop), (0, args.vocab)]}}
        out[start:stop] = generated_block(info, seed=args.seed, vocab=args.vocab,
                                          kind=dtype.name, scale=16.0)
        targets[start:stop] = generated_targets({None: {"array-location": [(start, stop)]}},
                                                seed=args.seed, vocab=args.vocab)
    out.flush()
    del out
    path = args.write_npy[:-4] if args.write_npy.endswith(".npy") else args.write_npy
    np.save(path + ".targets.npy", targets)
    print(f"wrote {args.write_npy} ({np.prod(shape) * dtype.itemsize / 2**30:.1f} GiB) and "
          f"{path}.targets.npy")


if __name__ == "__main__":
    main()
