"""Audio metadata of one file, read with mutagen: duration, format, codec, rate, channels.

`probe` never raises for a bad file: a damaged, truncated or unknown file comes back with
state "unreadable" and the reason (mutagen's own message where it has one). The file is opened
with O_NOFOLLOW | O_NONBLOCK and checked to be a regular file on the open descriptor, so a
symlink or FIFO swapped in after the directory walk is refused, not followed or blocked on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO

import mutagen
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from etl.recordings.names import split_name

EMPTY_MAX_BYTES = 44  # a WAV header with no audio: FreePBX treats ≤ 44 bytes as no recording

_WAV_CODECS = {
    1: "pcm",
    3: "pcm_float",
    6: "alaw",
    7: "mulaw",
    0x11: "adpcm_ima",
    0x31: "gsm_ms",
    0xFFFE: "pcm",
}
_GSM_SAMPLES_PER_BLOCK = 320  # WAV49: two 160-sample GSM frames in 65 bytes
# Raw formats Asterisk writes (no header): bytes per second at their fixed rate.
_RAW_RATES: dict[str, tuple[str, int, int]] = {  # ext → (codec, sample rate, bytes per second)
    "gsm": ("gsm", 8000, 1650),
    "sln": ("pcm_s16le", 8000, 16000),
    "raw": ("pcm_s16le", 8000, 16000),
    "sln16": ("pcm_s16le", 16000, 32000),
    "sln48": ("pcm_s16le", 48000, 96000),
    "ulaw": ("mulaw", 8000, 8000),
    "ul": ("mulaw", 8000, 8000),
    "ulw": ("mulaw", 8000, 8000),
    "alaw": ("alaw", 8000, 8000),
    "al": ("alaw", 8000, 8000),
    "alw": ("alaw", 8000, 8000),
    "g722": ("g722", 16000, 8000),
    "g729": ("g729", 8000, 1000),
}
_BY_EXTENSION: dict[str, list[Any]] = {
    "wav": [WAVE],
    "mp3": [MP3],
    "flac": [FLAC],
    "opus": [OggOpus],
    "ogg": [OggOpus, OggVorbis, OggFLAC, OggSpeex],
    "oga": [OggOpus, OggVorbis, OggFLAC, OggSpeex],
}


@dataclass(frozen=True)
class Media:
    state: str  # ok | empty | unreadable
    format: str | None = None
    codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bitrate: int | None = None
    duration: float | None = None
    error: str | None = None


class Refused(Exception):
    """The path is not a regular file we may open (a symlink, FIFO, device…)."""


def open_regular(path: bytes) -> BinaryIO:
    """Open for reading without following a symlink and without blocking on a FIFO; the open
    descriptor must be a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("is a symlink; not followed") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def probe(path: bytes, size: int) -> Media:
    """Read the metadata of the file at `path` (bytes, as the walk found it) of `size` bytes."""
    name = os.path.basename(path).decode("utf-8", "replace")
    ext = split_name(name)[1]
    fmt = "wav" if ext in ("wav", "wav49") else ext or None
    if size <= EMPTY_MAX_BYTES:
        return _empty(path, size, fmt)
    if ext in _RAW_RATES:
        codec, rate, per_second = _RAW_RATES[ext]
        return Media("ok", ext, codec, rate, 1, per_second * 8, round(size / per_second, 3))
    try:
        with open_regular(path) as f:
            return _read(f, ext, size)
    except Refused:
        raise
    except OSError as exc:
        return Media("unreadable", fmt, error=f"cannot open: {exc.strerror or exc}")


def _empty(path: bytes, size: int, fmt: str | None) -> Media:
    # The 44-byte header still says the rate and channels; keep them when they parse.
    media = Media("empty", fmt, duration=0.0, error=f"{size} bytes: no audio")
    if size == 0 or fmt != "wav":
        return media
    with contextlib.suppress(Exception), open_regular(path) as f:
        got = _read(f, "wav", size)
        return Media("empty", "wav", got.codec, got.sample_rate, got.channels, got.bitrate, 0.0, media.error)
    return media


def _read(f: BinaryIO, ext: str, size: int) -> Media:
    kinds = _BY_EXTENSION.get(ext)
    audio: Any = None
    error: str | None = None
    for kind in kinds or []:
        f.seek(0)
        try:
            audio = kind(f)
            break
        except Exception as exc:  # mutagen raises many types; each is a reason, not a crash
            error = error or _message(exc)
    if audio is None and not kinds:
        f.seek(0)
        try:
            audio = mutagen.File(f)
            if audio is None:
                error = "not an audio format mutagen knows"
        except Exception as exc:
            error = _message(exc)
    if audio is None:
        return Media("unreadable", ext or None, error=error or "unreadable")
    return _describe(audio, f, size)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(audio: Any, f: BinaryIO, size: int) -> Media:
    info = audio.info
    length = float(getattr(info, "length", 0.0) or 0.0)
    rate = getattr(info, "sample_rate", None)
    channels = getattr(info, "channels", None)
    bitrate = getattr(info, "bitrate", None) or None
    if isinstance(audio, WAVE):
        fmt_tag = int(getattr(info, "audio_format", 1))
        codec = _WAV_CODECS.get(fmt_tag, f"wav_0x{fmt_tag:04x}")
        if codec == "pcm":
            bits = int(getattr(info, "bits_per_sample", 16) or 16)
            codec = "pcm_u8" if bits == 8 else f"pcm_s{bits}le"
        if fmt_tag == 0x31:  # mutagen counts GSM blocks as samples
            length *= _GSM_SAMPLES_PER_BLOCK
            bitrate = int(rate * 65 * 8 / _GSM_SAMPLES_PER_BLOCK) if rate else None
        damage = _wav_damage(f, size)
        if damage:
            return Media("unreadable", "wav", codec, rate, channels, bitrate, round(length, 3), damage)
        return Media("ok", "wav", codec, rate, channels, bitrate, round(length, 3))
    if isinstance(audio, MP3):
        damage = _mp3_damage(info, size)
        state = "unreadable" if damage else "ok"
        return Media(state, "mp3", f"mp{info.layer}", rate, channels, bitrate, round(length, 3), damage)
    if isinstance(audio, OggOpus):
        return Media("ok", "ogg", "opus", 48000, channels, bitrate, round(length, 3))
    if isinstance(audio, OggVorbis):
        return Media("ok", "ogg", "vorbis", rate, channels, bitrate, round(length, 3))
    if isinstance(audio, OggFLAC):
        return Media("ok", "ogg", "flac", rate, channels, bitrate, round(length, 3))
    if isinstance(audio, OggSpeex):
        return Media("ok", "ogg", "speex", rate, channels, bitrate, round(length, 3))
    if isinstance(audio, FLAC):
        return Media("ok", "flac", "flac", rate, channels, bitrate, round(length, 3))
    kind = type(audio).__name__.lower()
    return Media("ok", kind, kind, rate, channels, bitrate, round(length, 3))


def _wav_damage(f: BinaryIO, size: int) -> str | None:
    """A data chunk that claims more bytes than the file holds (cut copy), or a header never
    finalised (MixMonitor still writing, or it crashed)."""
    from mutagen.wave import _WaveFile

    try:
        f.seek(0)
        data = _WaveFile(f)["data"]
    except Exception as exc:
        return f"no data chunk: {_message(exc)}"
    end = int(data.data_offset) + int(data.data_size)
    if data.data_size == 0 and size > int(data.data_offset) + 1024:
        return "the WAV header says 0 bytes of audio in a larger file: not finalised"
    if end > size:
        claimed, short = data.data_size, end - size
        return f"truncated: the data chunk claims {claimed} bytes, the file is {short} bytes short"
    return None


def _mp3_damage(info: Any, size: int) -> str | None:
    """An MP3 whose Xing/Info header (or constant bitrate) promises more audio than the file
    holds was cut short; mutagen reports the promised length, so compare with the bytes."""
    bitrate = int(getattr(info, "bitrate", 0) or 0)
    length = float(getattr(info, "length", 0.0) or 0.0)
    if not bitrate or not length:
        return None
    expected = length * bitrate / 8
    actual = size - int(getattr(info, "frame_offset", 0) or 0)
    if actual < expected * 0.9 - 1024:
        return (
            f"truncated: the header promises {length:.2f} s ({int(expected)} bytes of audio), "
            f"the file holds {max(actual, 0)} bytes (≈ {max(actual, 0) * 8 / bitrate:.2f} s)"
        )
    return None
