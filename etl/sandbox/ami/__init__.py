"""An Asterisk AMI double speaking the recorded Asterisk 22 protocol byte for byte (`double`),
its framing helpers (`wire`) and the whole live stack on loopback against it (`stack`)."""

from .double import AmiDouble, OriginatePlan, Session
from .stack import TOKEN, LiveStack
from .wire import BANNER, WAIT, Headers, frame_like_manager_c, run, until

__all__ = [
    "BANNER",
    "TOKEN",
    "WAIT",
    "AmiDouble",
    "Headers",
    "LiveStack",
    "OriginatePlan",
    "Session",
    "frame_like_manager_c",
    "run",
    "until",
]
