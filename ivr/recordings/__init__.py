"""Voicemail recordings and transcripts, sealed: in the data folder and in an S3-compatible bucket."""
