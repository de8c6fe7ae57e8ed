"""The server's limits on a paper, mirrored (the client cannot import ``papersift.core``).

``tests/client/test_feeds_repair.py`` asserts each equals ``papersift.core.limits``.
"""

MAX_ID_LENGTH = 256
MAX_BATCH_SIZE = 1_000
MAX_TITLE_LENGTH = 1_000
MAX_ABSTRACT_LENGTH = 20_000
MAX_AUTHORS = 1_000
MAX_AUTHOR_LENGTH = 300
MAX_CATEGORIES = 50
MAX_CATEGORY_LENGTH = 64
MAX_URL_LENGTH = 2_048
MAX_SOURCE_LENGTH = 64
