"""The bedside web page: the running prompt in large text, live over server-sent events,
with "I'm OK" / "I stretched" buttons that acknowledge it.

:func:`bedside_router` returns a FastAPI router to mount on any app (the clinic API app
or a bare one). Every request needs the bedside token (``?token=`` for the page and the
event stream, which browsers open without custom headers).

The event stream is sse-starlette's ``EventSourceResponse``: it watches for the client
going away (a closed page, a phone off the Wi-Fi) and ends the stream without an error,
so a page that comes and goes never disturbs the session or the other channels.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from crampwatch.prompt.channels.bedside import BedsideHub
from crampwatch.prompt.policy import AckResponse

KEEPALIVE_S = 15.0  # proxies and browsers drop an idle event stream after ~30-60 s
RETRY_MS = 2000  # how soon a browser re-opens a dropped stream


class AckRequest(BaseModel):
    """The sleeper's answer to a prompt."""

    response: AckResponse = Field(description="'ok' (I'm OK) or 'stretched' (I stretched)")


class AckResult(BaseModel):
    acknowledged: bool = Field(description="True when a running prompt was acknowledged")
    message: str


def bedside_router(hub: BedsideHub, token: str, prefix: str = "/bedside") -> APIRouter:
    """Return the router serving the bedside page, its event stream and the acknowledge call."""
    if len(token) < 16:
        raise ValueError("bedside token must be at least 16 characters (use new_bedside_token())")

    def check(t: str = Query(alias="token", description="the bedside token")) -> None:
        if not secrets.compare_digest(t.encode(), token.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing bedside token")

    router = APIRouter(prefix=prefix, tags=["bedside"], dependencies=[Depends(check)])

    @router.get("", response_class=HTMLResponse, summary="The bedside page")
    async def page(t: str = Query(alias="token")) -> HTMLResponse:
        # A JS string literal; "<" escaped so no value can close the <script> element.
        literal = json.dumps(t).replace("<", "\\u003c")
        return HTMLResponse(_PAGE.replace("__TOKEN__", literal))

    @router.get("/stream", summary="Live prompt notices as server-sent events")
    async def stream() -> EventSourceResponse:
        return EventSourceResponse(_events(hub), ping=KEEPALIVE_S, sep="\n")

    @router.get("/state", summary="The notice the page should show now (null: none)")
    async def state() -> dict[str, object]:
        return {"current": hub.current}

    @router.post("/ack", response_model=AckResult, summary="Acknowledge the running prompt")
    async def ack(body: AckRequest) -> AckResult:
        done = await hub.acknowledge(body.response, "bedside page")
        return AckResult(
            acknowledged=done,
            message="reminders stopped" if done else "no prompt was running",
        )

    return router


def new_bedside_token() -> str:
    """Return a fresh random token for the bedside page (URL-safe, 128 bits)."""
    return secrets.token_urlsafe(16)


async def _events(hub: BedsideHub) -> AsyncIterator[ServerSentEvent]:
    """Yield the page's state, then every message, then an ``end`` event when the night ends.

    A client that goes away cancels this generator where it waits; the hub's
    subscription ends with it (its ``finally`` lets the page go).
    """
    yield ServerSentEvent(retry=RETRY_MS)
    async for message in hub.subscribe():
        yield ServerSentEvent(json.dumps(message))
    yield ServerSentEvent("{}", event="end")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crampwatch bedside</title>
<style>
 body{font-family:system-ui,sans-serif;background:#111;color:#eee;margin:0;padding:1.2rem}
 #headline{font-size:2.4rem;font-weight:700;margin:.4rem 0}
 #steps{font-size:1.6rem;line-height:1.5}
 .alert{background:#7a1010} .redflag{background:#a04000} .calm{background:#123}
 #panel{padding:1rem;border-radius:.6rem}
 button{font-size:1.8rem;padding:1rem 1.6rem;margin:.6rem .6rem 0 0;border-radius:.6rem;
        border:0;background:#2e8b57;color:#fff}
 #status,#note{font-size:1rem;color:#aaa;margin-top:1rem}
</style></head>
<body>
<div id="panel" class="calm">
 <div id="headline">No cramp right now</div>
 <ol id="steps"></ol>
 <div id="buttons" hidden>
  <button id="ok" data-response="ok">I'm OK</button>
  <button id="stretched" data-response="stretched">I stretched</button>
 </div>
 <div id="note"></div>
</div>
<div id="status">connecting...</div>
<script>
const token = __TOKEN__;
const q = "?token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
function list(items){
  const ol = $("steps"); ol.innerHTML = "";
  for (const s of items || []){
    const li = document.createElement("li"); li.textContent = s; ol.appendChild(li);
  }
}
function show(m){
  if (m.type === "status"){ $("status").textContent = m.line || ""; return; }
  if (m.type !== "notice") return;
  const p = $("panel");
  if (m.action === "start" || m.action === "escalate"){
    p.className = "alert"; $("headline").textContent = m.headline; list(m.now);
    $("ok").textContent = m.ack_labels.ok; $("stretched").textContent = m.ack_labels.stretched;
    $("buttons").hidden = false; $("note").textContent = m.disclaimer;
  } else if (m.action === "red_flag"){
    p.className = "redflag"; $("headline").textContent = m.headline; list(m.red_flag);
  } else if (m.action === "acknowledged"){
    $("buttons").hidden = true; $("note").textContent = "Thank you. Reminders stopped.";
  } else if (m.action === "stop"){
    p.className = "calm"; $("headline").textContent = "The cramp is over"; list(m.after);
    $("buttons").hidden = true; $("note").textContent = m.disclaimer;
  }
}
async function ack(ev){
  const r = await fetch(base + "ack" + q, {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({response: ev.target.dataset.response})});
  const body = await r.json(); $("note").textContent = body.message;
  if (body.acknowledged) $("buttons").hidden = true;
}
const base = location.pathname.replace(/\\/$/, "") + "/";
$("ok").onclick = ack; $("stretched").onclick = ack;
const es = new EventSource(base + "stream" + q);
es.onopen = () => {
  if ($("status").textContent.endsWith("...")) $("status").textContent = "connected";
};
es.onmessage = (e) => show(JSON.parse(e.data));
es.addEventListener("end", () => { $("status").textContent = "the night is over"; es.close(); });
es.onerror = () => { $("status").textContent = "connection lost, retrying..."; };
</script>
</body></html>
"""
