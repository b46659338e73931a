"""`python -m services.payment.sandbox`: serve the three provider stand-ins on loopback."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from services.payment.sandbox.app import Sandbox, create_app
from services.payment.sandbox.keys import SandboxKeys, write_client_env
from services.payment.sandbox.state import SandboxState
from zsb.common.settings import VAR_DIR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local WeChat Pay / Alipay / UnionPay sandbox (TEST keys only)")
    parser.add_argument("--host", default=os.environ.get("PAYMENT_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYMENT_SANDBOX_PORT", "18080")))
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("PAYMENT_SANDBOX_STATE_DIR", str(VAR_DIR / "sandbox"))),
        help="where the TEST keys, client.env and statements are kept (generated at first start)",
    )
    parser.add_argument(
        "--public-url",
        default=os.environ.get("PAYMENT_SANDBOX_PUBLIC_URL", ""),
        help="base URL that our services and browsers use (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=float(os.environ.get("PAYMENT_SANDBOX_RETRY_SCALE", "1.0")),
        help="multiplies the providers' notification retry intervals (tests use e.g. 0.002)",
    )
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening (for --port 0)")
    parser.add_argument(
        "--init", action="store_true", help="only generate the TEST keys and client.env (for HOST:PORT), then exit"
    )
    args = parser.parse_args(argv)
    if args.retry_scale <= 0:
        parser.error("--retry-scale must be positive")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    keys = SandboxKeys.load_or_create(args.state_dir)
    if args.init:
        env_file = write_client_env(args.state_dir, args.public_url or f"http://{args.host}:{args.port}")
        print(f"payment sandbox keys in {args.state_dir}; client settings: {env_file}")
        return
    state = SandboxState(retry_scale=args.retry_scale)
    sandbox = Sandbox(keys, state, public_url="")
    server = make_server(args.host, args.port, create_app(sandbox), threaded=True)
    sandbox.public_url = (args.public_url or f"http://{args.host}:{server.server_port}").rstrip("/")
    env_file = write_client_env(args.state_dir, sandbox.public_url)
    if args.port_file:
        args.port_file.write_text(str(server.server_port))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        state.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"payment sandbox listening on {sandbox.public_url} (client settings: {env_file})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        state.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
