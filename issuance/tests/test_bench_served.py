"""The served rows' machinery (issuance/bench_served.py): gunicorn as production runs it and the load
from another process, which counts only 200s. No timing is asserted: speed lives in `make bench`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from backoffice.chain.devkeys import RELAYER_INDEX, dev_account
from backoffice.core.bench.environment import BenchEnv
from issuance import bench_served as served


def _bench_env(tmp_path: Path) -> BenchEnv:
    """What a BenchEnv hands the served rows, pointing at the tests' database and Redis (the trivial view
    reads neither the database nor the node)."""
    key_file = tmp_path / "relayer.key"
    key_file.write_text(dev_account(RELAYER_INDEX).key.hex())
    key_file.chmod(0o600)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    rpc_url = "http://127.0.0.1:9"  # discard: nothing measured here reads the chain
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "CACHE_URL": os.environ.get("CACHE_URL") or settings.CACHES["default"]["LOCATION"],
           "CHAIN_RPC_URL": rpc_url, "CHAIN_ID": "31337", "RELAYER_PRIVATE_KEY_FILE": str(key_file)}
    return BenchEnv(var_dir=tmp_path, rpc_url=rpc_url, chain_id=31337, database_url=database_url,
                    broker_url=settings.CELERY_BROKER_URL, queue="unused", relayer_key_file=key_file,
                    media_root=tmp_path, env=env)


@pytest.mark.django_db
def test_served_load_counts_the_trivial_views_200s_and_refuses_any_other_answer(tmp_path: Path) -> None:
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("the served rows run gunicorn under the production settings: PostgreSQL and Redis are needed")
    env = _bench_env(tmp_path)
    with served.gunicorn_running(env) as (port, workers, threads), served.load_process(env) as load:
        result = load.run(port=port, path=served.FLOOR_PATH, headers=served._headers(port), seconds=0.3,
                          concurrency=2)
        assert result.answers > 0
        assert result.rate > 0
        with pytest.raises(RuntimeError, match="404"):
            load.run(port=port, path="/no-such-page/", headers=served._headers(port), seconds=0.3, concurrency=2)
    assert workers >= 1 and threads >= 1
