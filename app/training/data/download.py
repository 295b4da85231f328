"""Download one file from a list of mirrors, verify its MD5, and only then give it its final name."""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from .dataset import DatasetUnavailable

CHUNK_BYTES = 1 << 16

ProgressCallback = Callable[[str, int, int | None], None]  # (filename, bytes done, bytes total or None)


class DownloadError(DatasetUnavailable):
    """No mirror delivered the file intact; the message lists why, and where to put the file by hand.

    `code` says which way it failed, and `values` hold what the sentence names, so the web can say it in
    the visitor's language (its catalog's `download.<code>`) and keep the English above as the detail:
    - `offline`: no mirror could be reached at all (no connection, a timeout): likely no internet here;
    - `failed`: a mirror answered, but none delivered the file intact (HTTP error, checksum, cut short);
    - `no_mirrors`: no mirror is configured.
    """

    def __init__(self, message: str, code: str = "failed", **values: str):
        super().__init__(message)
        self.code, self.values = code, values


class MirrorFailed(Exception):
    """One mirror's attempt failed in a way worth reporting (bad checksum, cut-off body)."""


def md5_of(path: str | Path) -> str:
    """The hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_url(base: str, filename: str) -> str:
    """`filename` under `base`, whether or not the base ends in a slash."""
    return base.rstrip("/") + "/" + filename


def fetch_file(
    filename: str,
    md5: str,
    mirrors: Sequence[str],
    dest_dir: str | Path,
    *,
    timeout: float,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """`dest_dir/filename` with the given MD5, downloaded from the first mirror that delivers it intact."""
    dest_dir = Path(dest_dir)
    final = dest_dir / filename
    if final.is_file() and md5_of(final) == md5:
        return final
    dest_dir.mkdir(parents=True, exist_ok=True)
    failures, unreachable = [], 0
    for base in mirrors:
        url = mirror_url(base, filename)
        try:
            _download_verified(url, filename, md5, final, timeout, on_progress)
            return final
        except MirrorFailed as error:
            failures.append(str(error))
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {_describe(error)}")
            unreachable += _is_unreachable(error)
    code = "no_mirrors" if not failures else "offline" if unreachable == len(failures) else "failed"
    message = _give_up_message(filename, md5, final, failures)
    raise DownloadError(message, code, filename=filename, folder=str(final.parent))


def _download_verified(
    url: str, filename: str, md5: str, final: Path, timeout: float, on_progress: ProgressCallback | None
) -> None:
    """Stream `url` into a temporary file beside `final`; rename it onto `final` only if the MD5 matches."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{filename}.part-", dir=final.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            got = _stream(url, filename, out, timeout, on_progress)
        if got != md5:
            raise MirrorFailed(
                f"checksum mismatch for {filename} from {url}: expected {md5}, got {got}; "
                "the file was discarded"
            )
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)  # a no-op after the rename; otherwise nothing half-done stays


def _stream(url: str, filename: str, out, timeout: float, on_progress: ProgressCallback | None) -> str:
    """Copy the body of `url` into `out` and return its MD5; a body shorter than announced is an error."""
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = _content_length(response)
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if on_progress is not None:
                on_progress(filename, done, total)
    if total is not None and done < total:
        raise MirrorFailed(f"{url}: the transfer stopped after {done} of {total} bytes")
    return digest.hexdigest()


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _is_unreachable(error: BaseException) -> bool:
    """No answer at all from the mirror, as opposed to an answer that was wrong (an HTTP error status)."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    return isinstance(error, urllib.error.URLError | TimeoutError)


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect ({error.reason})"
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


def _give_up_message(filename: str, md5: str, final: Path, failures: list[str]) -> str:
    tried = "\n".join(f"  - {failure}" for failure in failures) or "  - no mirrors are configured"
    return (
        f"could not download {filename}:\n{tried}\n"
        f"To install it by hand, download {filename} (md5 {md5}) and put it at {final} "
        f"(the folder {final.parent})."
    )
