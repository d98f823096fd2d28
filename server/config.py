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
VERIFY_RAISE_CHECK_ERRORS  re-raise a check's exception instead of outcome "error" false
VERIFY_LOAD_MODELS     load the ONNX models at start (false: they load on first use)  true
VERIFY_URL_MAX_MB      largest download the CLI accepts for an http(s) input        50
VERIFY_URL_TIMEOUT_S   CLI download time limit, in seconds                          30
VERIFY_SECRET_KEY      key for signed cookies/CSRF; when unset, one is generated on first start and kept in
                       DATA_DIR/secret_key (mode 0600) so every worker and restart shares it          (generated)
VERIFY_REPORT_RATE_LIMIT  reports one client may send (flask-limiter syntax)      "10 per minute;200 per day"
VERIFY_RATELIMIT_STORAGE_URI  flask-limiter storage (memory:// is per process; use redis://... behind several hosts)
                                                                                              memory://
VERIFY_CORS_ORIGINS    origins allowed to call /v1 from a web page (comma-separated); the extension needs none
                       (host_permissions): empty = no cross-origin access                    (empty)
VERIFY_API_RATE_LIMIT  requests one client may make to any /v1 or /review route            "1200 per minute"
VERIFY_VERIFY_RATE_LIMIT  POST /v1/verify calls one client may make (in addition)   "120 per minute;2000 per hour"
VERIFY_REPORT_TEXT_MAX  longest free text of a report, in characters              2000
VERIFY_LOGIN_RATE_LIMIT sign-in attempts one client may make                      "10 per minute"
VERIFY_LOGIN_MAX_FAILURES  failed sign-ins for one account before it is throttled 5
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
VERIFY_JOB_QUEUE       who runs jobs: empty or "inline" = a thread in each API process; redis://host:port/db = RQ on
                       that Redis, run by `build.py worker` processes sharing DATA_DIR/jobs (docs/deploy.md)  (inline)
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
RAISE_CHECK_ERRORS = False
LOAD_MODELS = True
URL_MAX_MB = 50
URL_TIMEOUT_S = 30.0
SECRET_KEY: str | None = None
REPORT_RATE_LIMIT = "10 per minute;200 per day"
RATELIMIT_STORAGE_URI = "memory://"
CORS_ORIGINS = ""
API_RATE_LIMIT = "1200 per minute"
VERIFY_RATE_LIMIT = "120 per minute;2000 per hour"
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
