#!/usr/bin/env python3
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
"""An OpenAI-compatible mock language model for the ocbroker end-to-end test.

Standard library only.  It answers POST /v1/chat/completions (streamed as
server-sent events in the chat.completion.chunk format, or as one JSON
document when the request has no "stream": true) and GET /v1/models, on
127.0.0.1 only.  The answer is chosen by the text of the last user message:

    text           "Hello from the mock language model." in 6 chunks
    tool           a tool call read {"filePath":"hello.txt"} (arguments
                   streamed in 3 chunks); once the tool result is back,
                   4 text chunks
    ask            a tool call bash {"command":"echo hello from the mock",
                   "description":"Print a greeting"}; once the result is
                   back, a short text
    slow [S]       "tickN " every 0.5 s for S seconds (default and most 60);
                   stops early when the client goes away (an abort)
    many N         N one-word chunks (at most 100000)
    error [STATUS] HTTP STATUS (default 500) with an OpenAI error body
    think          4 reasoning_content deltas (OpenCode makes a "reasoning"
                   part of them), then "Thought about it." in 3 chunks
    question       a call of OpenCode's question tool (one question, options
                   Blue, Green, Red); once answered, "You chose <label>."
                   (or "No colour was chosen." when rejected)
    todo           todowrite with 3 todos (completed, in_progress, pending),
                   then a short text
    edit [NAME]    write NAME (default notes.txt, in the project dir read
                   off the system prompt), read hello.txt, edit it (its line
                   "hello ..." <-> "goodbye ...", so it can run again), text
    full           one step per model call: reasoning + todowrite; question;
                   bash "echo full step" (needs a permission with the e2e
                   config); "All steps are done." (a rejected question ends
                   with "No colour was chosen." instead of the bash step)
    anything else  "Mock default answer." in 3 chunks

A request whose system prompt starts like OpenCode's title generator gets
"Mock session title".  Usage, when the request asks for it
(stream_options.include_usage), is prompt_tokens = 100 + 10 x messages and
completion_tokens = the number of content or argument chunks.

With OCB_MOCK_DUMP=DIR set, every chat request body is written to DIR (to
read what the server sends, e.g. its tool schemas).

On start it prints one line, {"port":N}, on stdout and flushes it.  Every
request is logged as one line on stderr.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ID = "mock-1"
TEXT_CHUNKS = ["Hello", " from", " the", " mock", " language", " model."]
TOOL_ANSWER = ["The file", " says hello", " from the", " probe project."]
ASK_ANSWER = ["The command", " printed a greeting."]
DEFAULT_CHUNKS = ["Mock", " default", " answer."]
TITLE = "Mock session title"
SLOW_INTERVAL = 0.5
SLOW_MAX_SECONDS = 60
MANY_MAX = 100000
MAX_BODY = 16 * 1024 * 1024

THINK_CHUNKS = ["The user", " wants", " a thought", " first."]
THINK_ANSWER = ["Thought", " about", " it."]
QUESTION_OPTIONS = [
    {"label": "Blue", "description": "The colour of the sky"},
    {"label": "Green", "description": "The colour of grass"},
    {"label": "Red", "description": "The colour of a stop sign"},
]
QUESTION_ARGS = {"questions": [{
    "question": "Which colour should the mock use?",
    "header": "Colour",
    "options": QUESTION_OPTIONS}]}
TODO_ARGS = {"todos": [
    {"content": "Read the probe file", "status": "completed",
     "priority": "high"},
    {"content": "Write the notes", "status": "in_progress",
     "priority": "medium"},
    {"content": "Run the tests", "status": "pending", "priority": "low"},
]}
TODO_ANSWER = ["Three todos", " are planned."]
EDIT_FILE = "notes.txt"
EDIT_CONTENT = "first line\nsecond line\n"
EDIT_OLD = "hello from the ocbroker probe project"
EDIT_NEW = "goodbye from the ocbroker probe project"
EDIT_ANSWER = ["The files", " were changed."]
FULL_BASH_ARGS = {"command": "echo full step", "description": "Print a step"}
FULL_ANSWER = ["All steps", " are done."]

READ_ARGS = ['{"filePath"', ':"hello', '.txt"}']
BASH_ARGS = ['{"command":"echo hello', ' from the mock",', '"description":',
             '"Print a greeting"}']
# "tool" and "ask": a tool call (its name and argument chunks), then, once
# its result is in the conversation, the answer.
TOOL_TURNS = {
    "tool": ("read", READ_ARGS, TOOL_ANSWER),
    "ask": ("bash", BASH_ARGS, ASK_ANSWER),
}

_seq_lock = threading.Lock()
_seq = 0


def next_id(prefix):
    global _seq
    with _seq_lock:
        _seq += 1
        return "%s%06d" % (prefix, _seq)


def log(msg):
    sys.stderr.write("mock_llm: %s\n" % msg)
    sys.stderr.flush()


def content_text(content):
    """The text of a message's content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append(str(part.get("text", "")))
            elif isinstance(part, str):
                out.append(part)
        return "\n".join(out)
    return ""


def is_title_request(messages):
    for m in messages:
        if m.get("role") == "system" and \
                "You are a title generator" in content_text(m.get("content")):
            return True
    return False


def last_user_text(messages):
    for m in reversed(messages):
        if m.get("role") == "user":
            return content_text(m.get("content")).strip()
    return ""


def tool_result_pending(messages):
    """True when the conversation ends with tool results (after a call)."""
    return bool(messages) and messages[-1].get("role") == "tool"


def calls_since_user(messages):
    """The names of the tools called since the last user message, in order."""
    names = []
    for m in reversed(messages):
        if m.get("role") == "user":
            break
        if m.get("role") == "assistant":
            for c in reversed(m.get("tool_calls") or []):
                names.append(str((c.get("function") or {}).get("name")))
    names.reverse()
    return names


def last_tool_text(messages):
    """The content of the last tool result, as text."""
    for m in reversed(messages):
        if m.get("role") == "tool":
            return content_text(m.get("content"))
        if m.get("role") == "user":
            break
    return ""


def work_dir(messages):
    """The project directory named in OpenCode's system prompt."""
    for m in messages:
        if m.get("role") != "system":
            continue
        for line in content_text(m.get("content")).splitlines():
            line = line.strip()
            if line.startswith("Working directory:"):
                return line.split(":", 1)[1].strip()
    return "."


def split3(s):
    """A JSON argument string in three chunks, as a model streams it."""
    n = len(s)
    return [s[:n // 3], s[n // 3:2 * n // 3], s[2 * n // 3:]]


def chosen_answer(result):
    """The option label the question's tool result names, or None."""
    for opt in QUESTION_OPTIONS:
        if '"%s"' % opt["label"] in result:
            return opt["label"]
    return None


class ClientGone(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock_llm/1"

    def log_message(self, fmt, *args):
        pass  # one line per request is logged by the handlers themselves

    # ---- plumbing ----

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise ClientGone() from exc

    def sse(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.write_chunk(b"data: " + data + b"\n\n")

    def end_stream(self):
        self.write_chunk(b"data: [DONE]\n\n")
        self.write_chunk(b"")

    def read_body(self):
        """The request body (Content-Length or chunked), or None."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                line = self.rfile.readline(64)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size < 0 or len(body) + size > MAX_BODY:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline(4)
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    # ---- routes ----

    def do_GET(self):
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            log("GET %s" % self.path)
            self.send_json(200, {"object": "list", "data": [{
                "id": MODEL_ID, "object": "model", "created": 0,
                "owned_by": "mock"}]})
            return
        self.send_json(404, {"error": {"message": "no such route",
                                       "type": "invalid_request_error"}})

    def do_POST(self):
        if self.path.rstrip("/") not in ("/v1/chat/completions",
                                         "/chat/completions"):
            self.send_json(404, {"error": {"message": "no such route",
                                           "type": "invalid_request_error"}})
            return
        body = self.read_body()
        if body is None:
            self.send_json(400, {"error": {"message": "bad request body"}})
            self.close_connection = True
            return
        try:
            req = json.loads(body or b"{}")
            messages = req.get("messages") or []
            if not isinstance(messages, list):
                raise ValueError("messages")
        except (ValueError, AttributeError):
            self.send_json(400, {"error": {"message": "bad JSON"}})
            return
        try:
            self.chat(req, messages)
        except ClientGone:
            log("client went away")
            self.close_connection = True

    # ---- the model ----

    def chat(self, req, messages):
        dump = os.environ.get("OCB_MOCK_DUMP")
        if dump:
            with open(os.path.join(dump, next_id("req") + ".json"), "w") as f:
                json.dump(req, f, indent=1)
        stream = bool(req.get("stream"))
        opts = req.get("stream_options") or {}
        usage = stream and isinstance(opts, dict) and \
            bool(opts.get("include_usage"))
        prompt_tokens = 100 + 10 * len(messages)
        tools = [t.get("function", {}).get("name")
                 for t in (req.get("tools") or []) if isinstance(t, dict)]

        if is_title_request(messages):
            log("chat: title")
            return self.answer_text(stream, usage, prompt_tokens, [TITLE])

        text = last_user_text(messages)
        words = text.split()
        kind = words[0].lower() if words else ""
        after_tool = tool_result_pending(messages)
        log("chat: %r after_tool=%s messages=%d tools=%d" %
            (text[:40], after_tool, len(messages), len(tools)))

        if kind == "text":
            return self.answer_text(stream, usage, prompt_tokens, TEXT_CHUNKS)
        if kind in TOOL_TURNS:
            tool, args, answer = TOOL_TURNS[kind]
            if after_tool:
                return self.answer_text(stream, usage, prompt_tokens, answer)
            return self.answer_tool(stream, usage, prompt_tokens, tool, args)
        if kind == "slow":
            secs = SLOW_MAX_SECONDS
            if len(words) > 1:
                try:
                    secs = max(0.0, min(float(words[1]), SLOW_MAX_SECONDS))
                except ValueError:
                    pass
            return self.answer_slow(stream, usage, prompt_tokens, secs)
        if kind == "many":
            count = 100
            if len(words) > 1 and words[1].isdigit():
                count = min(int(words[1]), MANY_MAX)
            chunks = ["w%d " % i for i in range(count)]
            return self.answer_text(stream, usage, prompt_tokens, chunks)
        if kind == "think":
            return self.answer(stream, usage, prompt_tokens,
                               reasoning=THINK_CHUNKS, text=THINK_ANSWER)
        if kind == "question":
            if after_tool:
                return self.answer_text(stream, usage, prompt_tokens,
                                        self.question_answer(messages))
            return self.answer(stream, usage, prompt_tokens,
                               tool=("question", QUESTION_ARGS))
        if kind == "todo":
            if after_tool:
                return self.answer_text(stream, usage, prompt_tokens,
                                        TODO_ANSWER)
            return self.answer(stream, usage, prompt_tokens,
                               tool=("todowrite", TODO_ARGS))
        if kind == "edit":
            return self.edit_step(stream, usage, prompt_tokens, messages,
                                  words)
        if kind == "full":
            return self.full_step(stream, usage, prompt_tokens, messages)
        if kind == "error":
            status = 500
            if len(words) > 1 and words[1].isdigit() and \
                    400 <= int(words[1]) <= 599:
                status = int(words[1])
            self.send_json(status, {"error": {
                "message": "mock error %d" % status,
                "type": "server_error" if status >= 500 else
                "invalid_request_error", "code": None}})
            return None
        return self.answer_text(stream, usage, prompt_tokens, DEFAULT_CHUNKS)

    def chunk(self, cid, delta, finish=None):
        return {"id": cid, "object": "chat.completion.chunk",
                "created": int(time.time()), "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta,
                             "finish_reason": finish}]}

    def usage_chunk(self, cid, prompt_tokens, completion_tokens):
        return {"id": cid, "object": "chat.completion.chunk",
                "created": int(time.time()), "model": MODEL_ID,
                "choices": [],
                "usage": {"prompt_tokens": prompt_tokens,
                          "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    def question_answer(self, messages):
        label = chosen_answer(last_tool_text(messages))
        if label is None:
            return ["No colour", " was chosen."]
        return ["You chose", " %s." % label]

    def edit_step(self, stream, usage, prompt_tokens, messages, words):
        """write a new file, read hello.txt, edit it, then a text."""
        done = calls_since_user(messages)
        wd = work_dir(messages)
        name = EDIT_FILE
        if len(words) > 1 and all(c.isalnum() or c in "._-"
                                  for c in words[1]):
            name = words[1]
        if not done:
            return self.answer(stream, usage, prompt_tokens, tool=(
                "write", {"filePath": wd + "/" + name,
                          "content": EDIT_CONTENT}))
        if len(done) == 1:
            return self.answer(stream, usage, prompt_tokens, tool=(
                "read", {"filePath": wd + "/hello.txt"}))
        if len(done) == 2:
            # Toggle the line, so that the mode can run again.
            old, new = EDIT_OLD, EDIT_NEW
            if EDIT_NEW in last_tool_text(messages):
                old, new = EDIT_NEW, EDIT_OLD
            return self.answer(stream, usage, prompt_tokens, tool=(
                "edit", {"filePath": wd + "/hello.txt",
                         "oldString": old, "newString": new}))
        return self.answer_text(stream, usage, prompt_tokens, EDIT_ANSWER)

    def full_step(self, stream, usage, prompt_tokens, messages):
        """reasoning + todowrite, question, bash, then a text."""
        done = calls_since_user(messages)
        if not done:
            return self.answer(stream, usage, prompt_tokens,
                               reasoning=THINK_CHUNKS,
                               tool=("todowrite", TODO_ARGS))
        if len(done) == 1:
            return self.answer(stream, usage, prompt_tokens,
                               tool=("question", QUESTION_ARGS))
        if len(done) == 2:
            label = chosen_answer(last_tool_text(messages))
            if label is None:
                return self.answer_text(stream, usage, prompt_tokens,
                                        ["No colour", " was chosen."])
            return self.answer(stream, usage, prompt_tokens,
                               tool=("bash", FULL_BASH_ARGS))
        return self.answer_text(stream, usage, prompt_tokens, FULL_ANSWER)

    def answer(self, stream, usage, prompt_tokens, reasoning=(), text=(),
               tool=None):
        """Reasoning deltas (reasoning_content), then text, then at most
        one tool call (name, arguments object), streamed."""
        if not stream:
            if tool is not None:
                return self.answer_tool(False, usage, prompt_tokens, tool[0],
                                        [json.dumps(tool[1])])
            return self.answer_text(False, usage, prompt_tokens, list(text))
        cid = next_id("chatcmpl-mock")
        n = 0
        self.start_stream()
        self.sse(self.chunk(cid, {"role": "assistant", "content": ""}))
        for r in reasoning:
            self.sse(self.chunk(cid, {"reasoning_content": r}))
            n += 1
        for c in text:
            self.sse(self.chunk(cid, {"content": c}))
            n += 1
        reason = "stop"
        if tool is not None:
            reason = "tool_calls"
            call_id = next_id("call_mock")
            self.sse(self.chunk(cid, {"tool_calls": [{
                "index": 0, "id": call_id, "type": "function",
                "function": {"name": tool[0], "arguments": ""}}]}))
            for a in split3(json.dumps(tool[1], separators=(",", ":"))):
                self.sse(self.chunk(cid, {"tool_calls": [{
                    "index": 0, "function": {"arguments": a}}]}))
                n += 1
        self.finish_stream(cid, usage, prompt_tokens, n, reason)
        return None

    def answer_text(self, stream, usage, prompt_tokens, chunks):
        cid = next_id("chatcmpl-mock")
        if not stream:
            text = "".join(chunks)
            self.send_json(200, {
                "id": cid, "object": "chat.completion",
                "created": int(time.time()), "model": MODEL_ID,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant",
                                         "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens,
                          "completion_tokens": len(chunks),
                          "total_tokens": prompt_tokens + len(chunks)}})
            return
        self.start_stream()
        self.sse(self.chunk(cid, {"role": "assistant", "content": ""}))
        for c in chunks:
            self.sse(self.chunk(cid, {"content": c}))
        self.finish_stream(cid, usage, prompt_tokens, len(chunks), "stop")

    def answer_tool(self, stream, usage, prompt_tokens, name, args):
        cid = next_id("chatcmpl-mock")
        call_id = next_id("call_mock")
        if not stream:
            self.send_json(200, {
                "id": cid, "object": "chat.completion",
                "created": int(time.time()), "model": MODEL_ID,
                "choices": [{"index": 0, "finish_reason": "tool_calls",
                             "message": {"role": "assistant",
                                         "content": None,
                                         "tool_calls": [{
                                             "id": call_id,
                                             "type": "function",
                                             "function": {
                                                 "name": name,
                                                 "arguments": "".join(args)
                                             }}]}}],
                "usage": {"prompt_tokens": prompt_tokens,
                          "completion_tokens": len(args),
                          "total_tokens": prompt_tokens + len(args)}})
            return
        self.start_stream()
        self.sse(self.chunk(cid, {"role": "assistant", "content": None,
                                  "tool_calls": [{
                                      "index": 0, "id": call_id,
                                      "type": "function",
                                      "function": {"name": name,
                                                   "arguments": ""}}]}))
        for a in args:
            self.sse(self.chunk(cid, {"tool_calls": [{
                "index": 0, "function": {"arguments": a}}]}))
        self.finish_stream(cid, usage, prompt_tokens, len(args),
                           "tool_calls")

    def answer_slow(self, stream, usage, prompt_tokens, secs):
        cid = next_id("chatcmpl-mock")
        ticks = int(secs / SLOW_INTERVAL)
        if not stream:
            time.sleep(secs)
            chunks = ["tick%d " % i for i in range(1, ticks + 1)]
            return self.answer_text(False, False, prompt_tokens, chunks)
        self.start_stream()
        self.sse(self.chunk(cid, {"role": "assistant", "content": ""}))
        for i in range(1, ticks + 1):
            self.sse(self.chunk(cid, {"content": "tick%d " % i}))
            time.sleep(SLOW_INTERVAL)
        self.finish_stream(cid, usage, prompt_tokens, ticks, "stop")
        return None

    def finish_stream(self, cid, usage, prompt_tokens, completion_tokens,
                      reason):
        self.sse(self.chunk(cid, {}, reason))
        if usage:
            self.sse(self.usage_chunk(cid, prompt_tokens, completion_tokens))
        self.end_stream()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0,
                    help="TCP port on 127.0.0.1 (0: any free one)")
    args = ap.parse_args()
    if not 0 <= args.port <= 65535:
        ap.error("--port out of range")

    srv = Server(("127.0.0.1", args.port), Handler)

    def stop(_sig, _frm):
        # shutdown() waits for serve_forever(): call it from another thread.
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write(json.dumps({"port": srv.server_address[1]},
                                separators=(",", ":")) + "\n")
    sys.stdout.flush()
    log("listening on 127.0.0.1:%d" % srv.server_address[1])
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
