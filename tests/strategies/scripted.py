"""A scripted backend for control-flow tests: answers from a function of the request."""

from __future__ import annotations

from typing import Callable

from ponder.types import Capabilities, Generation, GenerationRequest, Sample, Usage


class ScriptedBackend:
    name = "scripted"
    supports_streaming = False

    def __init__(self, reply: Callable[[GenerationRequest, int], str], *, logits: bool = False,
                 prefix: bool = True) -> None:
        self.reply = reply
        self.requests: list[GenerationRequest] = []
        self._caps = Capabilities(logits=logits, prefix_continuation=prefix, num_parameters=100,
                                  thinking_tags=("<think>", "</think>"))

    def capabilities(self) -> Capabilities:
        return self._caps

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        samples = []
        for i in range(request.n):
            text = self.reply(request, i)
            words = text.split()
            finish = "stop"
            if len(words) > request.max_tokens:
                words, finish = words[: request.max_tokens], "length"
                text = " ".join(words)
            matched = None
            for s in request.stop:
                if s in text:
                    text, matched = text[: text.index(s)], s
            samples.append(Sample(text=text, finish_reason=finish, completion_tokens=len(words),
                                  token_ids=list(range(len(words))), matched_stop=matched))
        prompt = sum(len(m["content"].split()) for m in request.messages) + len(request.prefix.split())
        return Generation(samples, Usage(prompt_tokens=prompt, completion_tokens=sum(s.completion_tokens for s in samples)))
