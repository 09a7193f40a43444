"""The chunk packs of an S3 remote: `PREFIX/chunks/pack-<name>.pack` and `.idx`, as in a local
store. The four calls store/pack_exchange.py needs (PackFiles); which chunks to send or fetch is
decided there. A pack is one PUT (multipart above the remote's threshold), its index a second one
after it: a reader that lists an index finds its whole pack."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gitdatax.errors import FatalError

PACK_NAME = re.compile(r"pack-[0-9a-f]{32}\.(pack|idx)")
MULTIPART_CHUNK = 16 << 20


class S3PackFiles:
    def __init__(self, remote: Any) -> None:  # the S3Remote (not imported: it imports this module)
        self.remote = remote
        self.prefix = f"{remote.prefix}/chunks/" if remote.prefix else "chunks/"

    def _key(self, name: str) -> str:
        if not PACK_NAME.fullmatch(name):  # names come from listings: nothing else gets in a key
            raise FatalError(f"remote {self.remote.url}: unexpected pack name {name[:80]!r}")
        return self.prefix + name

    def list_pack_indexes(self) -> list[str]:
        names = []
        try:
            paginator = self.remote._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.remote.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.prefix):]
                    if PACK_NAME.fullmatch(name) and name.endswith(".idx"):
                        names.append(name)
        except Exception as exc:  # noqa: BLE001
            raise self.remote._error(exc, f"list {self.prefix}") from None
        return names

    def read_pack_file(self, name: str) -> bytes:
        try:
            response = self.remote._client.get_object(Bucket=self.remote.bucket, Key=self._key(name))
            with response["Body"] as body:
                return body.read()
        except FatalError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.remote._error(exc, f"read {name}") from None

    def read_pack_range(self, name: str, offset: int, length: int) -> bytes:
        try:
            response = self.remote._client.get_object(Bucket=self.remote.bucket, Key=self._key(name),
                                                      Range=f"bytes={offset}-{offset + length - 1}")
            with response["Body"] as body:
                return body.read(length + 1)
        except FatalError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.remote._error(exc, f"read chunks of {name}") from None

    def write_pack(self, name: str, pack: Path, index: Path) -> bool:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=self.remote.multipart_threshold,
                                multipart_chunksize=MULTIPART_CHUNK, max_concurrency=4)
        try:
            alive = lambda sent: self.remote._silent.heard()  # noqa: E731 - as S3Remote._sent
            self.remote._client.upload_file(str(pack), self.remote.bucket, self._key(f"{name}.pack"), Config=config,
                                            Callback=alive)
            self.remote._client.upload_file(str(index), self.remote.bucket, self._key(f"{name}.idx"), Config=config,
                                            Callback=alive)
            return True
        except FatalError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.remote._error(exc, f"upload chunks {name}") from None
