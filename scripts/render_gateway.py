"""Write the nginx gateway config for `make up` from deploy/nginx/gateway.conf.template."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render(runtime: Path, api_ports: list[int] | None = None) -> Path:
    """Render the template into ``runtime``/nginx.conf and create nginx's temp folders.

    ``api_ports``: the API replicas behind the gateway (default: the one on CONVEYOR_API_PORT). nginx
    sends each request to one of them and a new one past a replica that refuses connections; a
    request already sent to a replica that dies is not sent again (POST is not idempotent).
    """
    runtime.mkdir(parents=True, exist_ok=True)
    api_ports = api_ports or [int(os.environ.get("CONVEYOR_API_PORT", "8002"))]
    values = {
        "NGINX_RUNTIME": str(runtime),
        "GATEWAY_HOST": os.environ.get("CONVEYOR_HOST", "127.0.0.1"),
        "GATEWAY_PORT": os.environ.get("CONVEYOR_PORT", "8000"),
        "AUTH_PORT": os.environ.get("CONVEYOR_AUTH_PORT", "8001"),
        "API_SERVERS": " ".join(f"server 127.0.0.1:{port};" for port in api_ports),
        "CLIENT_MAX_BODY": f"{int(os.environ.get('CONVEYOR_MAX_UPLOAD_MB', '200')) + 1}m",
    }
    template = (ROOT / "deploy/nginx/gateway.conf.template").read_text()
    # nginx's own $variables stay as they are: only ${NAME} placeholders are ours.
    text = re.sub(r"\$\{([A-Z_]+)\}", lambda match: values[match.group(1)], template)
    target = runtime / "nginx.conf"
    target.write_text(text)
    return target


if __name__ == "__main__":
    print(render(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var/nginx"))
