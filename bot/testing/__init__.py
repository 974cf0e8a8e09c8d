"""Local stand-ins for GitHub and Amazon Bedrock that follow the published contracts.

See ``bot.testing.github.FakeGitHub``, ``bot.testing.bedrock.FakeBedrock`` and
``bot.testing.webhooks``; contract files come from ``scripts/fetch-contracts``.
"""
