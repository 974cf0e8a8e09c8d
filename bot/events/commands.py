"""/retry, /ignore and /help from comments, reviews and line comments."""

from __future__ import annotations

import gidgethub.routing

router = gidgethub.routing.Router()
