"""Server-sent events for ``stream: true``: ``chat.completion.chunk`` events (``text_completion``
ones for ``/v1/completions``) as the strategy works, ending with ``data: [DONE]``. Single-sample
strategies stream their tokens; multi-sample ones stream their progress as ``reasoning_content``
and then the chosen answer. A client that leaves cancels the work; an error after the first byte
becomes an OpenAI error event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("ponder.server")
FIELD = {"reasoning": "reasoning_content", "content": "content"}
END = object()


def sse(data: Any) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"


class ChunkWriter:
    """Formats the chunks of one completion: a chat completion's, or with ``text`` a text
    completion's (``/v1/completions``: the text of each piece in ``text``, no role, no reasoning)."""

    def __init__(self, cid: str, created: int, model: str, include_usage: bool, text: bool = False) -> None:
        self.base = {"id": cid, "object": "text_completion" if text else "chat.completion.chunk",
                     "created": created, "model": model, "system_fingerprint": None}
        self.include_usage = include_usage
        self.text = text

    def opening(self, choices: int) -> bytes | None:
        if self.text:
            return None
        return self.chunk([self.delta(i, {"role": "assistant", "content": ""}) for i in range(choices)])

    def piece(self, index: int, kind: str, text: str) -> dict[str, Any] | None:
        if self.text:  # a text completion has no reasoning field
            return {"index": index, "text": text, "logprobs": None, "finish_reason": None} if kind == "content" \
                else None
        return self.delta(index, {FIELD[kind]: text})

    def closing(self, index: int, fields: dict[str, Any]) -> dict[str, Any]:
        """A choice's last chunk: its finish reason, and its token log-probabilities whole (the
        text was streamed as it was decoded, not token by token)."""
        return {"index": index, **({"text": ""} if self.text else {"delta": {}}), **fields}

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {**self.base, "choices": choices}
        if self.include_usage:
            body["usage"] = None
        body.update(extra)
        return sse(body)

    def delta(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}


class Events:
    """The queue between a running job and the response: deltas in, coalesced chunks out."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.first = asyncio.Event()

    def sink(self, index: int, kind: str, text: str) -> None:
        self.queue.put_nowait((index, kind, text))
        self.first.set()

    def close(self, _task: Any = None) -> None:
        self.queue.put_nowait(END)
        self.first.set()

    def drain(self, first: Any) -> tuple[list[tuple[int, str, str]], bool]:
        """``first`` and every item already waiting, consecutive deltas of a field merged."""
        items, ended = [first], False
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        if items[-1] is END:
            items.pop()
            ended = True
        merged: list[tuple[int, str, str]] = []
        for index, kind, text in items:
            if merged and merged[-1][0] == index and merged[-1][1] == kind:
                merged[-1] = (index, kind, merged[-1][2] + text)
            else:
                merged.append((index, kind, text))
        return merged, ended


async def event_stream(writer: ChunkWriter, events: Events, task: "asyncio.Task[Any]", choices: int,
                       final: Callable[[], dict[str, Any]], error: Callable[[BaseException], dict[str, Any]],
                       keepalive: float) -> AsyncIterator[bytes]:
    """The SSE body: role, deltas, finish reasons, usage (if asked), ``[DONE]``. ``final()`` gives
    ``closings`` (each choice's last fields: finish reason, logprobs, stop reason), ``usage`` and
    ``ponder``."""
    opening = writer.opening(choices)
    if opening is not None:
        yield opening
    while True:
        try:
            item = await asyncio.wait_for(events.queue.get(), keepalive)
        except TimeoutError:
            yield b": keep-alive\n\n"
            continue
        if item is END:
            break
        merged, ended = events.drain(item)
        for index, kind, text in merged:
            piece = writer.piece(index, kind, text)
            if piece is not None:
                yield writer.chunk([piece])
        if ended:
            break
    exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
    if exc is not None:
        yield sse(error(exc))
        yield b"data: [DONE]\n\n"
        return
    info = final()
    for i in range(choices):
        extra = {"ponder": info["ponder"]} if i == choices - 1 and not writer.include_usage else {}
        yield writer.chunk([writer.closing(i, info["closings"][i])], **extra)
    if writer.include_usage:
        body = {**writer.base, "choices": [], "usage": info["usage"], "ponder": info["ponder"]}
        yield sse(body)
    yield b"data: [DONE]\n\n"


class SSEResponse(StreamingResponse):
    """A streaming response that cancels its job when the client disconnects and releases the
    request's concurrency slot when it ends, however it ends."""

    def __init__(self, body: AsyncIterator[bytes], task: "asyncio.Task[Any]", on_close: Callable[[], None]) -> None:
        super().__init__(body, media_type="text/event-stream",
                         headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
        self.task = task
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    self.task.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                if gone.is_set():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write
            pass
        finally:
            watcher.cancel()
            if not self.task.done():
                self.task.cancel()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
            self.on_close()
