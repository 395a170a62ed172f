"""A real OpenAI-compatible HTTP server with the quirks of real ones, set per test (run as a
subprocess: ``python quirky_upstream.py PORT``).

``POST /_cfg`` merges settings into the current ones, ``POST /_reset`` restores the defaults and
empties the log, ``GET /_log`` lists the requests received (path, body, arrival time). The API is
served under any base path (``/v1``, ``/proxy4000/v1``). Settings:

* ``n``: ``honor`` | ``ignore`` (one choice whatever n is) | ``reverse`` (choices listed last
  first) | ``refuse`` (a 400 with ``refusal`` as its message when n > 1)
* ``errors``: answers given instead, one per request: ``{"status", "body", "ctype", "headers"}``
* ``delay``: seconds before answering; ``chunk_delay``: seconds between streamed pieces, for the
  seeds in ``slow_seeds`` only where that is set
* ``answer``, ``thought``; ``reasoning``: ``none`` | ``split`` (``reasoning_content``) |
  ``r1_parser`` (vLLM's deepseek_r1 parser: output without ``</think>`` is all reasoning) |
  ``parts`` (Mistral's typed content parts)
* ``finish``: ``stop`` | ``null``; ``hit_stop``: the first stop string ended the choice
* ``usage``: ``normal`` | ``deepseek`` (``prompt_cache_hit_tokens``) | ``omit`` | ``zeros`` (every
  count 0, as a server that counts nothing); ``prompt_tokens``, ``completion_tokens`` (per choice),
  ``cached_tokens``
* streams: ``truncate_after`` (pieces sent before the response ends, with no finish, usage or
  [DONE]), ``bad_event_at`` (a malformed event before that piece, once), ``one_chunk`` (the whole
  text in one event), ``drop`` (the connection breaks, the response unfinished: after that many
  pieces, or with ``finish`` after every choice's finish, before the usage and [DONE]; a body
  not streamed breaks in its middle)
* ``o_series``: refuses ``max_tokens`` and a temperature other than 1, as OpenAI's reasoning models
* ``unexpected``: fields answered with a 422 "Unexpected fields", as ``transformers serve`` does
"""

import asyncio
import json
import sys
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

DEFAULT = dict(n="honor", refusal="'n' : number must be at most 1", errors=[], delay=0.0, chunk_delay=0.0,
               slow_seeds=None, answer="The sum is 5.\nAnswer: 5", thought="Add 2 and 3.", reasoning="none",
               finish="stop", hit_stop=False, usage="normal", prompt_tokens=17, completion_tokens=11,
               cached_tokens=9, truncate_after=None, bad_event_at=None, one_chunk=False, drop=None,
               o_series=False, unexpected=[])
CFG = json.loads(json.dumps(DEFAULT))
LOG = []
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"ok": True}


@app.post("/_cfg")
async def cfg(request: Request) -> dict:
    CFG.update(await request.json())
    return CFG


@app.post("/_reset")
def reset() -> dict:
    CFG.clear()
    CFG.update(json.loads(json.dumps(DEFAULT)))
    LOG.clear()
    return CFG


@app.get("/_log")
def log() -> list:
    return LOG


def refused(body: dict):
    """The answer of a request this server does not take, else None."""
    if CFG["errors"]:
        e = CFG["errors"].pop(0)
        return Response(content=e.get("body", ""), status_code=e["status"], headers=e.get("headers", {}),
                        media_type=e.get("ctype", "application/json"))
    unexpected = sorted(set(CFG["unexpected"]) & set(body))
    if unexpected:
        return JSONResponse({"detail": f"Unexpected fields in the request: {set(unexpected)}"}, status_code=422)
    if CFG["n"] == "refuse" and (body.get("n") or 1) > 1:
        return JSONResponse({"error": {"message": CFG["refusal"], "type": "invalid_request_error"}}, status_code=400)
    if CFG["o_series"]:
        if "max_tokens" in body:
            return JSONResponse({"error": {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                           "'max_completion_tokens' instead.", "type": "invalid_request_error",
                "param": "max_tokens", "code": "unsupported_parameter"}}, status_code=400)
        if body.get("temperature") not in (None, 1):
            return JSONResponse({"error": {
                "message": f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
                           "model. Only the default (1) value is supported.", "type": "invalid_request_error",
                "param": "temperature", "code": "unsupported_value"}}, status_code=400)
    return None


def indices(body: dict) -> list[int]:
    n = body.get("n") or 1
    if CFG["n"] == "ignore":
        return [0]
    return list(range(n))[::-1] if CFG["n"] == "reverse" else list(range(n))


def limit(body: dict) -> int:
    return min(CFG["completion_tokens"], body.get("max_tokens") or body.get("max_completion_tokens") or 10**9)


def finish(body: dict):
    if CFG["finish"] == "null":
        return None
    return "length" if limit(body) < CFG["completion_tokens"] else "stop"


def usage(body: dict, k: int):
    if CFG["usage"] == "omit":
        return None
    if CFG["usage"] == "zeros":
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    u = {"prompt_tokens": CFG["prompt_tokens"], "completion_tokens": limit(body) * k,
         "total_tokens": CFG["prompt_tokens"] + limit(body) * k}
    if CFG["usage"] == "deepseek":
        u.update(prompt_cache_hit_tokens=CFG["cached_tokens"], prompt_cache_miss_tokens=CFG["prompt_tokens"] - 9)
    return u


def message(i: int) -> dict:
    answer = CFG["answer"] + ("" if i == 0 else f" #{i}")
    kind = CFG["reasoning"]
    if kind == "split":
        return {"role": "assistant", "content": answer, "reasoning_content": CFG["thought"]}
    if kind == "r1_parser":
        if "</think>" not in answer:
            return {"role": "assistant", "content": None, "reasoning_content": answer}
        thought, rest = answer.split("</think>", 1)
        return {"role": "assistant", "content": rest, "reasoning_content": thought}
    if kind == "parts":
        return {"role": "assistant", "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": CFG["thought"]}]},
            {"type": "text", "text": answer}]}
    return {"role": "assistant", "content": answer}


def closing(body: dict, i: int) -> dict:
    said = (body.get("stop") or [None])[0] if CFG["hit_stop"] else None
    return {"index": i, "finish_reason": "stop" if said else finish(body), "stop_reason": said}


async def received(base: str, endpoint: str, request: Request):
    """The request's body, logged, and the refusal the configuration gives it (or None)."""
    body = await request.json()
    LOG.append({"t": time.time(), "path": f"/{base}/{endpoint}", "body": body})
    return body, refused(body)


@app.post("/{base:path}/chat/completions")
async def chat(base: str, request: Request):
    body, no = await received(base, "chat/completions", request)
    if no is not None:
        return no
    if CFG["delay"]:
        await asyncio.sleep(CFG["delay"])
    if body.get("stream"):
        return StreamingResponse(chat_events(body), media_type="text/event-stream")
    choices = [{**closing(body, i), "message": message(i), "logprobs": None} for i in indices(body)]
    out = {"id": "q", "object": "chat.completion", "created": 0, "model": body.get("model"), "choices": choices}
    if usage(body, len(choices)) is not None:
        out["usage"] = usage(body, len(choices))
    if CFG["drop"] is not None:
        return StreamingResponse(broken(json.dumps(out)[:40]), media_type="application/json")
    return JSONResponse(out)


class Dropped(Exception):
    """Raised in a response's body: the server closes the connection with the response unfinished."""


async def broken(start: str):
    yield start
    raise Dropped("the connection breaks here")


def words(text: str) -> list[str]:
    return [w + " " for w in text.split(" ")[:-1]] + [text.split(" ")[-1]]


async def chat_events(body: dict):
    base = {"id": "q", "object": "chat.completion.chunk", "created": 0, "model": body.get("model")}
    for i in indices(body):
        m = message(i)
        pieces = [{"reasoning_content": w} for w in words(m.get("reasoning_content") or "") if w]
        if isinstance(m["content"], list):  # typed parts, a part an event
            pieces += [{"content": [part]} for part in m["content"]]
        else:
            pieces += [{"content": w} for w in words(m["content"] or "") if w]
        if CFG["one_chunk"]:
            pieces = [{"content": m["content"]}]
        if CFG["truncate_after"] is not None:
            pieces = pieces[:CFG["truncate_after"]]
        for k, piece in enumerate(pieces):
            if CFG["drop"] == k:
                raise Dropped("the connection breaks here")
            if CFG["bad_event_at"] == k:
                CFG["bad_event_at"] = None
                yield 'data: {"id": "q", "choices": [{"index": 0, "delta": {"content": "oops"\n\n'
            yield f"data: {json.dumps({**base, 'choices': [{'index': i, 'delta': piece, 'finish_reason': None}]})}\n\n"
            if CFG["chunk_delay"] and (CFG["slow_seeds"] is None or body.get("seed") in CFG["slow_seeds"]):
                await asyncio.sleep(CFG["chunk_delay"])
        if CFG["truncate_after"] is not None:
            return  # the response ends here: no finish, no usage, no [DONE]
        yield f"data: {json.dumps({**base, 'choices': [{**closing(body, i), 'delta': {}}]})}\n\n"
    if CFG["drop"] == "finish":
        raise Dropped("the connection breaks here")
    said = usage(body, len(indices(body)))
    if said is not None:
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': said})}\n\n"
    yield "data: [DONE]\n\n"


@app.post("/{base:path}/completions")
async def completions(base: str, request: Request):
    body, no = await received(base, "completions", request)
    if no is not None:
        return no
    choices = [{**closing(body, i), "text": CFG["answer"], "logprobs": None} for i in indices(body)]
    if body.get("stream"):
        async def events():
            for ch in choices:
                yield f"data: {json.dumps({'id': 'q', 'object': 'text_completion', 'choices': [ch]})}\n\n"
            yield f"data: {json.dumps({'id': 'q', 'choices': [], 'usage': usage(body, len(choices))})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    return JSONResponse({"id": "q", "object": "text_completion", "created": 0, "model": body.get("model"),
                         "choices": choices, "usage": usage(body, len(choices))})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
