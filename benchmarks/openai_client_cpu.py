"""CPU time of one chat call through the openai SDK, the way the OpenAI backend can make it.

    python benchmarks/openai_client_cpu.py [--calls 1000] [--delay-ms 5]

Against the fake upstream of ``proxy_overhead.py`` (its own process), this process makes the same
chat call with ``chat.completions.create``, with the SDK's generic ``post`` into its response model
(``post``) and with ``post`` returning the decoded JSON (``json``, the backend's non-streamed path),
over the SDK's default httpx client and its aiohttp transport, and without the SDK (``direct``: the
backend's ``http=direct`` poster, plain JSON over one aiohttp session, what ``ponder serve`` uses),
one call at a time and 32 at once, and prints this process's CPU milliseconds per call (what a
proxy spends).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proxy_overhead import BODY, free_port, wait  # noqa: E402


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

    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(call() for _ in range(concurrency)))  # connections and imports warm
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.process_time() - cpu
    await client.close()
    if poster is not None:
        await poster.close()
    return spent / calls * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--delay-ms", type=float, default=5.0, help="upstream answer delay")
    args = ap.parse_args()
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
    main()
