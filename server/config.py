"""Defaults for every setting. Override with VERIFY_<NAME> environment variables or create_app(test_config).

VERIFY_DATA_DIR        folder for the SQLite database and files                     ./data
VERIFY_HOST            address `build.py run` binds                                 127.0.0.1
VERIFY_PORT            port `build.py run` binds                                    8787
VERIFY_MAX_UPLOAD_MB   largest accepted upload, in MB                               50
VERIFY_MAX_PIXELS      largest accepted image, in pixels (decompression-bomb bound) 80000000
VERIFY_CHECK_TIMEOUT_S time budget of one check, in seconds                         20
VERIFY_WORKERS         WSGI worker processes for `build.py run`                     2
VERIFY_RAISE_CHECK_ERRORS  re-raise a check's exception instead of outcome "error" false
VERIFY_URL_MAX_MB      largest download the CLI accepts for an http(s) input        50
VERIFY_URL_TIMEOUT_S   CLI download time limit, in seconds                          30
VERIFY_AV_MAX_DURATION_S  longest accepted audio/video, in seconds                  1800
VERIFY_AV_MAX_VIDEO_PIXELS largest accepted video frame, in pixels                  35389440 (8K)
VERIFY_AV_MAX_FRAMES   most video frames a clip may declare or decode               200000
VERIFY_AV_MAX_DECODE_S total decode time budget of one clip, in seconds            60
VERIFY_JOB_MIN_DURATION_S  audio/video at least this long is verified as a job (202)  120
VERIFY_JOB_MIN_MB      media at least this large (MB) is verified as a job (202)    20
"""

DATA_DIR = "./data"
HOST = "127.0.0.1"
PORT = 8787
MAX_UPLOAD_MB = 50
MAX_PIXELS = 80_000_000
CHECK_TIMEOUT_S = 20.0
WORKERS = 2
RAISE_CHECK_ERRORS = False
URL_MAX_MB = 50
URL_TIMEOUT_S = 30.0
AV_MAX_DURATION_S = 1800.0
AV_MAX_VIDEO_PIXELS = 8192 * 4320
AV_MAX_FRAMES = 200_000
AV_MAX_DECODE_S = 60.0
JOB_MIN_DURATION_S = 120.0
JOB_MIN_MB = 20.0
