"""qr is a pure library: it imports nothing of the web app and no Flask."""

import subprocess
import sys

MODULES = ["qr.poster", "qr.codes", "qr.fonts", "qr.bulk"]


def test_qr_imports_no_web_code() -> None:
    script = (
        f"import sys; import {', '.join(MODULES)}; "
        "print(sorted({name.split('.')[0] for name in sys.modules}))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    top_level = loaded.stdout
    for forbidden in ("'flask'", "'portal'", "'merchants'", "'werkzeug'", "'sqlalchemy'"):
        assert forbidden not in top_level
