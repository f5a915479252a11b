"""Workspaces on object storage: ``s3://bucket/ws``, ``gs://bucket/ws`` or any URL fsspec
can write (``memory://``, ``az://``, ...).

ptx works in a local copy of the workspace (the cache, ``$PTX_REMOTE_CACHE/<hash of the
URL>``, default ``~/.cache/ptx/workspaces``) and keeps it in step with the bucket:

- **Pull** (when a command starts): every object the bucket has and the cache lacks or
  holds in an older version comes down (a temp file renamed into place), arrays as the
  Zarr v3 chunk and metadata objects they are. Only what changed since the last sync is
  fetched, so training streams its subject's arrays once and then reads local disk.
  Files changed locally but not yet pushed are kept.
- **Push** (every :data:`PUSH_EVERY` seconds while the command runs, and at its end): the
  files that changed locally go up in a safe commit order: the commit points (stage
  records, source records, subject lists, the workspace marker, run configs and the
  checkpoint ``last`` pointer) are read *first*, then every other changed file (chunks,
  Zarr metadata, checkpoints, samples) is uploaded, and only then the commit points read
  before. A chunk is committed locally before its record names it, so a record on the
  bucket never names a chunk that is not there: a reader (or a run resumed elsewhere after
  a SIGKILL) trusts only what the records say, and each chunk's CRC-32C in its record
  catches a chunk overwritten since.
- **Locks**: the store's locks are local file locks, so they keep the processes of one
  machine apart (``--jobs``, a local Ray instance: they share one cache). Between
  machines there is no lock: one writer per video is up to the scheduler. ``ptx prepare
  --shard I/N`` gives each machine a disjoint part of the list; two machines must not
  prepare the same video, nor add videos to the same subject, at the same time.

Storage options come from the environment as fsspec and the cloud SDKs read them
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``FSSPEC_S3_ENDPOINT_URL``,
``GOOGLE_APPLICATION_CREDENTIALS``, ...). fsspec and the filesystem of the scheme
(``s3fs``, ``gcsfs``) are optional dependencies (``pip install "ptx[s3]"``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ptx.errors import WorkspaceError

URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://(.*)$")
"""A URL with a scheme of two letters or more (``C:/`` is a folder)."""
READ_ONLY = ("http", "https")
PUSH_EVERY = float(os.environ.get("PTX_REMOTE_PUSH_EVERY", "5"))
"""Seconds between pushes while a command runs."""
MANIFEST = ".remote-manifest.json"
SKIPPED_DIRS = ("logs", "outputs")
"""Top-level folders that stay local (crash logs; rendered videos go where --output says)."""
LOCK_NAMES = ("lock", "source.lock")


def is_url(text: str | os.PathLike) -> bool:
    return bool(URL_RE.match(str(text)))


def cache_root() -> Path:
    """Where local copies of URL workspaces live (``PTX_REMOTE_CACHE``)."""
    raw = os.environ.get("PTX_REMOTE_CACHE")
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "ptx" / "workspaces"


def _fail(url: str, exc: BaseException, doing: str) -> WorkspaceError:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WorkspaceError(
        f"Cannot {doing} workspace {url}: {type(exc).__name__}: {text}.",
        "Check the URL, that the bucket exists and the credentials (AWS_*, "
        "GOOGLE_APPLICATION_CREDENTIALS, AWS_ENDPOINT_URL for an S3-compatible server).",
    )


def _commit_point(rel: str) -> bool:
    """Files that declare other files complete: pushed after everything else."""
    name = rel.rsplit("/", 1)[-1]
    if name == "zarr.json":
        return False
    return name.endswith((".json", ".yaml")) or name in ("last", "latest")


def _local(rel: str) -> bool:
    """Files that never leave this machine: locks, temp files, the manifest."""
    parts = rel.split("/")
    name = parts[-1]
    return (
        parts[0] in SKIPPED_DIRS
        or any(p.startswith(".") for p in parts)
        or name in LOCK_NAMES
        or name.endswith((".lock", ".pid", ".tmp", ".partial"))
    )


class RemoteWorkspace:
    """A URL workspace and its local copy (module docstring). Use :func:`remote_workspace`."""

    def __init__(self, url: str) -> None:
        m = URL_RE.match(url)
        if not m:
            raise WorkspaceError(f"{url} is not a URL.")
        scheme = m.group(1).lower()
        if scheme in READ_ONLY:
            raise WorkspaceError(
                f"Workspace {url} cannot be written ({scheme}:// is read-only).",
                "Use s3://, gs:// or another writable fsspec URL, or a local folder.",
            )
        self.url = url.rstrip("/")
        try:
            import fsspec
        except ImportError:
            raise WorkspaceError(
                f"Workspace {url} needs fsspec, which is not installed.",
                'Install it with `pip install "ptx[s3]"` (and gcsfs for gs://).',
            ) from None
        try:
            self.fs, self.path = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise WorkspaceError(
                f"Workspace {url}: {str(exc).strip().splitlines()[0].rstrip('.')}.",
                "Install the filesystem package for its scheme (s3fs for s3://, gcsfs for "
                "gs://), or use a local folder.",
            ) from None
        self.path = self.path.rstrip("/")
        digest = hashlib.blake2b(self.url.encode(), digest_size=8).hexdigest()
        self.cache = cache_root() / digest
        self._lock = threading.Lock()
        self._manifest: dict[str, dict[str, Any]] = {}

    # --- bookkeeping --------------------------------------------------------------------
    def _load_manifest(self) -> None:
        try:
            self._manifest = json.loads((self.cache / MANIFEST).read_text())
        except (OSError, ValueError):
            self._manifest = {}

    def _save_manifest(self) -> None:
        data = json.dumps(self._manifest).encode()
        fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=".manifest.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, self.cache / MANIFEST)

    @staticmethod
    def _tag(info: dict[str, Any]) -> str:
        """What identifies an object's version (its ETag, else size and time)."""
        etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
        if etag:
            return str(etag)
        return f"{info.get('size')}:{info.get('LastModified') or info.get('mtime') or info.get('created')}"

    @staticmethod
    def _stat(path: Path) -> list[int]:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns]

    def _listing(self) -> dict[str, dict[str, Any]]:
        """Relative key -> info of every object under the workspace URL."""
        try:
            found = self.fs.find(self.path, detail=True)
        except FileNotFoundError:
            return {}
        self.fs.invalidate_cache()
        prefix = self.path + "/"
        return {k[len(prefix) :]: v for k, v in found.items() if k.startswith(prefix)}

    # --- pull and push ------------------------------------------------------------------
    def pull(self) -> int:
        """Bring new and changed objects into the cache; return how many came."""
        with self._lock:
            self.cache.mkdir(parents=True, exist_ok=True)
            self._load_manifest()
            try:
                listing = self._listing()
                if not listing:  # a new workspace: fail now, not after the work, if unwritable
                    probe = f"{self.path}/.ptx-write-test-{os.getpid()}"
                    self.fs.pipe_file(probe, b"")
                    self.fs.rm_file(probe)
            except Exception as exc:
                raise _fail(self.url, exc, "use") from None
            came = 0
            for rel, info in sorted(listing.items()):
                if _local(rel):
                    continue
                tag, known = self._tag(info), self._manifest.get(rel)
                dest = self.cache / rel
                if known and known.get("remote") == tag and dest.is_file():
                    continue
                if dest.is_file() and known and known.get("local") != self._stat(dest):
                    continue  # changed here since the last sync: the next push sends it
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
                os.close(fd)
                try:
                    self.fs.get_file(f"{self.path}/{rel}", tmp)
                    os.replace(tmp, dest)
                except Exception as exc:
                    Path(tmp).unlink(missing_ok=True)
                    raise _fail(self.url, exc, "read") from None
                self._manifest[rel] = {"remote": tag, "local": self._stat(dest)}
                came += 1
            self._save_manifest()
            return came

    def _changed(self) -> list[tuple[str, Path]]:
        out = []
        for path in sorted(self.cache.rglob("*")):
            rel = path.relative_to(self.cache).as_posix()
            if not path.is_file() or _local(rel):
                continue
            known = self._manifest.get(rel)
            try:
                if known is None or known.get("local") != self._stat(path):
                    out.append((rel, path))
            except FileNotFoundError:  # replaced while listing: the next push sends it
                continue
        return out

    def push(self) -> int:
        """Send what changed locally, commit points last (module docstring); return how
        many objects went up."""
        with self._lock:
            self._load_manifest()
            first = self._changed()
            points = []
            for rel, path in first:  # read the commit points before anything goes up
                if _commit_point(rel):
                    try:  # stat first: a file replaced after it is sent again next push
                        stat = self._stat(path)
                        points.append((rel, path, path.read_bytes(), stat))
                    except FileNotFoundError:
                        continue
            sent: dict[str, list[int]] = {}
            try:
                for rel, path in self._changed():  # chunks committed since are sent too
                    if _commit_point(rel):
                        continue
                    stat = self._stat(path)
                    self.fs.put_file(str(path), f"{self.path}/{rel}")
                    sent[rel] = stat
                for rel, _, data, stat in points:
                    self.fs.pipe_file(f"{self.path}/{rel}", data)
                    sent[rel] = stat
                listing = self._listing() if sent else {}
            except FileNotFoundError as exc:
                raise _fail(self.url, exc, "write") from None
            except Exception as exc:
                raise _fail(self.url, exc, "write") from None
            for rel, stat in sent.items():
                if rel in listing:
                    self._manifest[rel] = {"remote": self._tag(listing[rel]), "local": stat}
            self._save_manifest()
            return len(sent)


@contextlib.contextmanager
def remote_workspace(url: str, push_every: float | None = None) -> Iterator[Path]:
    """Pull the URL workspace into its cache, yield the cache folder (use it as the
    workspace), push every ``push_every`` seconds and at the end (also after an error)."""
    remote = RemoteWorkspace(url)
    remote.pull()
    every = PUSH_EVERY if push_every is None else push_every
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        while not stop.wait(every):
            try:
                remote.push()
            except BaseException as exc:  # the final push reports it
                errors.append(exc)

    thread = threading.Thread(target=loop, name="ptx-remote-push", daemon=True)
    if every > 0:
        thread.start()
    os.environ["PTX_WORKSPACE_URL"] = remote.url
    try:
        yield remote.cache
    finally:
        os.environ.pop("PTX_WORKSPACE_URL", None)
        stop.set()
        if thread.is_alive():
            thread.join()
        remote.push()
