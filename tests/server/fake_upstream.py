"""A real OpenAI-compatible HTTP server for the proxy tests (run as a subprocess).

Usage: python fake_upstream.py PORT EXPECTED_KEY. Answers chat completions (streamed or not) with
usage that reports cached and reasoning tokens. A message containing LEAK_401 or LEAK_500 gets an
error whose message echoes the API key it was sent, as some hosted APIs do; /seen says which
Authorization headers arrived (so a test can check that the proxy did send the key upstream).
"""

import json
import sys
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()
EXPECTED = sys.argv[2] if len(sys.argv) > 2 else ""
state = {"auth": []}


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.get("/seen")
def seen() -> dict:
    return state


@app.post("/v1/chat/completions")
async def chat(request: Request):
    body = await request.json()
    auth = request.headers.get("authorization", "")
    state["auth"].append(auth)
    text = json.dumps(body.get("messages"))
    key = auth.removeprefix("Bearer ")
    if "LEAK_401" in text:
        return JSONResponse({"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}, status_code=401)
    if "LEAK_500" in text:
        return JSONResponse({"error": {"message": f"internal failure for key {key}", "type": "server_error"}},
                            status_code=500)
    n = body.get("n", 1)
    usage = {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n,
             "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 4 * n}}
    base = {"id": "up", "created": int(time.time()), "model": body["model"]}
    if body.get("stream"):
        def events():
            pieces = [{"reasoning_content": "6*7"}, {"reasoning_content": "=42"}, {"content": "Answer: "},
                      {"content": "42"}]
            for p in pieces:
                yield "data: " + json.dumps({**base, "object": "chat.completion.chunk",
                                             "choices": [{"index": 0, "delta": p, "finish_reason": None}]}) + "\n\n"
            yield "data: " + json.dumps({**base, "object": "chat.completion.chunk",
                                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
            if (body.get("stream_options") or {}).get("include_usage"):
                yield "data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [],
                                             "usage": {**usage, "completion_tokens": 7, "total_tokens": 18,
                                                       "completion_tokens_details": {"reasoning_tokens": 4}}}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    choices = [{"index": i, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Answer: 42", "reasoning_content": "6*7=42"}}
               for i in range(n)]
    return JSONResponse({**base, "object": "chat.completion", "choices": choices, "usage": usage})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
