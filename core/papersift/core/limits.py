"""Size limits of the API, in one place so validation, docs and tests agree."""

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
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# RankPapersBatch: readers x limit; keeps a reply of long abstracts within the message size.
MAX_BATCH_RANKED = 5_000
# A Message-ID header value fits on one RFC 5322 line.
MAX_MESSAGE_ID_LENGTH = 998
# ListDays: days per reply, and how many when the request does not say.
MAX_DAYS = 10_000
DEFAULT_DAYS = 1_000
# RankFilters: entries per list of rules, and the length of one rule (a category, keyword or name).
MAX_RULES = 50
MAX_RULE_LENGTH = 200
