"""build.py's commands, one module each. They run inside .venv."""
