"""template.yaml: cfn-lint clean, the expected shape, the packaging, the pattern."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

cfnlint_api = pytest.importorskip("cfnlint.api")
cfnlint_decode = pytest.importorskip("cfnlint.decode")

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
MAKEFILE = ROOT / "packaging" / "forwarder" / "Makefile"


def _lint(text: str) -> list:
    return cfnlint_api.lint(text, regions=["us-east-1"])


def _with_log_groups(text: str, names: str) -> str:
    """Give LogGroupNames a default, so cfn-lint expands the Fn::ForEach."""
    marker = "    Type: CommaDelimitedList\n"
    assert marker in text
    return text.replace(marker, f"{marker}    Default: {names}\n", 1)


@pytest.fixture(scope="module")
def text() -> str:
    return TEMPLATE.read_text()


@pytest.fixture(scope="module")
def template(text: str) -> dict:
    decoded, errors = cfnlint_decode.decode_str(text)
    assert not errors
    return decoded


def test_cfn_lint_passes(text: str) -> None:
    assert [str(m) for m in _lint(text)] == []


def test_cfn_lint_passes_with_the_loop_expanded(text: str) -> None:
    expanded = _with_log_groups(text, "/aws/lambda/orders,/ecs/api-web,app.log#1")
    assert [str(m) for m in _lint(expanded)] == []


def test_cfn_lint_would_catch_a_broken_template(text: str) -> None:
    broken = text.replace("Runtime: python3.12", "Runtime: python2.7").replace(
        "Resource: !GetAtt DeadLetterQueue.Arn", "Resource: !GetAtt Nope.Arn"
    )
    rules = {m.rule.id for m in _lint(broken)}
    assert {"E2533", "E1010"} <= rules


def test_transforms_in_order(template: dict) -> None:
    assert template["Transform"] == [
        "AWS::LanguageExtensions",
        "AWS::Serverless-2016-10-31",
    ]


def test_parameters(template: dict) -> None:
    params = template["Parameters"]
    assert {
        "BotUrl",
        "ForwarderKeyId",
        "ForwarderSecretArn",
        "LogGroupNames",
        "FilterPattern",
    } <= set(params)
    assert params["LogGroupNames"]["Type"] == "CommaDelimitedList"
    assert len(params["FilterPattern"]["Default"]) <= 1024


def test_function(template: dict) -> None:
    function = template["Resources"]["ForwarderFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "lambda_forwarder.handler.handler"
    assert props["MemorySize"] <= 512
    assert 30 <= props["Timeout"] <= 120
    assert set(props["Environment"]["Variables"]) == {
        "BOT_URL",
        "FORWARDER_KEY_ID",
        "FORWARDER_SECRET_ARN",
    }
    assert function["Metadata"]["BuildMethod"] == "makefile"
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "ForwarderLogGroup"}


def test_failed_batches_go_to_an_alarmed_queue(template: dict) -> None:
    resources = template["Resources"]
    invoke = resources["ForwarderFunction"]["Properties"]["EventInvokeConfig"]
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    on_failure = invoke["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert resources["DeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    alarm = resources["DeadLetterAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Properties"]["Namespace"] == "AWS/SQS"
    [dimension] = alarm["Properties"]["Dimensions"]
    assert dimension["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}


def test_own_log_group_has_retention(template: dict) -> None:
    group = template["Resources"]["ForwarderLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] > 0


def test_role_is_least_privilege(template: dict) -> None:
    role = template["Resources"]["ForwarderRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    [policy] = role["Policies"]
    by_action = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert "*" not in action
            by_action[action] = statement["Resource"]
    assert by_action["secretsmanager:GetSecretValue"] == {"Ref": "ForwarderSecretArn"}
    assert by_action["sqs:SendMessage"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert by_action["logs:PutLogEvents"] == {
        "Fn::GetAtt": ["ForwarderLogGroup", "Arn"]
    }
    assert set(by_action) == {
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_one_subscription_and_permission_per_log_group(template: dict) -> None:
    loop = template["Resources"]["Fn::ForEach::LogGroupSubscriptions"]
    identifier, collection, fragment = loop
    assert collection == {"Ref": "LogGroupNames"}
    # &{} strips the "/" of log group names, which logical ids may not hold.
    permission = fragment[f"InvokePermission&{{{identifier}}}"]
    subscription = fragment[f"Subscription&{{{identifier}}}"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    props = permission["Properties"]
    assert props["Principal"] == "logs.amazonaws.com"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "log-group:${" + identifier + "}:*" in props["SourceArn"]["Fn::Sub"]
    assert subscription["Type"] == "AWS::Logs::SubscriptionFilter"
    assert subscription["DependsOn"] == f"InvokePermission&{{{identifier}}}"
    sub = subscription["Properties"]
    assert sub["LogGroupName"] == {"Ref": identifier}
    assert sub["FilterPattern"] == {"Ref": "FilterPattern"}
    assert sub["DestinationArn"] == {"Fn::GetAtt": ["ForwarderFunction", "Arn"]}


# -- the default filter pattern ---------------------------------------------
# CloudWatch runs its own regex engine; Python's `re` stands in for it here,
# which holds for the plain alternatives, classes and anchors used.


@pytest.fixture(scope="module")
def pattern(template: dict) -> re.Pattern[str]:
    default = template["Parameters"]["FilterPattern"]["Default"]
    assert default.startswith("%") and default.endswith("%")
    body = default[1:-1]
    # What CloudWatch accepts in a regex pattern: no spaces, quotes, parens.
    assert re.fullmatch(r"[A-Za-z0-9_#=@/;,\-^$?\[\]{}|\\*+.]+", body), body
    return re.compile(body)


def _rendered(exc: BaseException) -> list[str]:
    return "".join(traceback.format_exception(exc)).splitlines()


def _raise_chained() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("lookup failed") from exc


def _raise_during_handling() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        int("x")


def _recurse(n: int) -> int:
    return _recurse(n + 1) + 1


def _exceptions() -> list[BaseException]:
    found: list[BaseException] = []
    for thrower in (_raise_chained, _raise_during_handling, lambda: _recurse(0)):
        try:
            thrower()
        except (RuntimeError, ValueError, RecursionError) as exc:
            found.append(exc)
    group = ExceptionGroup("two", [ValueError("a"), TypeError("b")])
    try:
        raise group
    except ExceptionGroup as exc:
        found.append(exc)
    try:
        compile("def f(:\n  pass", "app/bad.py", "exec")
    except SyntaxError as exc:
        found.append(exc)
    return found


@pytest.mark.parametrize("exc", _exceptions(), ids=lambda e: type(e).__name__)
def test_every_line_of_a_split_traceback_is_forwarded(
    pattern: re.Pattern[str], exc: BaseException
) -> None:
    lines = [line for line in _rendered(exc) if line.strip()]
    missed = [line for line in lines if not pattern.search(line)]
    assert missed == []


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"INFO","message":"order 12 stored"}',
        "START RequestId: 6234bffe-149a Version: $LATEST",
        "END RequestId: 6234bffe-149a",
        "REPORT RequestId: 6234bffe-149a\tDuration: 46.84 ms\tBilled Duration: 47 ms",
        "[INFO]\t2024-01-31T22:12:58.534Z\t6234bffe\tstored order 12",
        "2024-01-31 22:12:58,534 INFO app.orders stored order 12",
        "GET /health 200 1.2ms",
    ],
)
def test_ordinary_lines_are_not_forwarded(pattern: re.Pattern[str], line: str) -> None:
    assert not pattern.search(line)


def test_lambda_error_events_are_forwarded(pattern: re.Pattern[str]) -> None:
    assert pattern.search("[ERROR] KeyError: 'action'\nTraceback (most recent ...")
    assert pattern.search('{"errorType":"KeyError","stackTrace":["  File ..."]}')


# -- packaging ----------------------------------------------------------------


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = tmp_path_factory.mktemp("artifact")
    subprocess.run(
        ["make", "--makefile", str(MAKEFILE), "build-ForwarderFunction"],
        cwd=ROOT,
        env={"ARTIFACTS_DIR": str(out), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    return out


def test_artifact_holds_only_the_forwarder_and_the_parser(artifact: Path) -> None:
    top = sorted(p.name for p in artifact.iterdir())
    assert top == ["bot", "lambda_forwarder"]
    assert sorted(p.name for p in (artifact / "bot").iterdir()) == [
        "__init__.py",
        "tracebacks",
    ]
    # Bytecode only for the runtime's Python: any other would be dead weight.
    assert all(p.name.endswith(".cpython-312.pyc") for p in artifact.rglob("*.pyc"))
    assert (artifact / "lambda_forwarder" / "handler.py").is_file()


def test_artifact_imports_without_site_packages(artifact: Path) -> None:
    # -S -I: no site-packages, as if only the artifact and the stdlib existed.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import lambda_forwarder.handler as h;"
        "assert callable(h.handler);"
        "bad = {m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore',"
        " 'aiohttp', 'yaml', 'jwt'}; assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(artifact)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
