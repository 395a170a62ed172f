"""A real OpenAI-compatible HTTP server that fails on purpose (run as a subprocess).

Usage: python flaky_upstream.py PORT FAILURES — the first FAILURES chat requests get 503, later ones
a valid chat completion whose usage reports cached and reasoning tokens (streamed when asked).
The thinking text is in ``reasoning_content``; for the model ``reasoning-field`` it is in ``reasoning``,
the name newer vLLM versions use. Asked for ``logprobs``, choice i answers ``4i`` with the token
log-probabilities ``LOGPROBS[i]`` (none for the model ``no-logprobs``, as a server that ignores them).
The model ``slow`` streams 100 tokens ``"1 "``, one every 50 ms, usage in the last event; it
counts the streams a client left before their end (``/calls``: ``left``).
"""

import asyncio
import json
import sys
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()
LOGPROBS = [[-1.0, -1.2], [-0.1, -0.3], [-0.5, -0.5], [-2.0, -0.1]]
state = {"failures_left": int(sys.argv[2]) if len(sys.argv) > 2 else 0, "calls": 0, "left": 0}


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.post("/v1/chat/completions")
async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    state["calls"] += 1
    if state["failures_left"] > 0:
        state["failures_left"] -= 1
        return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
    n = body.get("n", 1)
    field = "reasoning" if body["model"] == "reasoning-field" else "reasoning_content"
    if body.get("stream") and body["model"] == "slow":
        return StreamingResponse(slow_events(body), media_type="text/event-stream")
    if body.get("stream"):  # the same answer as server-sent events, usage in the last one
        base = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": body["model"]}
        deltas = [{field: "6*7"}, {field: "=42"}, {"content": "Answer: 42"}]

        def events():
            for d in deltas:
                yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': d, 'finish_reason': None}]})}\n\n"
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
            usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    choices = [{"index": i, "finish_reason": "stop",
                "message": {"role": "assistant", "content": f"Answer: {40 + 2}",
                            field: "6*7=42"}} for i in range(n)]
    if body.get("logprobs"):
        for i, ch in enumerate(choices):
            ch["message"]["content"] = f"Answer: {4 * i}"
            if body["model"] != "no-logprobs":
                ch["logprobs"] = {"content": [{"token": "x", "logprob": lp, "bytes": None, "top_logprobs": []}
                                              for lp in LOGPROBS[i % len(LOGPROBS)]]}
    return JSONResponse({
        "id": "x", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": choices,
        "usage": {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n,
                  "prompt_tokens_details": {"cached_tokens": 8},
                  "completion_tokens_details": {"reasoning_tokens": 4 * n}},
    })


async def slow_events(body: dict):
    base = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": body["model"]}
    sent = 0
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            choice = {"index": 0, "delta": {"content": "1 "}, "finish_reason": None}
            yield f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"
            sent += 1
        yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'length'}]})}\n\n"
        usage = {"prompt_tokens": 11, "completion_tokens": sent, "total_tokens": 11 + sent}
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n"
    finally:
        if sent < 100:
            state["left"] += 1


@app.get("/calls")
def calls() -> dict:
    return state


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
