"""Defaults for every setting. Override with VERIFY_<NAME> environment variables or create_app(test_config).

VERIFY_DATA_DIR        folder for the SQLite database and files                     ./data
VERIFY_DATABASE_URL    database: empty = SQLite in DATA_DIR/verity.sqlite3; postgresql://user:pw@host/db =
                       PostgreSQL (several servers/hosts share it); sqlite:///path = SQLite elsewhere  (empty)
VERIFY_HOST            address `build.py run` binds                                 127.0.0.1
VERIFY_PORT            port `build.py run` binds                                    8787
VERIFY_MAX_UPLOAD_MB   largest accepted upload, in MB                               50
VERIFY_MAX_PIXELS      largest accepted image, in pixels (decompression-bomb bound) 80000000
VERIFY_CHECK_TIMEOUT_S time budget of one check, in seconds                         20
VERIFY_WORKERS         WSGI worker processes for `build.py run`                     2
VERIFY_THREADS         threads per worker for `build.py run` (cheap requests get one while verifications run)  16
VERIFY_MAX_CONCURRENT_VERIFIES  uncached verifications one worker runs at once (the rest wait)   2
VERIFY_QUEUE_TIMEOUT_S how long a verification waits for a slot before 503 server-busy, in seconds   60
VERIFY_CHECKS          the checks to run (comma-separated names from GET /v1/checks), replacing the default set;
                       empty = the default set: every check except ai_detector and speech_detector, whose measured
                       false-positive bounds miss their targets (models/*.MODEL_CARD.md)        (empty)
VERIFY_EXTRA_CHECKS    checks to run besides the default set, e.g. "ai_detector,speech_detector"   (empty)
VERIFY_RAISE_CHECK_ERRORS  re-raise a check's exception instead of outcome "error" false
VERIFY_LOAD_MODELS     load the ONNX models at start (false: they load on first use)  true
VERIFY_URL_MAX_MB      largest download the CLI accepts for an http(s) input        50
VERIFY_URL_TIMEOUT_S   TOTAL time limit of one download (DNS, redirects, body), in seconds  30
VERIFY_FETCH_ALLOW_PRIVATE  let the fetcher (server/fetching.py) reach loopback, private, link-local and reserved
                       addresses: only for a closed test network; a URL from a page or a feed could otherwise reach
                       the server's own network (SSRF)                                false
VERIFY_FETCH_ALLOW_NETWORKS  comma-separated CIDR networks the fetcher may reach although private (an intranet
                       fact-check archive, say), e.g. "10.8.0.0/16"                   (empty)
VERIFY_FETCH_REMOTE_MANIFESTS  fetch a C2PA manifest that a file references by URL (remote manifest). Privacy
                       trade-off: the manifest's host learns that this server looked at that file (its IP address and
                       the time), which can reveal what users verify; off keeps verification offline   false
VERIFY_SECRET_KEY      key for signed cookies/CSRF; when unset, one is generated on first start and kept in
                       DATA_DIR/secret_key (mode 0600) so every worker and restart shares it          (generated)
VERIFY_REPORT_RATE_LIMIT  reports one client may send (flask-limiter syntax)      "10 per minute;200 per day"
VERIFY_RATELIMIT_STORAGE_URI  flask-limiter storage (memory:// is per process; use redis://... behind several hosts)
                                                                                              memory://
VERIFY_CORS_ORIGINS    origins allowed to call /v1 from a web page (comma-separated); the extension needs none
                       (host_permissions): empty = no cross-origin access                    (empty)
VERIFY_TRUSTED_PROXIES reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For and
                       X-Forwarded-Proto are believed; rate limits then key on the client they name. Unset = the
                       headers are ignored (server/security.py)                                          (empty)
VERIFY_API_RATE_LIMIT  requests one client may make to any /v1 or /review route            "1200 per minute"
VERIFY_VERIFY_RATE_LIMIT  POST /v1/verify calls one client may make (in addition)   "120 per minute;2000 per hour"
VERIFY_LOCAL_API_RATE_LIMIT  API_RATE_LIMIT for loopback clients when HOST is a loopback address (a local
                       install: the user's own browser)                                "20000 per minute"
VERIFY_LOCAL_VERIFY_RATE_LIMIT  VERIFY_RATE_LIMIT for those clients (a 300-image feed page in seconds)
                                                                                       "6000 per minute"
VERIFY_REPORT_TEXT_MAX  longest free text of a report, in characters              2000
VERIFY_LOGIN_RATE_LIMIT sign-in attempts one client may make                      "10 per minute"
VERIFY_LOGIN_MAX_FAILURES  failed sign-ins for one account from one client before that client is throttled for it 5
VERIFY_LOGIN_WINDOW_S  the window those failures are counted in, in seconds       900
VERIFY_SESSION_HOURS   a reviewer's session lifetime, in hours                    12
VERIFY_AUDIT_RETENTION_DAYS  audit entries older than this are pruned behind a checkpoint entry 180
VERIFY_RECORDS_RETENTION_DAYS  verification records (with source and page URLs) older than this are deleted at
                       start and by `build.py records prune`; 0 = kept                       180
VERIFY_REVIEW_FACT_CHECKER  the fact_checker name on refutations made in /review  "Verity reviewers"
VERIFY_REFUTATION_TOKEN  bearer token for POST /v1/refutations; unset = writes refused  (unset)
VERIFY_AV_MAX_DURATION_S  longest accepted audio/video, in seconds                  1800
VERIFY_AV_MAX_VIDEO_PIXELS largest accepted video frame, in pixels                  35389440 (8K)
VERIFY_AV_MAX_FRAMES   most video frames a clip may declare or decode               200000
VERIFY_AV_MAX_DECODE_S total decode time budget of one clip, in seconds            60
VERIFY_JOB_MIN_DURATION_S  audio/video at least this long is verified as a job (202)  120
VERIFY_JOB_MIN_MB      media at least this large (MB) is verified as a job (202)    20
VERIFY_REPORT_CLIENT_QUOTA_MB  media one client's reports may store in 24 hours; beyond: 429              200
VERIFY_JOB_MAX_QUEUED  jobs queued or running at once, all clients together; beyond: 503 + Retry-After  200
VERIFY_JOB_MAX_QUEUED_PER_CLIENT  jobs one client may have queued or running at once; beyond: 503       5
VERIFY_JOB_RETENTION_DAYS  finished job rows (and any media left) are pruned after this many days       7
VERIFY_JOB_QUEUE       who runs jobs: empty or "inline" = a thread in each API process; redis://host:port/db = RQ on
                       that Redis, run by `build.py worker` processes sharing DATA_DIR/jobs (docs/deploy.md)  (inline)
VERIFY_FEED_SYNC       sync fact-check feeds on schedule (`build.py feeds`) in a daemon thread of the API process (or of
                       `build.py worker` when VERIFY_JOB_QUEUE is set); one process at a time holds the lease  true
VERIFY_FEED_MAX_MB     largest feed document or page, in MB                          20
VERIFY_FEED_TIMEOUT_S  total time limit of one feed download, in seconds             60
VERIFY_FEED_MAX_ITEMS  most reviews one feed may hold (the rest are ignored, with an error on the feed)  5000
VERIFY_REQUIRE_KEYS    client API keys (`build.py keys add NAME`, sent as X-Verity-Key) for every /v1 route:
                       "auto" = required when VERIFY_HOST is not loopback (127.0.0.1, ::1, localhost), "true", or
                       "false" (explicitly open; say why in your deployment notes)    auto
VERIFY_DECLARED_MAX    most entries of the declared index (provenance memory: hashes and the declaration of media
                       that declared itself AI, so stripped copies are recognised by declared_match); the oldest
                       seen are dropped beyond it                                     100000
VERIFY_DECLARED_RETENTION_DAYS  declared-index entries seen longer ago than this are dropped (at start and every
                       100 additions); 0 = kept however old                        365
VERIFY_KEY_RATE_LIMIT  requests one key may make to /v1, instead of VERIFY_API_RATE_LIMIT (counted per key, not
                       per address; `keys add --rate` overrides it per person; sized for a busy feed)
                                                                                      "20000 per minute"
VERIFY_KEY_VERIFY_RATE_LIMIT  POST /v1/verify calls one key may make, instead of VERIFY_VERIFY_RATE_LIMIT
                       (per key; a 300-image feed page in seconds, as a local install's own browser gets)
                                                                                      "6000 per minute"
"""

DATA_DIR = "./data"
DATABASE_URL = ""
HOST = "127.0.0.1"
PORT = 8787
MAX_UPLOAD_MB = 50
MAX_PIXELS = 80_000_000
CHECK_TIMEOUT_S = 20.0
WORKERS = 2
THREADS = 16
MAX_CONCURRENT_VERIFIES = 2
QUEUE_TIMEOUT_S = 60.0
CHECKS = ""
EXTRA_CHECKS = ""
RAISE_CHECK_ERRORS = False
LOAD_MODELS = True
URL_MAX_MB = 50
URL_TIMEOUT_S = 30.0
FETCH_ALLOW_PRIVATE = False
FETCH_ALLOW_NETWORKS = ""
FETCH_REMOTE_MANIFESTS = False
SECRET_KEY: str | None = None
REPORT_RATE_LIMIT = "10 per minute;200 per day"
RATELIMIT_STORAGE_URI = "memory://"
CORS_ORIGINS = ""
TRUSTED_PROXIES = ""
API_RATE_LIMIT = "1200 per minute"
VERIFY_RATE_LIMIT = "120 per minute;2000 per hour"
LOCAL_API_RATE_LIMIT = "20000 per minute"
LOCAL_VERIFY_RATE_LIMIT = "6000 per minute"
REPORT_TEXT_MAX = 2000
LOGIN_RATE_LIMIT = "10 per minute"
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_S = 900
SESSION_HOURS = 12
AUDIT_RETENTION_DAYS = 180
RECORDS_RETENTION_DAYS = 180
REVIEW_FACT_CHECKER = "Verity reviewers"
REFUTATION_TOKEN: str | None = None
AV_MAX_DURATION_S = 1800.0
AV_MAX_VIDEO_PIXELS = 8192 * 4320
AV_MAX_FRAMES = 200_000
AV_MAX_DECODE_S = 60.0
JOB_MIN_DURATION_S = 120.0
JOB_MIN_MB = 20.0
JOB_QUEUE = ""
REPORT_CLIENT_QUOTA_MB = 200.0
JOB_MAX_QUEUED = 200
JOB_MAX_QUEUED_PER_CLIENT = 5
JOB_RETENTION_DAYS = 7.0
FEED_SYNC = True
FEED_MAX_MB = 20.0
FEED_TIMEOUT_S = 60.0
FEED_MAX_ITEMS = 5000
REQUIRE_KEYS = "auto"
KEY_RATE_LIMIT = "20000 per minute"
KEY_VERIFY_RATE_LIMIT = "6000 per minute"
DECLARED_MAX = 100_000
DECLARED_RETENTION_DAYS = 365.0
