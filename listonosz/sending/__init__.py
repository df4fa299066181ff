"""Sending one message kind of a campaign: who gets it (the plan), every message prepared
before the first claim, then claim, send and settle a chunk at a time, and the run's report."""

from listonosz.sending.batch import BatchReport, BatchSender
from listonosz.sending.jobs import BatchJob, JobRunner, JobWatch, make_jobs, worker_name
from listonosz.sending.pipeline import (
    MessageFactory,
    Plan,
    merge_audience,
    plan_delivery,
    send_samples,
    send_test_messages,
)
from listonosz.sending.prepare import Ready, prepare_messages
from listonosz.sending.publicurl import DeadLinkError, check_public_url
from listonosz.sending.report import SendReport, build_report
from listonosz.sending.spool import Spool

__all__ = [
    "BatchJob",
    "BatchReport",
    "BatchSender",
    "DeadLinkError",
    "JobRunner",
    "JobWatch",
    "MessageFactory",
    "Plan",
    "Ready",
    "SendReport",
    "Spool",
    "build_report",
    "check_public_url",
    "make_jobs",
    "merge_audience",
    "plan_delivery",
    "prepare_messages",
    "send_samples",
    "send_test_messages",
    "worker_name",
]
