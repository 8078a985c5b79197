"""Prompt channel: an HTTP POST of each notice as JSON, for a phone or a home-automation hub."""

from __future__ import annotations

import httpx

from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.notice import PromptNotice


class WebhookChannel(PromptChannel):
    """POSTs every notice to ``url``; any non-2xx answer or network error is a delivery failure."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers, transport=transport)

    async def deliver(self, notice: PromptNotice) -> str:
        try:
            resp = await self._client.post(self._url, json=notice.to_json())
        except httpx.HTTPError as exc:
            raise ChannelError(f"webhook {self._url} unreachable: {exc!r}") from exc
        if not resp.is_success:
            raise ChannelError(f"webhook {self._url} answered HTTP {resp.status_code}")
        return f"HTTP {resp.status_code}"

    async def close(self) -> None:
        await self._client.aclose()
