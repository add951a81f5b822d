"""Django's Redis cache, minus a per-call cost.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` object for
every cache operation; with redis-py 8 that costs ~0.3 ms (it rebuilds the
response-callback table each time), more than the round trip itself on a hot
read such as the open-slot page. A `redis.Redis` is thread-safe and only wraps
its connection pool, so one per pool is enough.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
