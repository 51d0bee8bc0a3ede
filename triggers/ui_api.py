"""The run monitor page: static files that ship with the app, served under /api/ui/.

Anonymous, because the files hold no data: the page reads the app's own JSON API with the
caller's identity (the function key it asks for, or the App Service Authentication cookie), so
a visitor without either sees an empty shell. Only the files that ship in `ui_static/` are
served, by an allowlist read once from the folder: a path naming anything else (`..`, an
encoded form of it, a hidden file, a folder) is refused before the file system is touched.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from triggers.http import HttpResponse, Request
from triggers.problems import problem

bp = df.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)

UI_ROOT = Path(__file__).with_name("ui_static")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# One or more plain name segments: letters, digits, `-`, `_` and one dot before the suffix.
_SAFE_PATH = re.compile(r"^(?:[a-z0-9_-]+/)*[a-z0-9_-]+\.[a-z]+$")
# Scripts, styles and requests only from this origin; no inline code, no framing, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidated on each load (by ETag), so a deployment's new files are seen at once.
    "Cache-Control": "no-cache",
}


@functools.cache
def shipped_files() -> dict[str, Path]:
    """The servable files, by their path under /api/ui/."""
    return {
        path.relative_to(UI_ROOT).as_posix(): path
        for path in UI_ROOT.rglob("*")
        if path.is_file() and path.suffix in _TYPES
    }


def resolve(path: str) -> Path | None:
    """The shipped file `path` names, None for anything else; ValueError for a path that
    tries to leave the folder or hides its shape (dot segments, escapes, back-slashes)."""
    if any(mark in path for mark in ("..", "%", "\\", "\x00")) or path.startswith("/"):
        raise ValueError("not a path under the page's folder")
    if not _SAFE_PATH.match(path):
        return None
    return shipped_files().get(path)


@bp.route(route="ui/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ui(req: Request) -> HttpResponse:
    path = req.path_params.get("path") or ""
    if not path and not req.url.path.endswith("/"):
        # Relative module URLs need the folder's trailing slash; the Location stays relative
        # (never built from the request's Host header).
        return HttpResponse(status_code=308, headers={**_HEADERS, "Location": "ui/"})
    try:
        file = resolve(path or "index.html")
    except ValueError as error:
        return problem(400, "Invalid request", str(error), headers=_HEADERS)
    if file is None:
        return problem(404, "Not found", "no such file", headers=_HEADERS)
    content, etag = _content(file, file.stat().st_mtime_ns)
    headers = {**_HEADERS, "ETag": etag}
    if _matches(req.headers.get("if-none-match"), etag):
        # The browser's copy is current: a reload revalidates every file for a few bytes each.
        return HttpResponse(status_code=304, headers=headers)
    return HttpResponse(content, media_type=_TYPES[file.suffix], headers=headers)


@functools.cache
def _content(file: Path, mtime_ns: int) -> tuple[bytes, str]:
    """A file's bytes and strong ETag, read once per version of the file."""
    content = file.read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
