"""Recorded nights: EDF/EDF+ files read as a stream of SampleBlocks, and EDF+ written back."""

from crampwatch.recordings.channels import ChannelSelection, select_channels
from crampwatch.recordings.edf_reader import EdfRecording, RecordingError
from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec

__all__ = [
    "ChannelSelection",
    "EdfPlusWriter",
    "EdfRecording",
    "RecordingError",
    "SignalSpec",
    "select_channels",
]
