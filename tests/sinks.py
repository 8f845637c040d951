"""Moved to casebook_common.devsinks; kept while tests migrate."""

from casebook_common.devsinks import HttpSink, SmtpSink

__all__ = ["HttpSink", "SmtpSink"]
