"""Proxy overhead of ``ponder serve``: the same requests sent to an upstream directly and through the
proxy with strategy ``none`` (pass-through), at concurrency 1 and 32.

The upstream is a small fake OpenAI-compatible server (a bare ASGI app under uvicorn, in its own
process) that answers at once, or after ``--delay-ms`` to stand in for a model's generation time.
An instant upstream isolates the proxy's own cost best: every millisecond added is the proxy's.
Throughput ratio = proxied req/s ÷ direct req/s in the same round (median over the rounds, each
running the paths in a rotated order); added latency = proxied minus direct percentiles.
Client, proxy and upstream share this machine's cores, so with an instant upstream the ratio also
measures how much CPU the proxy takes from the upstream; with a realistic ``--delay-ms`` it
measures what a user would see. ``--upstream-model SPEC`` (e.g. ``embedded``) makes the upstream a
real model instead: ``ponder serve --model SPEC`` with strategy ``none``, asked greedy arithmetic
questions, so the proxy competes for the cores with real generation.

The ``floor`` rows send the same requests through the least a proxy can be: a bare ASGI app under
uvicorn that forwards the body over one aiohttp session and returns the answer's bytes (no parsing,
no checks). What it adds is what this machine charges any proxy (a second process to wake, two
more loopback hops); the proxied rows minus the floor rows are Ponder's own cost.

    python benchmarks/proxy_overhead.py [--requests 400] [--rounds 3] [--delay-ms 0] [--workers 1]
    python benchmarks/proxy_overhead.py --upstream-model embedded --requests 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from _args import positive_int, run  # noqa: E402  (benchmarks/_args.py)

BODY = {"model": "fake", "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "What is 6*7?"}], "max_tokens": 16}
# For a real upstream model: a question of the lab's arith task, answered greedily (the same work
# on both paths).
MODEL_BODY = {"model": "fake", "messages": [{"role": "user", "content": "Compute left to right: 396-353+209*2"}],
              "max_tokens": 96, "temperature": 0}


# -- the fake upstream (run as: proxy_overhead.py --upstream PORT DELAY_MS) -------------------------
async def lifespan(receive, send, on_shutdown=None) -> None:
    """The ASGI lifespan protocol for a bare app: start at once, close ``on_shutdown`` at the end."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    if on_shutdown is not None:
        await on_shutdown()
    await send({"type": "lifespan.shutdown.complete"})


async def read_body(receive) -> bytes:
    """The whole request body of an ASGI http request."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def upstream_app(delay: float):
    answer = json.dumps({
        "id": "up", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Answer: 42"}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        await read_body(receive)
        if delay:
            await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


# -- the floor: a bare forwarding proxy (run as: proxy_overhead.py --bare PORT UPSTREAM_URL) -------
def bare_proxy_app(upstream: str):
    state: dict = {}

    async def close() -> None:
        if "session" in state:
            await state["session"].close()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send, close)
        import aiohttp

        body = await read_body(receive)
        if "session" not in state:
            state["session"] = aiohttp.ClientSession()
        async with state["session"].post(upstream + scope["path"], data=body,
                                         headers={"content-type": "application/json"}) as resp:
            status, out = resp.status, await resp.read()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


# -- load -------------------------------------------------------------------------------------------
async def load(url: str, concurrency: int, requests: int, body: dict) -> tuple[float, list[float]]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(min(concurrency, 8)):  # warm the connections
            (await client.post(url, json=body)).raise_for_status()
        latencies: list[float] = []
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                t = time.perf_counter()
                r = await client.post(url, json=body)
                latencies.append(time.perf_counter() - t)
                r.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - start), latencies


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--upstream", "--bare"):
        import uvicorn

        app = upstream_app(float(sys.argv[3]) / 1000) if sys.argv[1] == "--upstream" else bare_proxy_app(sys.argv[3])
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=positive_int, default=400, help="requests per measurement")
    ap.add_argument("--rounds", type=positive_int, default=3, help="rounds, each running every path in a rotated order (median of the rounds' ratios)")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="upstream answer delay (0: instant)")
    ap.add_argument("--concurrency", type=positive_int, nargs="+", default=[1, 32])
    ap.add_argument("--workers", type=positive_int, default=1, help="proxy worker processes (ponder serve --workers)")
    ap.add_argument("--upstream-model", default=None, metavar="SPEC",
                    help="serve this model (ponder serve --model SPEC) as the upstream instead of the fake one")
    args = ap.parse_args()

    up_port, proxy_port, bare_port = free_port(), free_port(), free_port()
    if args.upstream_model:
        body = MODEL_BODY
        procs = [subprocess.Popen(
            [sys.executable, "-m", "ponder.server", "--model", args.upstream_model, "--port", str(up_port),
             "--served-model-name", "fake", "--default-strategy", "none", "--max-concurrency", "256",
             "--log-level", "warning", "--no-access-log"])]
        upstream = f"model {args.upstream_model} (greedy, up to {body['max_tokens']} tokens)"
    else:
        body = BODY
        procs = [subprocess.Popen([sys.executable, __file__, "--upstream", str(up_port), str(args.delay_ms)])]
        upstream = f"fake, delay {args.delay_ms:g} ms"
    try:
        wait(f"http://127.0.0.1:{up_port}/health" if args.upstream_model else f"http://127.0.0.1:{up_port}/",
             procs[0], timeout=300)
        spec = f"openai:fake@http://127.0.0.1:{up_port}/v1?concurrency=256"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "ponder.server", "--model", spec, "--port", str(proxy_port),
             "--default-strategy", "none", "--max-concurrency", "256", "--log-level", "warning", "--no-access-log",
             "--workers", str(args.workers)],
            env={**os.environ, "OPENAI_API_KEY": "unused"}))
        procs.append(subprocess.Popen([sys.executable, __file__, "--bare", str(bare_port), f"http://127.0.0.1:{up_port}"]))
        wait(f"http://127.0.0.1:{proxy_port}/health", procs[1])
        wait(f"http://127.0.0.1:{bare_port}/health", procs[2])
        targets = {"direct": f"http://127.0.0.1:{up_port}/v1/chat/completions",
                   "proxied": f"http://127.0.0.1:{proxy_port}/v1/chat/completions",
                   "floor": f"http://127.0.0.1:{bare_port}/v1/chat/completions"}
        print(f"upstream {upstream}, {args.requests} requests x {args.rounds} rounds, "
              f"{args.workers} proxy worker(s), {os.cpu_count()} CPU cores shared by client, proxy and upstream")
        print(f"{'conc':>4} {'path':>7} {'rps':>8} {'ratio':>6} {'(range)':>13} {'p50':>9} {'added p50':>9} "
              f"{'p99':>9} {'added p99':>9}")
        names = list(targets)
        for conc in args.concurrency:
            rps: dict[str, list[float]] = {name: [] for name in targets}
            lat: dict[str, list[float]] = {name: [] for name in targets}
            for k in range(args.rounds):
                # each round runs the three paths in a rotated order, so that an upstream whose speed
                # drifts (a GPU's clocks, a busy core) slows each path in turn, not one of them
                for name in names[k % len(names):] + names[:k % len(names)]:
                    r, l = asyncio.run(load(targets[name], conc, args.requests, body))
                    rps[name].append(r)
                    lat[name].extend(l)
            d50, d99 = pct(lat["direct"], 0.5) * 1e3, pct(lat["direct"], 0.99) * 1e3
            for name in targets:
                # the ratio is the median of the rounds' own ratios (each path against direct in
                # the same round); the range shows how far single rounds spread
                ratios = [r / d for r, d in zip(rps[name], rps["direct"])]
                p50, p99 = pct(lat[name], 0.5) * 1e3, pct(lat[name], 0.99) * 1e3
                spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
                print(f"{conc:>4} {name:>7} {statistics.median(rps[name]):>8.1f} {statistics.median(ratios):>6.3f} "
                      f"{spread:>13} {p50:>7.2f}ms {p50 - d50:>7.2f}ms {p99:>7.2f}ms {p99 - d99:>7.2f}ms")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    run(main)
