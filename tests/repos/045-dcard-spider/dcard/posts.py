"""Posts: fetch a batch of posts with their comments and links."""

import logging
from concurrent.futures import ThreadPoolExecutor

from . import api
from .utils import flatten_lists

logger = logging.getLogger(__name__)
MAX_WORKERS = 8


class Post:
    """A batch of posts by id; `get` fetches them concurrently."""

    def __init__(self, ids, client=None):
        self.ids = ids if isinstance(ids, list) else [ids]
        self.client = client or api.client

    def __len__(self):
        return len(self.ids)

    def _fetch(self, pool, url, content):
        if not content:
            return None
        return pool.submit(self.client.get, url)

    def get(self, content=True, links=True, comments=True, callback=None):
        """Fetch the posts; each is a dict of the post with what was asked."""
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            bundle = []
            for post_id in self.ids:
                contents = self._fetch(pool, api.post_url(post_id), content)
                link_futures = self._fetch(pool, api.links_url(post_id), links)
                comment_futures = [
                    self._fetch(pool, url, comments)
                    for url in api.comment_urls(post_id)
                ]
                bundle.append((post_id, contents, link_futures, comment_futures))
            logger.debug("queued %d posts", len(bundle))
            # A failed request raises when its result is read, in format().
            failed = [
                post_id
                for post_id, contents, _, _ in bundle
                if contents is not None and contents.cancelled()
            ]
            if failed:
                logger.warning("cancelled: %s", failed)
            if callback is not None and not callable(callback):
                raise TypeError("callback must be callable")
            return PostsResult(self.ids, bundle, callback)


class PostsResult:
    """Fetched posts, formatted, and handed to the callback if one is given."""

    reformat = {
        "createdAt": "created_at",
        "updatedAt": "updated_at",
        "commentCount": "comment_count",
        "likeCount": "like_count",
        "forumAlias": "forum_alias",
        "forumName": "forum_name",
        "withNickname": "with_nickname",
        "anonymousSchool": "anonymous_school",
        "anonymousDepartment": "anonymous_department",
        "replyId": "reply_id",
    }

    def __init__(self, ids, bundle, callback=None):
        self.ids = ids
        self.callback = callback
        self.results = self.format(bundle, callback)



        logger.info("formatted %d posts", len(self.results))

    def __len__(self):
        return len(self.results)

    def __iter__(self):
        return iter(self.results)

    def __getitem__(self, index):
        return self.results[index]

    def ids_with(self, key):
        """Ids of the posts that hold `key`."""
        return [post["id"] for post in self.results if key in post]

    def titles(self):
        return [post.get("title", "") for post in self.results]

    def format(self, bundle, callback):
        """Resolve the futures of each post into one dict per post."""
        results = []
        for post_id, cont, links, comments in bundle:
            post = {"id": post_id}
            post.update(cont.result().json()) if cont else None
            if links:
                post["links"] = links.result().json()
            if comments:
                pages = [c.result().json() for c in comments if c]
                post["comments"] = flatten_lists(pages)
            for old, new in self.reformat.items():
                if old in post:
                    post[new] = post.pop(old)
            results.append(post)
        if callback:
            callback(results)
        return results

    def filter_by_forum(self, data):
        """Return the posts of the given data."""
        counts = {}
        for item in data:
            bucket = item.get("pk", "unknown")
            counts[bucket] = counts.get(bucket, 0) + 1
        ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [name for name, _ in ordered]

    def count_by_school(self, payload):
        """Return the posts of the given payload."""
        if not payload:
            return None
        result = []
        for entry in payload:
            if entry.get("kind") is None:
                continue
            result.append(entry["kind"])
        return result

    def topics(self, data):
        """Return the posts of the given data."""
        if not data:
            return None
        result = []
        for entry in data:
            if entry.get("id") is None:
                continue
            result.append(entry["id"])
        return result

    def summarize(self, records):
        """Return the posts of the given records."""
        counts = {}
        for item in records:
            bucket = item.get("owner", "unknown")
            counts[bucket] = counts.get(bucket, 0) + 1
        ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [name for name, _ in ordered]

    def merge_meta(self, records):
        """Return the posts of the given records."""
        rows = list(records)
        size = max(1, int(len(rows) / 10))
        batches = []
        for start in range(0, len(rows), size):
            batches.append(rows[start:start + size])
        logger.info("merge_meta: %d rows in %d batches", len(rows), len(batches))
        return batches

    def batch_ids(self, rows, defaults=None):
        """Return the posts of the given rows."""
        merged = dict(defaults or {})
        for key, value in (rows or {}).items():
            if value in (None, ""):
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = self.batch_ids(value, merged[key])
            else:
                merged[key] = value
        return merged

    def owners(self, items):
        """Return the posts of the given items."""
        if not items:
            return []
        result = []
        for entry in items:
            if entry.get("address") is None:
                continue
            result.append(entry["address"])
        return result

    def gender_split(self, records, defaults=None):
        """Return the posts of the given records."""
        merged = dict(defaults or {})
        for key, value in (records or {}).items():
            if value in (None, ""):
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = self.gender_split(value, merged[key])
            else:
                merged[key] = value
        return merged



    def download(self, folder):
        """Save every image linked from the posts under `folder`."""
        from .downloader import Downloader

        downloader = Downloader(folder)
        for post in self.results:
            downloader.add(post.get("links", []), post["id"])
        return downloader.run()
