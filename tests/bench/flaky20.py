"""An OpenAI-compatible upstream that fails a share of chat calls (at random) (run as a subprocess).

Usage: python flaky20.py PORT RATE SEED — each chat request fails with probability RATE, in one of three
ways taken in turn: a 503, a hang far beyond any client timeout, or a 200 whose body is malformed JSON.
Other requests answer "Answer: 42" with n choices and reported usage. GET /calls gives the counts.
"""

import asyncio
import random
import sys
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

app = FastAPI()
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
state = {"calls": 0, "503": 0, "hang": 0, "malformed": 0}


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.post("/v1/chat/completions")
async def chat(request: Request) -> Response:
    body = await request.json()
    state["calls"] += 1
    if rng.random() < rate:
        kind = ("503", "hang", "malformed")[sum(state[k] for k in ("503", "hang", "malformed")) % 3]
        state[kind] += 1
        if kind == "503":
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
        if kind == "hang":
            await asyncio.sleep(30)
        return Response('{"id": "x", "choices": [', media_type="application/json")
    n = body.get("n", 1)
    choices = [{"index": i, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "6*7=42. Answer: 42"}} for i in range(n)]
    return JSONResponse({
        "id": "x", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": choices,
        "usage": {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n},
    })


@app.get("/calls")
def calls() -> dict:
    return state


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
