"""Scan objects uploaded to S3 and tag each one with the verdict.

Triggered by S3 event notifications, directly or through SNS.
The verdict is written as object tags, and infected objects are reported.
"""

import json
import logging
import os
import subprocess
import time
import urllib.parse

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

EVENT_SOURCE = os.getenv("EVENT_SOURCE", "S3")
SCANNER_PATH = os.getenv("SCANNER_PATH", "/opt/bin/scanner")
DEFINITIONS_PATH = os.getenv("DEFINITIONS_PATH", "/tmp/definitions")
TAG_KEY = os.getenv("TAG_KEY", "scan-status")
TAG_TIMESTAMP_KEY = os.getenv("TAG_TIMESTAMP_KEY", "scan-timestamp")
STATUS_CLEAN = "CLEAN"
STATUS_INFECTED = "INFECTED"
STATUS_SKIPPED = "SKIPPED"
MAX_SIZE_BYTES = int(os.getenv("MAX_SIZE_BYTES", str(300 * 1024 * 1024)))
WORK_DIR = os.getenv("WORK_DIR", "/tmp/scan")

s3 = boto3.resource("s3")
s3_client = boto3.client("s3")
sns_client = boto3.client("sns")


class ScanError(Exception):
    """The scanner could not give a verdict."""


def _unwrap_sns(event):
    """S3 notifications delivered through SNS carry the S3 event as a string."""
    if EVENT_SOURCE.upper() != "SNS":
        return event
    message = event["Records"][0]["Sns"]["Message"]
    return json.loads(message)


def event_object(event, event_source="S3"):
    """Return the S3 object an event notification is about."""
    if event_source.upper() == "SNS":
        event = _unwrap_sns(event)
    records = event["Records"]
    if len(records) == 0:
        raise ValueError("No records found in event")
    record = records[0]

    s3_obj = record["s3"]
    bucket_name = s3_obj["bucket"]["name"]
    key_name = urllib.parse.unquote_plus(s3_obj["object"]["key"])
    if not bucket_name:
        raise ValueError("No bucket found in event")
    if not key_name:
        raise ValueError("No key found in event")
    return s3.Object(bucket_name, key_name)


def object_too_big(s3_object):
    """Objects larger than the limit are tagged as skipped, not scanned."""
    return s3_object.content_length > MAX_SIZE_BYTES


def local_path(s3_object):
    """Where the object is downloaded to before the scan."""
    return os.path.join(WORK_DIR, s3_object.bucket_name, s3_object.key)


def download(s3_object):
    path = local_path(s3_object)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s3_object.download_file(path)
    return path


def remove(path):
    try:
        os.remove(path)
    except OSError:
        logger.warning("could not remove %s", path)


def scan_file(path):
    """Run the scanner on one file; return (status, signature)."""
    started = time.monotonic()
    result = subprocess.run(
        [SCANNER_PATH, "--stdout", "-d", DEFINITIONS_PATH, path],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    logger.info(
        "scanned %s in %.2fs with exit code %s", path, elapsed, result.returncode
    )
    if result.returncode == 0:
        return STATUS_CLEAN, None
    if result.returncode == 1:
        return STATUS_INFECTED, _signature(result.stdout, path)
    raise ScanError(f"scanner failed with exit code {result.returncode}")


def _signature(output, path):
    """Pick the signature name out of the scanner's report line for a file."""
    prefix = f"{path}: "
    for line in output.splitlines():
        if line.startswith(prefix) and line.endswith(" FOUND"):
            return line[len(prefix) : -len(" FOUND")]
    return "unknown"


def current_tags(s3_object):
    response = s3_client.get_object_tagging(
        Bucket=s3_object.bucket_name, Key=s3_object.key
    )
    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}


def set_status_tag(s3_object, status, timestamp):
    """Tag the object with the verdict, keeping its other tags."""
    tags = current_tags(s3_object)
    tags[TAG_KEY] = status
    tags[TAG_TIMESTAMP_KEY] = timestamp
    s3_client.put_object_tagging(
        Bucket=s3_object.bucket_name,
        Key=s3_object.key,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
    )


def publish_result(s3_object, status, signature, timestamp):
    """Tell subscribers about infected objects when a topic is configured."""
    topic = os.getenv("RESULT_TOPIC_ARN")
    if not topic or status != STATUS_INFECTED:
        return
    message = {
        "bucket": s3_object.bucket_name,
        "key": s3_object.key,
        "status": status,
        "signature": signature,
        "timestamp": timestamp,
    }
    sns_client.publish(
        TargetArn=topic,
        Message=json.dumps({"default": json.dumps(message)}),
        MessageStructure="json",
    )


def delete_infected(s3_object, status):
    """Delete infected objects when the deployment asks for it."""
    if status != STATUS_INFECTED:
        return False
    if os.getenv("DELETE_INFECTED", "false").lower() != "true":
        return False
    s3_object.delete()
    logger.info(
        "deleted infected object s3://%s/%s", s3_object.bucket_name, s3_object.key
    )
    return True


def is_scannable_key(key):
    """Folders and the scanner's own marker files are never scanned."""
    if key.endswith("/"):
        return False
    name = key.rsplit("/", 1)[-1]
    return not name.startswith(".scan-")


def timestamp_now():
    return time.strftime("%Y/%m/%d %H:%M:%S UTC", time.gmtime())


def verdict(s3_object):
    """Scan one object and return (status, signature)."""
    if object_too_big(s3_object):
        logger.info(
            "skipping s3://%s/%s: too big", s3_object.bucket_name, s3_object.key
        )
        return STATUS_SKIPPED, None
    path = download(s3_object)
    try:
        return scan_file(path)
    finally:
        remove(path)


def metrics(status, started):
    """One log line the metric filter turns into scan counts and durations."""
    logger.info(
        json.dumps(
            {
                "metric": "scan",
                "status": status,
                "ms": round((time.monotonic() - started) * 1000),
            }
        )
    )


def describe(s3_object):
    """The object's S3 URL, for log lines."""
    return f"s3://{s3_object.bucket_name}/{s3_object.key}"


def lambda_handler(event, context):
    """Entry point: scan the object the event names and record the verdict."""
    started = time.monotonic()
    logger.info("request id %s", getattr(context, "aws_request_id", "-"))
    s3_object = event_object(event, event_source=EVENT_SOURCE)
    logger.info("scanning %s", describe(s3_object))
    status, signature = verdict(s3_object)
    timestamp = timestamp_now()
    set_status_tag(s3_object, status, timestamp)
    publish_result(s3_object, status, signature, timestamp)
    delete_infected(s3_object, status)
    metrics(status, started)
    return {"status": status, "signature": signature}
