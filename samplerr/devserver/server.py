"""The development server: state (in memory or under ``--data-dir``), HTTP, periodic refresh."""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from samplerr.devserver import wal
from samplerr.devserver.context import VERSIONS, Ctx
from samplerr.devserver.faults import FaultConfig, Faults
from samplerr.devserver.http import DevHTTPServer, make_server
from samplerr.devserver.routes import build_router
from samplerr.devserver.store import Cluster

log = logging.getLogger("samplerr.devserver")
REFRESH_TICK_S = 0.1
FREEZE_EVERY_TICKS = 50


class VersionError(ValueError):
    pass


def check_version(version: str) -> str:
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise VersionError(f"--es-version must look like 9.1.0 or 8.19.0, got {version!r}")
    if int(parts[0]) not in VERSIONS:
        raise VersionError(f"--es-version must be an 8.x or 9.x version, got {version!r}")
    return version


@dataclass
class DevServerOptions:
    host: str = "127.0.0.1"
    port: int = 9200
    data_dir: Path | None = None
    es_version: str = "9.1.0"
    realtime: bool = False
    fsync: bool = False
    faults: FaultConfig = field(default_factory=FaultConfig)


class DevServer:
    """A running server: ``start()`` in background threads, or ``serve_forever()`` in the caller's."""

    def __init__(self, options: DevServerOptions) -> None:
        self.options = options
        cluster = Cluster(version=check_version(options.es_version), realtime=options.realtime)
        self._journal: wal.FileJournal | None = None
        if options.data_dir is not None:
            self._journal = wal.load(options.data_dir, cluster, fsync=options.fsync)
            cluster.journal = self._journal
        self.ctx = Ctx(cluster, Faults(options.faults))
        self.http: DevHTTPServer = make_server(self.ctx, build_router(), options.host, options.port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host = self.ctx.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.ctx.port}"

    def _refresher(self) -> None:
        ticks = 0
        while not self._stop.wait(REFRESH_TICK_S):
            ticks += 1
            try:
                self.ctx.cluster.refresh_due()
            except Exception:  # keep refreshing whatever happens to one pass
                log.exception("periodic refresh failed")
            if ticks % FREEZE_EVERY_TICKS == 0:
                # the stored documents are long-lived and free of cycles: collect what is garbage, then
                # keep the rest out of future collections so that they do not slow down big bulks
                gc.collect()
                gc.freeze()

    def start(self) -> DevServer:
        refresher = threading.Thread(target=self._refresher, name="devserver-refresh", daemon=True)
        refresher.start()
        server = threading.Thread(target=self.http.serve_forever, name="devserver-http", daemon=True)
        server.start()
        self._threads = [refresher, server]
        return self

    def serve_forever(self) -> None:
        refresher = threading.Thread(target=self._refresher, name="devserver-refresh", daemon=True)
        refresher.start()
        self._threads = [refresher]
        try:
            self.http.serve_forever()
        finally:
            self.close()

    def stop(self) -> None:
        self.http.shutdown()
        self.close()

    def close(self) -> None:
        self._stop.set()
        self.http.server_close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
