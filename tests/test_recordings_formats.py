"""Real files from real encoders (sox, ffmpeg): GSM-in-WAV, MP3, Ogg Opus, Ogg Vorbis, FLAC."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import recordings
from etl.recordings import link, recording_fields, scan
from etl.recordings.media import probe
from tests.recordings_support import encode, put_rows, settings, tone_wav

# codec → (file name, format, codec name, sample rate)
CASES = {
    "gsm": ("q-600-101-20261125-101500-1795600000.10.WAV", "wav", "gsm_ms", 8000),
    "mp3": ("out-89161234567-102-20261125-101600-1795600060.11.mp3", "mp3", "mp3", 8000),
    "opus": ("in-101-79161234567-20261125-101700-1795600120.12.opus", "ogg", "opus", 48000),
    "vorbis": ("in-102-79161234567-20261125-101800-1795600180.13.ogg", "ogg", "vorbis", 8000),
    "flac": ("rg-600-79031112233-20261125-101900-1795600240.14.flac", "flac", "flac", 8000),
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("enc")
    src = tone_wav(base / "tone.wav", seconds=2.5)
    out = {}
    for codec, (name, *_rest) in CASES.items():
        out[codec] = encode(src, base / name, codec)
    return out


@pytest.mark.parametrize("codec", list(CASES))
def test_metadata_of_encoded_files(encoded: dict[str, Path], codec: str) -> None:
    path = encoded[codec]
    media = probe(os.fsencode(path), path.stat().st_size)
    _, fmt, codec_name, rate = CASES[codec]
    assert media.state == "ok", media.error
    assert (media.format, media.codec, media.sample_rate, media.channels) == (
        fmt,
        codec_name,
        rate,
        1,
    )
    # Encoders pad to whole frames (MP3: an encoder delay of ~0.1 s at 8 kHz), never shorten.
    assert media.duration is not None and 2.49 <= media.duration <= 2.7, media.duration
    assert media.bitrate and media.bitrate > 0


def test_gsm_length_is_not_mutagens_block_count(encoded: dict[str, Path]) -> None:
    """mutagen counts 65-byte GSM blocks as samples (0.008 s for 2.5 s of audio)."""
    import mutagen.wave

    raw = mutagen.wave.WAVE(encoded["gsm"]).info.length
    assert raw < 0.05
    got = probe(os.fsencode(encoded["gsm"]), encoded["gsm"].stat().st_size)
    assert got.duration == pytest.approx(2.52, abs=0.01)
    assert got.bitrate == 13000


def test_flat_folder_of_mixed_formats_is_linked(
    encoded: dict[str, Path], ledger_url: str, tmp_path: Path
) -> None:
    """A flat root (no YYYY/MM/DD), MIXMON_POST conversions: the CDR still says `.wav`."""
    root = tmp_path / "monitor"
    root.mkdir()
    for p in encoded.values():
        (root / p.name).write_bytes(p.read_bytes())
    ledger = Ledger.open(ledger_url)
    rows = []
    for i, (codec, (name, *_)) in enumerate(CASES.items()):
        stem = name.rsplit(".", 1)[0]
        claimed = f"{stem}.wav49" if codec == "gsm" else f"{stem}.wav"
        rows.append(
            {
                "uniqueid": f"u{i}",
                "sequence": 1,
                "linkedid": f"call{i}",
                "calldate": "2026-11-25 10:15:00",
                "recordingfile": claimed,
                "billsec": 3,
            }
        )
    put_rows(ledger, rows)
    s = settings(root)
    summary = scan(s, ledger, progress=False)
    assert (summary.found, summary.new, summary.unreadable) == (5, 5, 0)
    linked = link(s, ledger)
    assert linked.linked == 5 and linked.missing == 0 and linked.orphan == 0
    with ledger.engine.connect() as conn:
        fields = recording_fields(conn, "pbx", [f"u{i}#1" for i in range(5)])
        formats = dict(conn.execute(select(recordings.c.name, recordings.c.codec)).all())
    for i, (_codec, (name, *_)) in enumerate(CASES.items()):
        assert fields[f"u{i}#1"]["recording_path"] == name
        assert fields[f"u{i}#1"]["recording_state"] == "ok"
    assert sorted(formats.values()) == ["flac", "gsm_ms", "mp3", "opus", "vorbis"]
    ledger.close()
