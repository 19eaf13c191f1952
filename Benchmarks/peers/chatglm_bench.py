"""Times chatglm.cpp (its Python binding, chatglm-cpp 0.4.2) on a model file: one prefill of P random prompt ids,
then G greedy decode steps, as `glmcluster bench` and `llama-bench -d P -n G` time theirs. Prints one JSON object.

Through the binding's own step function, as chatglm_cpp.Pipeline._stream_generate_ids calls it:
`model.generate_next_token(ids, None, config, n_past, n_ctx)` runs the forward pass over ids[n_past:] (the whole
prompt for the prefill, one token per decode step, with the KV cache) and samples one token (greedy here:
do_sample False, no repetition penalty). Prefill time = the first call; decode = the mean of the next G calls.
Threads: chatglm.cpp picks them itself and the binding has no setting: set_default_num_threads (chatglm.cpp) takes
std::thread::hardware_concurrency() when it is at most 4, else half of it, for prefill and decode alike. That is the
number of online CPUs (glibc 2.36 get_nprocs), not the affinity mask: under `taskset -c 0` on a 2-CPU machine it
still starts 2 threads on the one CPU. So chatglm.cpp runs at T threads only where T = nproc (or 2 x T = nproc > 4);
"threads" below is what it starts, "cpus_allowed" the affinity mask.

A warm-up (a 16-token prefill and 2 decode steps) first touches the memory-mapped weights, as llama-bench's
warm-up run does.

usage: chatglm_bench.py MODEL.bin [--prompt-tokens 512] [--gen-tokens 64] [--seed 7]
"""
import argparse
import json
import os
import time

import numpy as np


def chatglm_threads():
    """The threads chatglm.cpp starts (get_num_physical_cores in chatglm.cpp)."""
    n = os.cpu_count() or 4
    return n if n <= 4 else n // 2


def run(model, config, ids, gen):
    """Prefill `ids`, then `gen` decode steps; (prefill seconds, [decode seconds], generated ids)."""
    ids = list(ids)
    n_ctx = len(ids)
    start = time.perf_counter()
    token = model.generate_next_token(ids, None, config, 0, n_ctx)
    prefill = time.perf_counter() - start
    steps, out = [], [token]
    for _ in range(gen):
        n_past = len(ids)
        ids.append(token)
        start = time.perf_counter()
        token = model.generate_next_token(ids, None, config, n_past, n_ctx)
        steps.append(time.perf_counter() - start)
        out.append(token)
    return prefill, steps, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    a = parser.parse_args()
    import chatglm_cpp

    load_start = time.perf_counter()
    pipeline = chatglm_cpp.Pipeline(a.model, max_length=a.prompt_tokens + a.gen_tokens + 8)
    load = time.perf_counter() - load_start
    model = pipeline.model
    config = chatglm_cpp._C.GenerationConfig(
        max_length=a.prompt_tokens + a.gen_tokens + 8, max_new_tokens=a.gen_tokens + 1,
        max_context_length=a.prompt_tokens, do_sample=False, top_k=0, top_p=1.0, temperature=1.0,
        repetition_penalty=1.0)
    rng = np.random.default_rng(a.seed)
    vocab = model.config.vocab_size
    run(model, config, rng.integers(0, vocab, 16).tolist(), 2)
    prompt = rng.integers(0, vocab, a.prompt_tokens).tolist()
    prefill, steps, out = run(model, config, prompt, a.gen_tokens)
    decode = sum(steps) / len(steps)
    print(json.dumps({
        "engine": "chatglm.cpp", "model": os.path.abspath(a.model), "prompt_tokens": a.prompt_tokens,
        "gen_tokens": a.gen_tokens, "threads": chatglm_threads(), "cpus_allowed": len(os.sched_getaffinity(0)),
        "load_seconds": load,
        "prefill_seconds": prefill, "prefill_tokens_per_second": a.prompt_tokens / prefill,
        "decode_ms_per_token": decode * 1e3, "decode_tokens_per_second": 1 / decode,
        "decode_ms_per_token_min_max": [min(steps) * 1e3, max(steps) * 1e3], "generated_ids_head": out[:8],
    }))


if __name__ == "__main__":
    main()
