"""CPU time of one chat call through the openai SDK, the way the OpenAI backend can make it.

    python benchmarks/openai_client_cpu.py [--calls 1000] [--delay-ms 5]

Against the fake upstream of ``proxy_overhead.py`` (its own process), this process makes the same
chat call with ``chat.completions.create``, with the SDK's generic ``post`` into its response model
(``post``) and with ``post`` returning the decoded JSON (``json``, the backend's non-streamed path),
over the SDK's default httpx client and its aiohttp transport, and without the SDK (``direct``: the
backend's ``http=direct`` poster, plain JSON over one aiohttp session, what ``ponder serve`` uses),
one call at a time and 32 at once, and prints this process's CPU milliseconds per call (what a
proxy spends).

    python benchmarks/openai_client_cpu.py --stream [--calls 200] [--chunks 200]

``--stream``: streamed calls through Ponder's OpenAI backend against an upstream that sends
``--chunks`` server-sent events per call, read through the SDK (on httpx or aiohttp) or straight off
the connection (``http=direct``); prints CPU microseconds per streamed chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_overhead import BODY, free_port, lifespan, read_body, wait  # noqa: E402
from _args import positive_int, run  # noqa: E402  (benchmarks/_args.py)


async def cpu_seconds(call, concurrency: int, calls: int) -> float:
    """This process's CPU time for ``calls`` calls, ``concurrency`` at a time (after a warm-up)."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(call() for _ in range(concurrency)))  # connections and imports warm
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.process_time() - cpu


async def measure(url: str, transport: str, method: str, concurrency: int, calls: int) -> float:
    import openai
    from openai.types.chat import ChatCompletion

    from ponder.backends.openai_direct import DirectPoster

    http = {"http_client": openai.DefaultAioHttpClient()} if transport == "aiohttp" else {}
    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, **http)
    poster = DirectPoster(url, "unused", 60, "bench") if method == "direct" else None
    body = {**BODY, "temperature": 1.0}

    async def call() -> None:
        if poster is not None:
            await poster.post("/chat/completions", body)
        elif method == "create":
            await client.chat.completions.create(**body)
        else:
            await client.post("/chat/completions", body=body, cast_to=ChatCompletion if method == "post" else object)

    spent = await cpu_seconds(call, concurrency, calls)
    await client.close()
    if poster is not None:
        await poster.close()
    return spent / calls * 1e3


def sse_upstream(port: int, chunks: int) -> None:
    """An upstream whose every answer is ``chunks`` content deltas, usage, then [DONE]."""
    import uvicorn

    base = {"id": "up", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
    events = [{**base, "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]}
              for i in range(chunks)]
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": chunks,
                                                     "total_tokens": chunks + 5}})
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    pieces = [body[i:i + 512] for i in range(0, len(body), 512)]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def measure_stream(url: str, http: str, concurrency: int, calls: int, chunks: int) -> float:
    from ponder import Engine, GenerationRequest
    from ponder.backends import load_backend

    backend = load_backend(f"openai:fake@{url}?http={http}&concurrency=64", cache=False)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=chunks + 10)

    async def call() -> None:
        got: list[str] = []
        engine = Engine(backend, on_token=got.append)
        await engine.generate(request)
        await asyncio.sleep(0)
        assert len(got) == chunks, len(got)

    spent = await cpu_seconds(call, concurrency, calls)
    await backend.aclose()
    return spent / (calls * chunks) * 1e6


def main_stream(args: argparse.Namespace) -> None:
    port = free_port()
    up = subprocess.Popen([sys.executable, __file__, "--sse-upstream", str(port), str(args.chunks)])
    try:
        wait(f"http://127.0.0.1:{port}/", up)
        url = f"http://127.0.0.1:{port}/v1"
        print(f"CPU us per streamed chunk ({args.calls} calls of {args.chunks} chunks)")
        print(f"{'http':>8} {'1 at a time':>11} {'32 at once':>10}")
        for http in ("httpx", "aiohttp", "direct"):
            one = asyncio.run(measure_stream(url, http, 1, max(1, args.calls // 4), args.chunks))
            many = asyncio.run(measure_stream(url, http, 32, args.calls, args.chunks))
            print(f"{http:>8} {one:>11.1f} {many:>10.1f}")
    finally:
        up.terminate()
        up.wait(10)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--sse-upstream":
        sse_upstream(int(sys.argv[2]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=positive_int, default=None, help="calls per measurement (1000; 200 with --stream)")
    ap.add_argument("--delay-ms", type=float, default=5.0, help="upstream answer delay")
    ap.add_argument("--stream", action="store_true", help="streamed calls: CPU per chunk")
    ap.add_argument("--chunks", type=positive_int, default=200, help="chunks per streamed answer")
    args = ap.parse_args()
    if args.stream:
        args.calls = args.calls or 200
        main_stream(args)
        return
    args.calls = args.calls or 1000
    port = free_port()
    up = subprocess.Popen([sys.executable, str(Path(__file__).with_name("proxy_overhead.py")), "--upstream",
                           str(port), str(args.delay_ms)])
    try:
        wait(f"http://127.0.0.1:{port}/", up)
        url = f"http://127.0.0.1:{port}/v1"
        print(f"CPU ms per call ({args.calls} calls, upstream delay {args.delay_ms:g} ms)")
        print(f"{'transport':>9} {'method':>6} {'1 at a time':>11} {'32 at once':>10}")
        for transport, methods in (("httpx", ("create", "post", "json")), ("aiohttp", ("create", "post", "json", "direct"))):
            for method in methods:
                one = asyncio.run(measure(url, transport, method, 1, args.calls // 4))
                many = asyncio.run(measure(url, transport, method, 32, args.calls))
                print(f"{transport:>9} {method:>6} {one:>11.3f} {many:>10.3f}")
    finally:
        up.terminate()
        up.wait(10)


if __name__ == "__main__":
    run(main)
