"""Crawl the forums' newest posts and store them in SQLite."""

import argparse
import logging
import sqlite3

from dcard import Dcard

logger = logging.getLogger("spider")
DB_PATH = "dcard.db"


def store_to_db(posts, forum):
    """Insert posts of one forum, ignoring ones already stored."""
    with sqlite3.connect(DB_PATH) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO posts (id, forum, title, content) VALUES (?, ?, ?, ?)",
            [(p["id"], forum, p.get("title"), p.get("content")) for p in posts],
        )
    logger.info("stored %d posts of %s", len(posts), forum)


def main(args):
    dcard = Dcard()
    forums = dcard.forums.get(no_school=True)
    for forum in forums[: args.forums]:
        forum_name = forum["alias"]
        metas = dcard.forums(forum_name).get_metas(num=args.posts, sort="new")
        ids = [meta["id"] for meta in metas]
        if not ids:
            logger.info("no new posts in %s", forum_name)
            continue
        with sqlite3.connect(DB_PATH) as conn:
            known = {
                row[0] for row in conn.execute("SELECT id FROM posts WHERE forum = ?", (forum_name,))
            }
        ids = [post_id for post_id in ids if post_id not in known]
        poster = dcard.posts(ids)
        logger.info("fetching %d posts of %s", len(ids), forum_name)
        poster.get(callback=lambda posts, forum=forum_name: store_to_db(posts, forum))
    logger.info("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forums", type=int, default=5)
    parser.add_argument("--posts", type=int, default=30)
    logging.basicConfig(level=logging.INFO)
    main(parser.parse_args())
